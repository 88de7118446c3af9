"""The lint session: output, formats, exit status, selection, and the real repository."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, git
from lint_corpus import (
    CASES,
    DOCKER,
    FOLDER,
    NAME,
    Repo,
    add_pipeline,
    build_workspace,
    in_prod,
)

from pipeline_tools.checks import RULES, run_checks
from pipeline_tools.checks.core import Finding, Severity
from pipeline_tools.errors import ExitCode, ToolError, UnknownPipelineError
from pipeline_tools.lint import annotation, parse_arguments
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import discover

EXAMPLES = (
    "rj_smas__cadastro_unico",
    "rj_sme__escolas",
    "rj_smtr__gps_onibus",
    "rj_smtr__gps_relatorio",
)


def test_the_corpus_is_large_and_covers_every_family() -> None:
    families = {case.rule.split("-")[0].rstrip("0123456789") for case in CASES}

    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    assert families >= {
        "PF", "ENV", "NAME", "PARAM", "DOCKER", "HADOLINT", "HYG", "SECRETS", "RUFF",
        "DEPTRY", "LOCK", "ACTIONLINT", "ZIZMOR", "LINT",
    }  # fmt: skip


def test_the_clean_corpus_has_no_finding(lint_repo: Repo) -> None:
    run = lint_repo.lint()

    assert run.code is ExitCode.OK
    assert run.out.startswith("lint: no findings in 1 pipeline (")


def test_a_pipeline_made_from_the_template_lints_clean(tmp_path: Path) -> None:
    def render(root: Path) -> None:
        from cookiecutter.main import cookiecutter  # noqa: PLC0415 - only this test renders

        context = {"secretaria": "teste", "pipeline": "modelo"}
        cookiecutter(
            str(ROOT / "templates"),
            no_input=True,
            output_dir=str(root / "pipelines"),
            extra_context=context,
        )

    repo = Repo(build_workspace(tmp_path / "repo", render))

    run = repo.lint()

    assert run.code is ExitCode.OK, run.out
    assert "no findings" in run.out


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_pipeline_lints_clean(name: str) -> None:
    workspace = discover(load_settings(ROOT, environ={}))

    findings = run_checks(workspace, [name], reporter=Reporter(io.StringIO(), io.StringIO()))

    assert [f"{f.path}:{f.line}: {f.rule} {f.message}" for f in findings] == []


def test_findings_are_grouped_by_pipeline_sorted_and_counted(lint_repo: Repo) -> None:
    add_pipeline("rj_teste__outro")(lint_repo)
    in_prod("    schedules:\n", "    schedule:\n")(lint_repo)
    lint_repo.replace(DOCKER, "uv sync --frozen", "uv sync")
    lint_repo.replace(
        "pipelines/rj_teste__outro/flow.py",
        "    return limit\n",
        "    breakpoint()\n    return limit\n",
    )

    run = lint_repo.lint("--no-external")

    lines = run.out.splitlines()
    assert lines[0] == "--- rj_teste__corpus"
    assert [line.split(" ")[1] for line in lines[1:3]] == ["DOCKER005", "PF006"]
    assert lines[3] == "--- rj_teste__outro"
    assert lines[4].startswith("pipelines/rj_teste__outro/flow.py:")
    assert lines[4].split(" ")[1] == "HYG001"
    assert lines[5].startswith("lint: 3 errors, 0 warnings in 2 of 2 pipelines (")
    assert run.code is ExitCode.FAILED


def test_a_finding_line_is_path_line_column_rule_message(lint_repo: Repo) -> None:
    lint_repo.replace(DOCKER, "uv sync --frozen", "uv sync")

    [line] = lint_repo.lint("--no-external").lines_with("DOCKER005")

    assert line.startswith(f"{FOLDER}/Dockerfile:6:5: DOCKER005 uv sync without --frozen")


def test_warnings_alone_do_not_fail(lint_repo: Repo) -> None:
    lint_repo.replace(
        DOCKER, "\nCOPY pyproject.toml", "\nRUN echo one\nRUN echo two\nCOPY pyproject.toml"
    )

    run = lint_repo.lint()

    assert run.lines_with("HADOLINT-DL3059"), run.out
    assert "0 errors, 1 warning" in run.out.splitlines()[-1]
    assert run.code is ExitCode.OK


def test_json_output_for_machines(lint_repo: Repo) -> None:
    in_prod("    schedules:\n", "    schedule:\n")(lint_repo)

    run = lint_repo.lint("--format", "json", "--no-external")

    report = json.loads(run.out)
    assert report["errors"] == 1
    assert report["pipelines_checked"] == 1
    [finding] = report["findings"]
    assert finding["rule"] == "PF006"
    assert finding["severity"] == "error"
    assert finding["path"] == f"{FOLDER}/prefect.yaml"
    assert finding["pipeline"] == NAME
    assert run.code is ExitCode.FAILED


def test_github_annotations_under_github_actions(lint_repo: Repo, tmp_path: Path) -> None:
    in_prod("    schedules:\n", "    schedule:\n")(lint_repo)
    summary = tmp_path / "summary.md"
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}

    run = lint_repo.lint("--no-external", environ=environ)

    [line] = [line for line in run.out.splitlines() if line.startswith("::")]
    assert line.startswith(f"::error file={FOLDER}/prefect.yaml,line=")
    assert ",title=PF006::unknown key 'schedule'" in line
    assert run.lines_with("PF006")  # the plain lines are printed too
    assert f"| {NAME} | 1 | 0 |" in summary.read_text("utf-8")


def test_annotations_escape_what_github_would_read_as_syntax() -> None:
    finding = Finding("X001", Severity.WARNING, "a,b:c.yaml", 3, 4, "50% done\nnext: line")

    assert annotation(finding) == (
        "::warning file=a%2Cb%3Ac.yaml,line=3,col=4,title=X001::50%25 done%0Anext: line"
    )


def test_the_rules_are_listed_with_severity_and_silence(lint_repo: Repo) -> None:
    run = lint_repo.lint("--rules")

    listed = {line.split()[0] for line in run.out.splitlines()[2:] if line[:1].isupper()}
    assert set(RULES) <= listed
    assert re.search(r"^PF006 +error +line, pipeline +a deployment has a key", run.out, re.M)
    assert "# lint: ignore[ID] reason" in run.out
    assert 'ignore = [{ rule = "ID", reason = "..." }]' in run.out
    assert run.code is ExitCode.OK


def test_every_rule_has_a_stable_id_and_one_line_description() -> None:
    for rule_id, rule in RULES.items():
        assert rule_id == rule.id
        assert rule.summary and "\n" not in rule.summary
        assert len(rule.summary) <= 100


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--fromat", "json"], "did you mean --format?"),
        (["--format", "xml"], "--format takes one of text, json, github"),
        (["--format"], "--format takes one of"),
        (["-x"], "usage: nox -s lint"),
    ],
)
def test_bad_arguments_are_one_sentence(arguments: list[str], message: str) -> None:
    with pytest.raises(ToolError, match=message.replace("-", r"\-").replace(".", r"\.")):
        parse_arguments(arguments)


def test_an_unknown_pipeline_is_named_with_the_closest(lint_repo: Repo) -> None:
    with pytest.raises(UnknownPipelineError, match=r"rj_teste__corpos.*rj_teste__corpus"):
        lint_repo.lint("rj_teste__corpos")


def test_naming_pipelines_keeps_the_repository_checks_that_concern_them(lint_repo: Repo) -> None:
    add_pipeline("rj_teste__outro")(lint_repo)  # not locked: the lock is stale for everyone
    lint_repo.write(".github/workflows/bad.yml", "on: push\njobs: {}\n")
    lint_repo.replace(
        "pipelines/rj_teste__outro/flow.py",
        "    return limit\n",
        "    breakpoint()\n    return limit\n",
    )

    run = lint_repo.lint(NAME)

    assert run.lines_with("LOCK001")
    assert not run.lines_with("HYG001")  # the other pipeline is not under check
    assert not [line for line in run.out.splitlines() if "ACTIONLINT" in line or "ZIZMOR" in line]
    assert run.out.splitlines()[-1].startswith("lint: 1 error, 0 warnings in 0 of 1 pipeline")


def nox(repo: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run nox on `repo`'s noxfile with this environment's tools, as `uv run nox` would."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    environ.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(repo / "noxfile.py"), *arguments],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_sessions_through_nox(repo_copy: Path) -> None:
    one = nox(repo_copy, "-s", "lint(rj_smas__cadastro_unico)", "--", "--no-external")
    listing = nox(repo_copy, "-l")
    prefect = repo_copy / "pipelines/rj_smas__cadastro_unico/prefect.yaml"
    prefect.write_text(
        prefect.read_text("utf-8").replace("schedules:\n      - cron", "schedule:\n      - cron"),
        "utf-8",
    )
    broken = nox(repo_copy, "-s", "lint", "--", "rj_smas__cadastro_unico", "--format", "json")

    assert one.returncode == 0, one.stdout + one.stderr
    assert "lint: no findings in 1 pipeline" in one.stdout
    assert "lint(rj_smas__cadastro_unico)" in listing.stdout
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert "PF006" in {finding["rule"] for finding in report["findings"]}
    assert "Traceback" not in broken.stdout + broken.stderr


def test_bad_input_through_nox_is_one_sentence(repo_copy: Path) -> None:
    hostile = repo_copy / "pipelines" / "rj_x__$(touch pwned) 'q'"
    hostile.mkdir()
    (hostile / "pyproject.toml").write_text('[project]\nname = "hostile"\n', "utf-8")
    (hostile / "prefect.yaml").write_text("deployments:\n  - name: [\n", "utf-8")
    git(repo_copy, "add", "--all")

    run = nox(repo_copy, "-s", "lint", "--", "rj_x__$(touch pwned) 'q'", "--no-external")
    wrong = nox(repo_copy, "-s", "lint", "--", "--fromat", "json")

    assert run.returncode == 1
    assert "NAME001" in run.stdout
    assert "PF002" in run.stdout
    assert not list(repo_copy.rglob("pwned"))
    assert wrong.returncode == 1
    assert "did you mean --format?" in wrong.stderr
    assert "Traceback" not in run.stdout + run.stderr + wrong.stdout + wrong.stderr
