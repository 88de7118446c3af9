"""The deploy step against real Prefect servers: parity with `prefect deploy`, every deployment
of an environment, idempotence, work pools, faults, secrets, concurrency and the local server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from conftest import (
    PrefectServer,
    copy_repository,
    free_port,
    generate_pipelines,
    git,
    running_prefect_server,
)

from pipeline_tools import environments, prefectyaml
from pipeline_tools.deploy import DeployRequest, deploy, last_deployed_revision, register_plan
from pipeline_tools.deploy.records import Run, standing
from pipeline_tools.errors import ExitCode, ToolError
from pipeline_tools.plan import make_plan
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import discover

IMAGE = "registry.example/pipelines:content-abc123"
EXAMPLES = (
    "rj_smas__cadastro_unico",
    "rj_sme__escolas",
    "rj_smtr__gps_onibus",
    "rj_smtr__gps_relatorio",
)
# What `prefect deploy` decides and the server stores, compared field by field.
FIELDS = (
    "name",
    "flow_name",
    "entrypoint",
    "version",
    "tags",
    "description",
    "parameters",
    "parameter_openapi_schema",
    "schedules",
    "concurrency_limit",
    "concurrency_options",
    "global_concurrency_limit",
    "work_pool_name",
    "work_queue_name",
    "job_variables",
    "pull_steps",
    "paused",
    "enforce_parameter_schema",
    "path",
)
# The deploy step as one process, the way the session runs it, without building images.
REGISTER_SCRIPT = """
import sys
from pathlib import Path
from pipeline_tools.deploy import register_plan
from pipeline_tools.plan import make_plan
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import discover

repo, environment, image = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
workspace = discover(load_settings(repo))
reporter = Reporter()
plan = make_plan(workspace, environment=environment, all_pipelines=True, reporter=reporter)
images = {pipeline.name: image for pipeline in workspace.pipelines}
sys.exit(register_plan(workspace, plan, images, reporter))
"""


@pytest.fixture
def prefect_api(
    empty_prefect_server: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> PrefectServer:
    """The session's server, empty, named by PREFECT_API_URL for the code under test."""
    monkeypatch.setenv("PREFECT_API_URL", empty_prefect_server.url)
    monkeypatch.delenv("PREFECT_API_KEY", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return empty_prefect_server


def register(
    repo: Path, environment: str, *, names: tuple[str, ...] = (), prune: bool = False
) -> tuple[ExitCode, str]:
    """Plan and register `environment` in-process with IMAGE for every pipeline."""
    workspace = discover(load_settings(repo))
    output = io.StringIO()
    reporter = Reporter(out=output, err=output)
    plan = make_plan(
        workspace, environment=environment, names=names, all_pipelines=not names, reporter=reporter
    )
    images = {pipeline.name: IMAGE for pipeline in workspace.pipelines}
    code = register_plan(workspace, plan, images, reporter, prune=prune)
    return code, output.getvalue()


def stored(server: PrefectServer) -> dict[str, dict[str, object]]:
    """Every deployment on the server with its flow's name and only the compared fields."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        flows = {flow["id"]: flow["name"] for flow in http.post("/flows/filter", json={}).json()}
    result = {}
    for name, item in server.deployments().items():
        item["flow_name"] = flows[str(item["flow_id"])]
        schedules = item["schedules"]
        assert isinstance(schedules, list)
        item["schedules"] = sorted(
            (
                {key: value for key, value in schedule.items() if key in SCHEDULE_FIELDS}
                for schedule in schedules
            ),
            key=lambda schedule: json.dumps(schedule, sort_keys=True),
        )
        result[name] = {field: item[field] for field in FIELDS}
    return result


SCHEDULE_FIELDS = ("schedule", "active", "parameters", "slug", "max_scheduled_runs")


def deployment_names(repo: Path, pipeline: str) -> list[str]:
    """Every deployment name in the pipeline's prefect.yaml."""
    source = prefectyaml.load(repo / "pipelines" / pipeline / "prefect.yaml")
    return [entry.name for entry in source.deployments]


def prefect_deploy(repo: Path, pipeline: str, server: PrefectServer) -> None:
    """`prefect --no-prompt deploy` of every deployment of the file, from the pipeline's own
    environment (where the flow imports, so Prefect reads it at full fidelity)."""
    settings = load_settings(repo)
    quiet = Reporter(out=io.StringIO(), err=io.StringIO())
    python = environments.sync(settings, discover(settings).get(pipeline), quiet)
    argv = [str(python.parent / "prefect"), "--no-prompt", "deploy"]
    argv += ["--prefect-file", f"pipelines/{pipeline}/prefect.yaml"]
    for name in deployment_names(repo, pipeline):
        argv += ["--name", name]
    environ = _environ(server.url) | {"PIPELINE_IMAGE": IMAGE, "PREFECT_HOME": str(repo / ".ph")}
    done = subprocess.run(argv, cwd=repo, env=environ, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_registers_what_prefect_deploy_registers(
    repo_copy: Path, prefect_api: PrefectServer
) -> None:
    files = {
        name: (repo_copy / "pipelines" / name / "prefect.yaml").read_text() for name in EXAMPLES
    }
    for pipeline in EXAMPLES:
        prefect_deploy(repo_copy, pipeline, prefect_api)
    theirs = stored(prefect_api)
    prefect_api.delete_all_deployments()

    staging, _ = register(repo_copy, "staging", names=EXAMPLES)
    prod, _ = register(repo_copy, "prod", names=EXAMPLES)
    ours = stored(prefect_api)

    assert staging == prod == ExitCode.OK
    assert (
        sorted(ours)
        == sorted(theirs)
        == sorted(name for pipeline in EXAMPLES for name in deployment_names(repo_copy, pipeline))
    )
    for name in theirs:
        for field in FIELDS:
            assert ours[name][field] == theirs[name][field], f"{name}: {field} differs"
    assert all(item["job_variables"] == {"image": IMAGE} for item in ours.values())
    assert any(_count(item["schedules"]) == 2 for item in ours.values())  # interval and cron
    for name, text in files.items():
        assert (repo_copy / "pipelines" / name / "prefect.yaml").read_text() == text


def test_registers_every_deployment_of_the_environment_and_its_revision(
    repo_copy: Path, prefect_api: PrefectServer
) -> None:
    code, output = register(repo_copy, "prod")

    expected = sorted(
        name
        for pipeline in EXAMPLES
        for name in deployment_names(repo_copy, pipeline)
        if name.endswith("--prod")
    )
    on_server = prefect_api.deployments()
    head = git(repo_copy, "rev-parse", "HEAD").strip()
    assert code == ExitCode.OK
    assert sorted(on_server) == expected
    assert {"rj-smtr--gps-onibus-sppo--prod", "rj-smtr--gps-onibus-brt--prod"} <= set(on_server)
    assert all(item["labels"]["pipelines.revision"] == head for item in on_server.values())
    assert f"deploy to prod: {len(expected)} registered, 0 unchanged, 0 failed" in output
    assert last_deployed_revision(load_settings(repo_copy), "prod") == head
    assert last_deployed_revision(load_settings(repo_copy), "staging") is None


def test_a_second_run_changes_nothing(repo_copy: Path, prefect_api: PrefectServer) -> None:
    register(repo_copy, "prod")
    before = prefect_api.deployments()

    code, output = register(repo_copy, "prod")

    assert code == ExitCode.OK
    assert f"0 registered, {len(before)} unchanged, 0 failed" in output
    after = prefect_api.deployments()
    assert {name: item["updated"] for name, item in after.items()} == {
        name: item["updated"] for name, item in before.items()
    }


def test_a_changed_entry_is_registered_again_and_only_it(
    repo_copy: Path, prefect_api: PrefectServer
) -> None:
    register(repo_copy, "prod")
    prefect_yaml = repo_copy / "pipelines" / "rj_sme__escolas" / "prefect.yaml"
    prefect_yaml.write_text(prefect_yaml.read_text().replace('"0 6 * * 1"', '"0 7 * * 1"'))

    code, output = register(repo_copy, "prod")

    assert code == ExitCode.OK
    assert "rj-sme--escolas--prod" in output
    assert "changed: schedules" in output
    assert "1 registered, 4 unchanged, 0 failed" in output
    schedule = prefect_api.deployments()["rj-sme--escolas--prod"]["schedules"][0]
    assert schedule["schedule"]["cron"] == "0 7 * * 1"


def test_a_missing_work_pool_stops_the_deploy_before_any_build(
    repo_copy: Path, prefect_api: PrefectServer
) -> None:
    prefect_yaml = repo_copy / "pipelines" / "rj_sme__escolas" / "prefect.yaml"
    prefect_yaml.write_text(prefect_yaml.read_text().replace("name: prod-pool", "name: prod-pol"))
    workspace = discover(load_settings(repo_copy))
    reporter = Reporter(out=io.StringIO(), err=io.StringIO())

    with pytest.raises(ToolError) as raised:
        deploy(workspace, DeployRequest("prod", all_pipelines=True), reporter)

    message = str(raised.value)
    line = prefectyaml.load(prefect_yaml).line_of("deployments", 1, "work_pool", "name")
    assert f"pipelines/rj_sme__escolas/prefect.yaml:{line}: work pool 'prod-pol'" in message
    assert "does not exist" in message
    assert prefect_api.deployments() == {}
    assert not (repo_copy / ".state" / "build-logs").exists()


def test_prune_removes_a_deleted_entry_only_when_asked(
    repo_copy: Path, prefect_api: PrefectServer
) -> None:
    register(repo_copy, "prod")
    prefect_yaml = repo_copy / "pipelines" / "rj_smtr__gps_onibus" / "prefect.yaml"
    text = prefect_yaml.read_text()
    brt = text.index("  - name: rj-smtr--gps-onibus-brt--prod")
    prefect_yaml.write_text(text[:brt].rstrip() + "\n")

    kept, _ = register(repo_copy, "prod")
    still = set(prefect_api.deployments())
    pruned, output = register(repo_copy, "prod", prune=True)

    assert kept == pruned == ExitCode.OK
    assert "rj-smtr--gps-onibus-brt--prod" in still
    assert "rj-smtr--gps-onibus-brt--prod" not in prefect_api.deployments()
    assert "removed" in output
    assert "0 registered, 4 unchanged, 1 removed, 0 failed" in output


def test_where_an_environment_stands() -> None:
    def labels(run: Run, writes: int) -> dict[str, str]:
        return run.labels(writes)

    complete = Run("20240102T000000Z-a", "c2", "c1", "affected")
    partial = Run("20240103T000000Z-b", "c3", "c2", "affected")
    named = Run("20240104T000000Z-c", "c4", "", "named")

    assert standing([]) is None
    assert standing([labels(complete, 2), labels(complete, 2)]) == "c2"
    assert standing([labels(complete, 2), labels(partial, 3), labels(partial, 3)]) == "c2"
    assert standing([labels(complete, 1), labels(named, 1)]) == "c2"
    assert standing([{"pipelines.revision": "c9"}]) is None


def test_deploy_prod_builds_the_missing_image_and_registers_it(
    repo_copy: Path,
    prefect_api: PrefectServer,
    docker_engine: str,
    registry: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPELINES_REGISTRY", f"{registry}/deploy")
    workspace = discover(load_settings(repo_copy))
    output = io.StringIO()
    reporter = Reporter(out=output, err=output)
    request = DeployRequest("prod", names=("rj_sme__escolas",))

    first = deploy(workspace, request, reporter)
    image = prefect_api.deployments()["rj-sme--escolas--prod"]["job_variables"]["image"]
    second = deploy(workspace, request, Reporter(out=output, err=output))

    repository, _, tag = str(image).rpartition(":")
    tags = httpx.get(f"http://{repository.replace(registry, registry + '/v2', 1)}/tags/list")
    assert first == second == ExitCode.OK, output.getvalue()
    assert repository.startswith(f"{registry}/deploy/")
    assert tag in tags.json()["tags"]
    assert "deploy to prod: 1 registered, 0 unchanged, 0 failed" in output.getvalue()
    assert "deploy to prod: 0 registered, 1 unchanged, 0 failed" in output.getvalue()


# --- faults, with servers of the test's own -----------------------------------------------------


@pytest.fixture
def generated_repo(tmp_path: Path) -> Path:
    """A copy of this repository with 12 generated pipelines (24 prod deployments), committed."""
    repo = copy_repository(tmp_path / "repo")
    generate_pipelines(repo, 12)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "generated workspace")
    return repo


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A Prefect server of this module's own, which its tests may stop and start."""
    with running_prefect_server(tmp_path_factory.mktemp("own-server")) as server:
        yield server


@pytest.fixture
def own_server(module_server: PrefectServer) -> PrefectServer:
    """The module's own server, running and empty."""
    if module_server.process is None:
        module_server.start()
    module_server.delete_all_deployments()
    return module_server


def test_server_gone_mid_run_then_back(
    generated_repo: Path, own_server: PrefectServer, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    impatient = {"PIPELINES_API_RETRIES": "1", "PIPELINES_API_BACKOFF_SECONDS": "0.2"}

    gone = run_register(generated_repo, own_server, "prod", impatient, summary, own_server.stop)
    own_server.start()
    on_server = set(own_server.deployments())
    registered = _names_with(gone.stdout, "registered")
    failed = _names_with(gone.stdout, "FAILED")

    assert gone.returncode == 1
    assert registered and failed and len(registered) + len(failed) == 24
    assert "cannot connect to" in gone.stdout
    assert registered <= on_server
    assert len(on_server - registered) <= 1  # a write in flight when the server died
    assert "❌ failed" in summary.read_text() and "✅ registered" in summary.read_text()
    before = {name: item["updated"] for name, item in own_server.deployments().items()}

    again = run_register(generated_repo, own_server, "prod", impatient, summary)

    assert again.returncode == 0, again.stdout
    assert set(own_server.deployments()) == registered | failed
    assert _names_with(again.stdout, "unchanged") >= registered
    assert _names_with(again.stdout, "registered") <= failed
    for name in registered:
        assert own_server.deployments()[name]["updated"] == before[name]


def test_server_restarted_mid_run_the_run_completes(
    generated_repo: Path, own_server: PrefectServer, tmp_path: Path
) -> None:
    patient = {"PIPELINES_API_RETRIES": "8", "PIPELINES_API_BACKOFF_SECONDS": "0.5"}

    def restart() -> None:
        own_server.stop()
        own_server.start()

    done = run_register(generated_repo, own_server, "prod", patient, tmp_path / "s.md", restart)

    assert done.returncode == 0, done.stdout
    assert "deploy to prod: 24 registered, 0 unchanged, 0 failed" in done.stdout
    assert len(own_server.deployments()) == 24


def test_the_api_key_never_appears(
    repo_copy: Path, prefect_api: PrefectServer, tmp_path: Path
) -> None:
    key = "pnu_planted0secret0value0that0must0not0leak"
    summary = tmp_path / "summary.md"
    environ = {"PREFECT_API_KEY": key, "GITHUB_STEP_SUMMARY": str(summary)}
    closed = f"http://127.0.0.1:{free_port()}/api"

    worked = run_nox(repo_copy, prefect_api.url, environ, "deploy-local")
    refused = run_nox(repo_copy, closed, environ, "deploy-prod", "--", "--all")
    unreachable = run_register(
        repo_copy, PrefectServer(tmp_path, free_port()), "prod", environ, summary
    )

    assert worked.returncode == 0, worked.stdout
    assert refused.returncode == 1
    assert f"cannot connect to {closed}" in refused.stdout
    assert unreachable.returncode == 1
    for output in (worked.stdout, refused.stdout, unreachable.stdout, summary.read_text()):
        assert key not in output
    assert "Traceback" not in refused.stdout


def test_two_deploys_at_once_leave_every_deployment_whole(
    generated_repo: Path, prefect_api: PrefectServer, tmp_path: Path
) -> None:
    outcomes: list[subprocess.CompletedProcess[str]] = []

    def one(index: int) -> None:
        summary = tmp_path / f"summary-{index}.md"
        outcomes.append(run_register(generated_repo, prefect_api, "prod", {}, summary))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    on_server = prefect_api.deployments()
    assert [outcome.returncode for outcome in outcomes] == [0, 0], [o.stdout for o in outcomes]
    assert len(on_server) == 24
    assert all(len(item["schedules"]) == 1 for item in on_server.values())
    for outcome in outcomes:
        reported = _names_with(outcome.stdout, "registered") | _names_with(
            outcome.stdout, "unchanged"
        )
        assert reported == set(on_server)
    written = [_names_with(outcome.stdout, "registered") for outcome in outcomes]
    assert written[0] | written[1] == set(on_server)


# --- local ------------------------------------------------------------------------------------


def test_local_deployments_and_one_run(
    repo_copy: Path, prefect_api: PrefectServer, tmp_path: Path
) -> None:
    workspace = discover(load_settings(repo_copy))
    output = io.StringIO()
    reporter = Reporter(out=output, err=output)
    run = ("rj_sme__escolas", f"destination={tmp_path / 'out'}")

    code = deploy(workspace, DeployRequest("local", run=run), reporter)

    on_server = prefect_api.deployments()
    local = on_server["rj-sme--escolas--local"]
    assert code == ExitCode.OK, output.getvalue()
    assert sorted(on_server) == sorted(
        name.replace("--staging", "--local")
        for pipeline in EXAMPLES
        for name in deployment_names(repo_copy, pipeline)
        if name.endswith("--staging")
    )
    assert local["paused"] is True
    assert local["work_pool_name"] == "local-pool"
    assert local["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(repo_copy)}}
    ]
    assert "flow run Completed: " in output.getvalue()
    assert (tmp_path / "out" / "alunos_por_cre.xlsx").is_file()
    assert f"start a worker: PREFECT_API_URL={prefect_api.url}" in output.getvalue()


def test_a_failed_local_run_exits_1(repo_copy: Path, prefect_api: PrefectServer) -> None:
    workspace = discover(load_settings(repo_copy))
    output = io.StringIO()
    reporter = Reporter(out=output, err=output)
    request = DeployRequest(
        "local", names=("rj_smas__cadastro_unico",), run=("rj_smas__cadastro_unico",)
    )

    code = deploy(workspace, request, reporter)

    assert code == ExitCode.FAILED
    assert "flow run Failed: " in output.getvalue()
    assert "RJ_SMAS__CADASTRO_UNICO_DATABASE_URL" in output.getvalue()


# --- helpers ----------------------------------------------------------------------------------


def run_register(
    repo: Path,
    server: PrefectServer,
    environment: str,
    extra: Mapping[str, str],
    summary: Path,
    mid_run: object = None,
) -> subprocess.CompletedProcess[str]:
    """The deploy step as its own process; `mid_run` is called once 3 deployments are written."""
    environ = _environ(server.url) | dict(extra) | {"GITHUB_STEP_SUMMARY": str(summary)}
    argv = [sys.executable, "-c", REGISTER_SCRIPT, str(repo), environment, IMAGE]
    process = subprocess.Popen(
        argv, cwd=repo, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if mid_run is not None and line.startswith("[3/") and callable(mid_run):
            mid_run()
            mid_run = None
    process.wait(timeout=600)
    return subprocess.CompletedProcess(argv, process.returncode, "".join(lines))


def run_nox(
    repo: Path, api_url: str, extra: Mapping[str, str], *arguments: str
) -> subprocess.CompletedProcess[str]:
    """A nox session of the copy, run with this environment's nox and library."""
    environ = _environ(api_url) | dict(extra)
    argv = [sys.executable, "-m", "nox", "-f", str(repo / "noxfile.py"), "-s", *arguments]
    return subprocess.run(
        argv,
        cwd=repo,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def _count(value: object) -> int:
    assert isinstance(value, list)
    return len(value)


def _names_with(output: str, result: str) -> set[str]:
    """Deployment names of the summary table's rows with `result`."""
    names = set()
    for line in output.splitlines():
        cells = line.split()
        if len(cells) >= 3 and cells[2] == result and cells[0].startswith("rj-"):
            names.add(cells[0])
    return names


def _environ(api_url: str) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "PREFECT_", "PIPELINES_", "GITHUB_"))
    }
    return environ | {"PREFECT_API_URL": api_url}
