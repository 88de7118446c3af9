"""The GitHub workflows only call nox sessions, with arguments those sessions accept."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from pipeline_tools import plan as planning
from pipeline_tools.deploy import DeployRequest
from pipeline_tools.images import parse_build_arguments

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PIPELINE = "rj_sme__escolas"
# Values a run step's variables take in these tests: an input of a manual run, a matrix entry.
SAMPLE_VALUES = {"PIPELINE": PIPELINE, "NAMES": PIPELINE, "ALL": "false", "DRY_RUN": "true"}
SETUP_SCRIPTS = {"scripts/docker-engine.sh"}
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOWS:
        for job_name, job in load(path)["jobs"].items():
            for step in job["steps"]:
                yield path.name, job_name, step


def nox_calls() -> list[tuple[str, list[str]]]:
    """(session, arguments) of every `uv run nox -s` step, its variables given sample values."""
    calls = []
    for _, _, step in steps():
        if "run" not in step or "nox" not in step["run"]:
            continue
        words = shlex.split(re.sub(r"\$(\w+)", lambda m: SAMPLE_VALUES[m[1]], step["run"]))
        assert words[:5] == ["uv", "run", "nox", "-s", words[4]], step["run"]
        arguments = words[6:] if words[5:6] == ["--"] else []
        assert len(words) == 5 + (len(arguments) + 1 if arguments else 0), step["run"]
        calls.append((words[4], arguments))
    return calls


def listed_sessions(names: set[str]) -> set[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV"}}
    listing = subprocess.run(
        ["uv", "run", "--quiet", "nox", "-l", "--json", "-s", *sorted(names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    )
    return {entry["session"] for entry in json.loads(listing.stdout)}


def test_there_are_the_four_workflows() -> None:
    assert [path.name for path in WORKFLOWS] == [
        "base-image.yml",
        "checks.yml",
        "deploy-prod.yml",
        "deploy-staging.yml",
    ]


def test_every_run_step_is_a_nox_session_or_a_setup_script() -> None:
    for workflow, job, step in steps():
        if "run" in step:
            command = step["run"].strip()
            is_setup = command.split()[-1] in SETUP_SCRIPTS and "\n" not in command
            assert command.startswith("uv run nox -s ") or is_setup, (workflow, job, command)


def test_every_session_the_workflows_call_exists() -> None:
    sessions = {session for session, _ in nox_calls()}

    assert listed_sessions(sessions) == sessions


def test_every_session_accepts_the_arguments_the_workflows_pass() -> None:
    for session, arguments in nox_calls():
        if session.startswith("deploy-"):
            request = DeployRequest.from_arguments(session.removeprefix("deploy-"), arguments)
            assert request.environment == session.removeprefix("deploy-")
        elif session == "plan":
            assert planning.parse_arguments(arguments).output == "matrix"
        elif session == "build-base":
            assert parse_build_arguments(arguments).push is True
        else:
            assert arguments == [], (session, arguments)


def test_manual_inputs_reach_the_deploy_session() -> None:
    step = next(s for w, _, s in steps() if w == "deploy-prod.yml" and "run" in s)
    values = {"NAMES": "rj_a__x rj_b__y", "ALL": "", "DRY_RUN": "true"}
    words = shlex.split(re.sub(r"\$(\w+)", lambda m: values[m[1]], step["run"]))

    request = DeployRequest.from_arguments("prod", words[6:])

    assert request.names == ("rj_a__x", "rj_b__y")
    assert (request.all_pipelines, request.dry_run) == (False, True)


def test_the_matrix_job_reads_exactly_what_the_plan_session_prints(
    repo_copy: Path, tmp_path: Path
) -> None:
    checks = load(ROOT / ".github" / "workflows" / "checks.yml")["jobs"]
    plan_step = next(step for step in checks["plan"]["steps"] if step.get("id") == "plan")
    github_output = tmp_path / "github_output"
    environ = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    environ["GITHUB_OUTPUT"] = str(github_output)

    printed = subprocess.run(
        [*shlex.split(plan_step["run"]), "--all"],
        cwd=repo_copy,
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    ).stdout

    assert checks["plan"]["outputs"]["matrix"] == "${{ steps.plan.outputs.matrix }}"
    assert checks["pipeline"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert github_output.read_text() == f"matrix={printed.strip()}\n"
    assert PIPELINE in json.loads(printed)["pipeline"]


@pytest.mark.parametrize("workflow", ["deploy-staging.yml", "deploy-prod.yml", "base-image.yml"])
def test_deploy_jobs_never_run_twice_for_one_environment(workflow: str) -> None:
    for job in load(ROOT / ".github" / "workflows" / workflow)["jobs"].values():
        command = " ".join(step.get("run", "") for step in job["steps"])
        for environment in ("staging", "prod"):
            if f"deploy-{environment}" in command:
                assert job["concurrency"] == {
                    "group": f"deploy-{environment}",
                    "cancel-in-progress": False,
                }
                assert job["environment"] == environment


def test_actions_are_pinned_and_permissions_are_least() -> None:
    for path in WORKFLOWS:
        document = load(path)
        assert document["permissions"] == {}
        for job in document["jobs"].values():
            assert job["permissions"] == {"contents": "read"}
            for step in job["steps"]:
                assert "uses" not in step or PINNED.match(step["uses"]), step["uses"]
