"""Plans of each environment, their JSON document and the plan session, on real git histories.

The seed workspace is described in tests/conftest.py: rj_smtr__gps_onibus declares two
deployments per environment, rj_smtr__gps_relatorio imports it, rj_smtr__painel depends on
rj_smtr__gps_relatorio.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from conftest import ROOT, PlanSeed, commit_files, git

from pipeline_tools.changes import GitError, Purpose, Reason
from pipeline_tools.errors import ConfigError, ExitCode, ToolError, UnknownPipelineError
from pipeline_tools.plan import (
    LastDeployed,
    Plan,
    PlannedDeployment,
    PlannedImage,
    RemovedDeployment,
    make_plan,
    plan_to_json,
    show_plan,
)
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings, load_settings
from pipeline_tools.workspace import Workspace, discover

ONIBUS = "rj_smtr__gps_onibus"
RELATORIO = "rj_smtr__gps_relatorio"
PAINEL = "rj_smtr__painel"
PLANILHAS = "rj_sme__planilhas"
CADASTRO = "rj_smas__cadastro"
GEO = f"pipelines/{ONIBUS}/utils/geo.py"
QUERY = f"pipelines/{PLANILHAS}/queries/escolas.sql"


def quiet() -> Reporter:
    return Reporter(out=io.StringIO(), err=io.StringIO())


def workspace_of(repo: Path) -> Workspace:
    return discover(load_settings(repo, environ={}))


def plan_of(
    repo: Path,
    environment: str = "staging",
    *,
    names: Sequence[str] = (),
    all_pipelines: bool = False,
    purpose: Purpose = "deploy",
    last_deployed: LastDeployed | None = None,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """make_plan as the deploy step calls it; outside any pull request unless `environ` says."""
    return make_plan(
        workspace_of(repo),
        environment=environment,
        names=names,
        all_pipelines=all_pipelines,
        purpose=purpose,
        last_deployed=last_deployed,
        reporter=quiet(),
        environ=environ or {},
    )


def change_geo(repo: Path) -> str:
    return commit_files(repo, "geo", {GEO: (repo / GEO).read_text() + "# in km\n"})


def deployment(name: str, index: int, pipeline: str, environment: str) -> PlannedDeployment:
    prefect_file = Path(f"pipelines/{pipeline}/prefect.yaml")
    return PlannedDeployment(pipeline, name, environment, prefect_file, index)


def relative(plan: Plan) -> list[PlannedDeployment]:
    """The plan's deployments with their prefect.yaml relative to the repository."""
    return [
        PlannedDeployment(
            d.pipeline,
            d.name,
            d.environment,
            d.prefect_file.relative_to(plan.root),
            d.index,
            d.derived_from,
        )
        for d in plan.deployments
    ]


def test_every_deployment_of_the_environment_is_planned(plan_repo: Path) -> None:
    change_geo(plan_repo)

    staging = plan_of(plan_repo, "staging")
    prod = plan_of(plan_repo, "prod")

    assert [pipeline.name for pipeline in staging.pipelines] == [ONIBUS, RELATORIO, PAINEL]
    assert staging.pipelines[0].reasons == (Reason("file", GEO, "modified"),)
    assert relative(staging) == [
        deployment("rj-smtr--gps-onibus-sppo--staging", 0, ONIBUS, "staging"),
        deployment("rj-smtr--gps-onibus-brt--staging", 1, ONIBUS, "staging"),
        deployment("rj-smtr--gps-relatorio--staging", 0, RELATORIO, "staging"),
        deployment("rj-smtr--painel--staging", 0, PAINEL, "staging"),
    ]
    assert [d.name for d in prod.deployments[:2]] == [
        "rj-smtr--gps-onibus-sppo--prod",
        "rj-smtr--gps-onibus-brt--prod",
    ]
    assert [d.index for d in prod.deployments[:2]] == [2, 3]
    assert staging.images == tuple(
        PlannedImage(name, plan_repo / "pipelines" / name / "Dockerfile")
        for name in (ONIBUS, RELATORIO, PAINEL)
    )


def test_local_derives_one_deployment_per_staging_one_and_builds_no_image(plan_repo: Path) -> None:
    change_geo(plan_repo)

    local = plan_of(plan_repo, "local")

    assert [(d.name, d.derived_from, d.index) for d in local.deployments[:2]] == [
        ("rj-smtr--gps-onibus-sppo--local", "rj-smtr--gps-onibus-sppo--staging", 0),
        ("rj-smtr--gps-onibus-brt--local", "rj-smtr--gps-onibus-brt--staging", 1),
    ]
    assert {d.environment for d in local.deployments} == {"local"}
    assert len(local.deployments) == 4
    assert local.images == ()


def test_a_deleted_pipeline_leaves_its_deployments_for_an_explicit_prune(plan_repo: Path) -> None:
    commit_files(plan_repo, "drop", {f"pipelines/{CADASTRO}": None})

    prod = plan_of(plan_repo, "prod")
    local = plan_of(plan_repo, "local")

    assert prod.pipelines == ()
    assert prod.deployments == ()
    assert prod.deleted == (CADASTRO,)
    assert prod.removed == (RemovedDeployment(CADASTRO, "rj-smas--cadastro--prod", "prod", True),)
    assert local.removed == (
        RemovedDeployment(CADASTRO, "rj-smas--cadastro--local", "local", True),
    )


def test_a_removed_deployment_entry_is_listed_for_an_explicit_prune(plan_repo: Path) -> None:
    prefect_yaml = plan_repo / "pipelines" / ONIBUS / "prefect.yaml"
    head, *entries = prefect_yaml.read_text().split("  - name: ")
    kept = [entry for entry in entries if "-brt--staging" not in entry]
    commit_files(
        plan_repo,
        "drop brt staging",
        {prefect_yaml.relative_to(plan_repo).as_posix(): "  - name: ".join([head, *kept])},
    )

    staging = plan_of(plan_repo, "staging")

    assert [d.name for d in staging.deployments if d.pipeline == ONIBUS] == [
        "rj-smtr--gps-onibus-sppo--staging"
    ]
    assert staging.removed == (
        RemovedDeployment(ONIBUS, "rj-smtr--gps-onibus-brt--staging", "staging", False),
    )
    assert plan_of(plan_repo, "prod").removed == ()


def test_named_pipelines_and_all_are_planned_without_comparing(plan_repo: Path) -> None:
    change_geo(plan_repo)
    head = git(plan_repo, "rev-parse", "HEAD").strip()

    named = plan_of(plan_repo, names=[PAINEL])
    every = plan_of(plan_repo, all_pipelines=True)

    assert named.selection == "named"
    assert [(p.name, p.reasons) for p in named.pipelines] == [(PAINEL, (Reason("named"),))]
    assert (named.base, named.head) == (None, head)
    assert [d.name for d in named.deployments] == ["rj-smtr--painel--staging"]
    assert every.selection == "all"
    assert len(every.pipelines) == 5
    assert len(every.deployments) == 6


def test_named_pipelines_can_be_planned_outside_git(plan_seed: PlanSeed) -> None:
    plan = plan_of(plan_seed.folder, "prod", names=[CADASTRO])

    assert plan.head is None
    assert [d.name for d in plan.deployments] == ["rj-smas--cadastro--prod"]


def test_bad_environment_and_pipeline_names_are_one_clear_sentence(plan_repo: Path) -> None:
    with pytest.raises(ConfigError, match="unknown environment 'prd' for --env; did you mean prod"):
        plan_of(plan_repo, "prd")
    with pytest.raises(UnknownPipelineError, match=r"'rj_smtr__painell'.* rj_smtr__painel"):
        plan_of(plan_repo, names=["rj_smtr__painell"])


def test_the_last_deploy_of_the_environment_is_the_default_base(plan_repo: Path) -> None:
    deployed = git(plan_repo, "rev-parse", "HEAD").strip()
    commit_files(plan_repo, "query", {QUERY: "select 2\n"})
    change_geo(plan_repo)
    asked: list[tuple[Path, str]] = []

    def last_deployed(settings: Settings, environment: str) -> str | None:
        asked.append((settings.root, environment))
        return deployed

    plan = plan_of(plan_repo, "prod", last_deployed=last_deployed)

    assert asked == [(plan_repo, "prod")]
    assert plan.base == deployed
    assert plan.base_source == "last deploy to prod"
    assert [p.name for p in plan.pipelines] == [PLANILHAS, ONIBUS, RELATORIO, PAINEL]


def test_without_a_known_deploy_the_default_base_is_the_previous_commit(plan_repo: Path) -> None:
    commit_files(plan_repo, "query", {QUERY: "select 2\n"})
    change_geo(plan_repo)

    plan = plan_of(plan_repo, "prod", last_deployed=lambda settings, environment: None)

    assert plan.base == git(plan_repo, "rev-parse", "HEAD~1").strip()
    assert plan.base_source == "previous commit"
    assert [p.name for p in plan.pipelines] == [ONIBUS, RELATORIO, PAINEL]


def test_in_a_pull_request_the_default_base_is_the_merge_base_with_its_target(
    plan_repo: Path,
) -> None:
    git(plan_repo, "switch", "--quiet", "--create", "feature")
    commit_files(plan_repo, "query", {QUERY: "select 2\n"})
    change_geo(plan_repo)

    plan = plan_of(plan_repo, "staging", environ={"GITHUB_BASE_REF": "main"})
    check = plan_of(plan_repo, "staging", purpose="check")

    expected = [PLANILHAS, ONIBUS, RELATORIO, PAINEL]
    assert [p.name for p in plan.pipelines] == expected
    assert plan.base == git(plan_repo, "rev-parse", "main").strip()
    assert plan.base_source == "merge base with main (pull request target)"
    assert [p.name for p in check.pipelines] == expected
    assert check.purpose == "check"


def test_the_json_document_is_stable_and_relative(plan_repo: Path) -> None:
    change_geo(plan_repo)

    text = plan_to_json(plan_of(plan_repo, "staging"))
    document = json.loads(text)

    assert text == plan_to_json(plan_of(plan_repo, "staging"))
    assert list(document) == [
        "version",
        "environment",
        "purpose",
        "selection",
        "base",
        "head",
        "base_source",
        "pipelines",
        "images",
        "deployments",
        "deleted",
        "removed",
        "notes",
    ]
    assert document["version"] == 1
    assert document["head"] == git(plan_repo, "rev-parse", "HEAD").strip()
    assert document["pipelines"][2] == {
        "name": PAINEL,
        "path": f"pipelines/{PAINEL}",
        "reasons": [
            {
                "kind": "dependency",
                "path": GEO,
                "status": "modified",
                "via": [RELATORIO, ONIBUS],
                "packages": [],
                "text": f"depends on {RELATORIO}, which depends on {ONIBUS} ({GEO} modified)",
            }
        ],
    }
    assert document["images"][0] == {
        "pipeline": ONIBUS,
        "dockerfile": f"pipelines/{ONIBUS}/Dockerfile",
    }
    assert document["deployments"][1] == {
        "pipeline": ONIBUS,
        "name": "rj-smtr--gps-onibus-brt--staging",
        "environment": "staging",
        "prefect_file": f"pipelines/{ONIBUS}/prefect.yaml",
        "index": 1,
        "derived_from": None,
    }


def run_session(workspace: Workspace, *arguments: str) -> tuple[ExitCode, str, str]:
    reporter = quiet()
    code = show_plan(workspace, arguments, reporter, lambda settings, environment: None)
    assert isinstance(reporter.out, io.StringIO)
    assert isinstance(reporter.err, io.StringIO)
    return code, reporter.out.getvalue(), reporter.err.getvalue()


def test_the_table_shows_reasons_images_and_deployments_with_git_on_stderr(
    plan_repo: Path,
) -> None:
    change_geo(plan_repo)

    code, out, err = run_session(workspace_of(plan_repo), "--env", "staging")

    assert code == ExitCode.OK
    assert "pipelines (3)" in out
    assert f"{RELATORIO}  depends on {ONIBUS} ({GEO} modified)" in out
    assert "images to build (3)" in out
    assert "deployments to register (4)" in out
    assert "rj-smtr--gps-onibus-brt--staging" in out
    assert "$ git" not in out
    assert "$ git diff" in err


def test_the_matrix_lists_affected_pipelines_for_checks(plan_repo: Path) -> None:
    test_file = f"pipelines/{ONIBUS}/tests/test_flow.py"
    commit_files(plan_repo, "tests", {test_file: (plan_repo / test_file).read_text() + "# more\n"})

    _, check, _ = run_session(workspace_of(plan_repo), "--matrix", "--check")
    _, deploy, _ = run_session(workspace_of(plan_repo), "--matrix")

    assert check == '{"pipeline":["rj_smtr__gps_onibus"]}\n'
    assert deploy == '{"pipeline":[]}\n'


def test_the_graph_is_written_as_mermaid_or_dot(plan_repo: Path, tmp_path: Path) -> None:
    change_geo(plan_repo)
    workspace = workspace_of(plan_repo)

    run_session(workspace, "--graph", str(tmp_path / "graph.mmd"))
    run_session(workspace, "--graph", str(tmp_path / "graph.dot"))

    mermaid = (tmp_path / "graph.mmd").read_text()
    assert mermaid.startswith("graph LR\n")
    assert f"    {PAINEL} --> {RELATORIO}\n" in mermaid
    assert f"    class {ONIBUS},{RELATORIO},{PAINEL} affected\n" in mermaid
    dot = (tmp_path / "graph.dot").read_text()
    assert f'"{RELATORIO}" -> "{ONIBUS}";' in dot
    assert f'"{PAINEL}" [style=filled' in dot
    assert f'"{CADASTRO}";' in dot


def test_bad_arguments_are_one_clear_sentence(plan_repo: Path) -> None:
    workspace = workspace_of(plan_repo)

    with pytest.raises(ToolError, match="name pipelines or pass --all, not both"):
        run_session(workspace, "--all", PAINEL)
    with pytest.raises(ToolError, match="not allowed with argument"):
        run_session(workspace, "--json", "--matrix")
    with pytest.raises(ToolError, match="cannot tell the graph format"):
        run_session(workspace, "--graph", "graph.png")
    with pytest.raises(GitError, match="'v9' is not a commit"):
        run_session(workspace, "--base", "v9")


def nox_plan(repo: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`nox -s plan` with this repository's noxfile, run in `repo` as a workflow would."""
    noxfile = repo / "noxfile.py"
    noxfile.write_text((ROOT / "noxfile.py").read_text())
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "GITHUB_")) and key != "VIRTUAL_ENV"
    }
    argv = [sys.executable, "-m", "nox", "-f", str(noxfile), "-s", "plan", "--", *arguments]
    return subprocess.run(argv, cwd=repo, env=environ, capture_output=True, text=True, check=False)


def test_the_session_prints_only_the_matrix_on_stdout(plan_repo: Path) -> None:
    change_geo(plan_repo)

    completed = nox_plan(plan_repo, "--matrix")

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f'{{"pipeline":["{ONIBUS}","{RELATORIO}","{PAINEL}"]}}\n'
    assert "$ git diff" in completed.stderr


def test_the_session_prints_the_json_document(plan_repo: Path) -> None:
    change_geo(plan_repo)

    completed = nox_plan(plan_repo, "--env", "prod", "--json")

    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["environment"] == "prod"
    assert len(document["deployments"]) == 4


def test_the_session_fails_with_one_sentence_for_an_unknown_base(plan_repo: Path) -> None:
    completed = nox_plan(plan_repo, "--env", "staging", "--base", "no-such-ref")

    assert completed.returncode == 1
    assert completed.stdout == ""
    assert "the base revision 'no-such-ref' is not a commit of the repository" in completed.stderr
    assert "Traceback" not in completed.stderr
