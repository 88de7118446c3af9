"""Fixtures shared by the library's tests: copies of this repository and real servers."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pytest
from cookiecutter.main import cookiecutter

if TYPE_CHECKING:
    from lint_corpus import Repo as LintRepo

ROOT = Path(__file__).resolve().parent.parent


def repository_files(root: Path = ROOT) -> list[str]:
    """Files git tracks or would track (untracked but not ignored) under `root`."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
        env={key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
    ).stdout.decode()
    return sorted({name for name in listing.split("\0") if name and (root / name).is_file()})


def copy_repository(destination: Path, root: Path = ROOT) -> Path:
    """Copy the repository's files (not its environments or state) into `destination`."""
    for name in repository_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return destination


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and no inherited GIT_* variables."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    environ.update(
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    completed = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=environ
    )
    return completed.stdout


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of this repository in a fresh git repository with one commit."""
    repo = copy_repository(tmp_path / "repo")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "copy of the repository")
    return repo


# --- A small workspace with scripted git histories, for the changes and plan tests ------------

SEED_PIPELINES = (
    ("smas", "cadastro"),
    ("sme", "planilhas"),
    ("smtr", "gps_onibus"),
    ("smtr", "gps_relatorio"),
    ("smtr", "painel"),
)
OLD_OPENPYXL = "3.1.2"  # the seed locks this openpyxl; a test upgrades it to the newest
OLD_PYTEST = "8.3.5"  # a dev-only dependency every pipeline's tests use


def seed_root_pyproject(
    name: str = "prefect_rj_iplanrio", dependency: str = "prefect>=3.4,<4"
) -> str:
    """The root pyproject.toml of a small workspace made for a test or a benchmark."""
    return f"""\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11,<3.14"
dependencies = ["{dependency}"]

[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/{name}"]

[tool.uv.workspace]
members = ["pipelines/*"]

[tool.pipeline-tools]
pipelines_dir = "pipelines"
"""


SEED_ONIBUS_PREFECT_YAML = """\
name: rj_smtr__gps_onibus
prefect-version: 3.4.0
deployments:
{entries}
"""

SEED_ONIBUS_ENTRY = """\
  - name: rj-smtr--gps-onibus-{fleet}--{environment}
    entrypoint: pipelines/rj_smtr__gps_onibus/flow.py:rj_smtr__gps_onibus
    parameters:
      table: {fleet}
    work_pool:
      name: {environment}-pool
      job_variables:
        image: "{{{{ $PIPELINE_IMAGE }}}}"
"""


@dataclass(frozen=True)
class PlanSeed:
    """A workspace rendered from the template (not a git repository) and its lock variants."""

    folder: Path
    lock_openpyxl_upgraded: str  # uv.lock after `uv lock -P openpyxl`
    lock_pytest_downgraded: str  # uv.lock after `uv lock -P pytest==OLD_PYTEST`


def _uv_lock(folder: Path, *args: str) -> str:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"} and not key.startswith("GIT_")
    }
    subprocess.run(["uv", "lock", "--quiet", *args], cwd=folder, env=environ, check=True)
    return (folder / "uv.lock").read_text("utf-8")


def _render_pipelines(folder: Path) -> None:
    logging.getLogger("cookiecutter").setLevel(logging.WARNING)
    for secretaria, pipeline in SEED_PIPELINES:
        cookiecutter(
            str(ROOT / "templates"),
            no_input=True,
            accept_hooks=False,
            output_dir=str(folder / "pipelines"),
            extra_context={"secretaria": secretaria, "pipeline": pipeline},
        )


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} is not in {path}; the template changed"
    path.write_text(text.replace(old, new, 1), "utf-8")


def _customize_pipelines(pipelines: Path) -> None:
    """The shapes the tests need: a subfolder, an extra dependency, imports, many deployments."""
    planilhas = pipelines / "rj_sme__planilhas"
    _replace(
        planilhas / "pyproject.toml", '"prefect>=3.4,<4",', '"prefect>=3.4,<4", "openpyxl>=3",'
    )
    (planilhas / "queries").mkdir()
    (planilhas / "queries" / "escolas.sql").write_text("select * from escolas\n")

    onibus = pipelines / "rj_smtr__gps_onibus"
    (onibus / "utils").mkdir()
    (onibus / "utils" / "__init__.py").write_text("")
    (onibus / "utils" / "geo.py").write_text("def distance(a: float, b: float) -> float: ...\n")
    entries = [
        SEED_ONIBUS_ENTRY.format(fleet=fleet, environment=environment)
        for environment in ("staging", "prod")
        for fleet in ("sppo", "brt")
    ]
    (onibus / "prefect.yaml").write_text(SEED_ONIBUS_PREFECT_YAML.format(entries="".join(entries)))

    relatorio = pipelines / "rj_smtr__gps_relatorio" / "flow.py"
    _replace(
        relatorio,
        "from prefect import flow",
        "from prefect import flow\nimport rj_smtr__gps_onibus",
    )

    painel = pipelines / "rj_smtr__painel" / "pyproject.toml"
    _replace(painel, '"prefect_rj_iplanrio",', '"prefect_rj_iplanrio", "rj_smtr__gps_relatorio",')
    _replace(
        painel,
        "[tool.uv.sources]",
        "[tool.uv.sources]\nrj_smtr__gps_relatorio = {workspace = true}",
    )


@pytest.fixture(scope="session")
def plan_seed(tmp_path_factory: pytest.TempPathFactory) -> PlanSeed:
    """Five template pipelines (one imports another, one depends on that one through the
    workspace, one has openpyxl, one has four deployments) locked for real by uv."""
    folder = tmp_path_factory.mktemp("plan-seed") / "workspace"
    (folder / "src" / "prefect_rj_iplanrio").mkdir(parents=True)
    (folder / "src" / "prefect_rj_iplanrio" / "__init__.py").write_text('"""Shared helpers."""\n')
    (folder / "pyproject.toml").write_text(seed_root_pyproject())
    (folder / "Dockerfile").write_text("ARG BASE=python:3.13-slim-bookworm\nFROM ${BASE}\n")
    (folder / "README.md").write_text("# pipelines\n")
    _render_pipelines(folder)
    _customize_pipelines(folder / "pipelines")

    seed_lock = _uv_lock(folder, "--upgrade-package", f"openpyxl=={OLD_OPENPYXL}")
    upgraded = _uv_lock(folder, "--upgrade-package", "openpyxl")
    (folder / "uv.lock").write_text(seed_lock)
    downgraded = _uv_lock(folder, "--upgrade-package", f"pytest=={OLD_PYTEST}")
    (folder / "uv.lock").write_text(seed_lock)
    return PlanSeed(folder, upgraded, downgraded)


@pytest.fixture
def plan_repo(plan_seed: PlanSeed, tmp_path: Path) -> Path:
    """A git repository holding the seed workspace in one commit on `main`."""
    repo = tmp_path / "repo"
    shutil.copytree(plan_seed.folder, repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "seed workspace")
    return repo


def commit_files(repo: Path, message: str, files: dict[str, str | None]) -> str:
    """Write (or, for None, delete) files relative to `repo`, commit them, return the commit."""
    for name, content in files.items():
        path = repo / name
        if content is None:
            git(repo, "rm", "--quiet", "-r", name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        git(repo, "add", name)
    git(repo, "commit", "--quiet", "--message", message)
    return git(repo, "rev-parse", "HEAD").strip()


# --- A Docker engine and OCI registries on 127.0.0.1, for the images tests -------------------

HOW_TO_RUN_DOCKER_TESTS = (
    "these tests need a Docker engine and docker-registry: run scripts/docker-engine.sh, "
    'then eval "$(scripts/standin-images.sh)" on a machine without access to public registries'
)
REGISTRY_START_SECONDS = 20.0


def missing_real_part(message: str) -> NoReturn:
    """Fail under CI, where every real part must be there; elsewhere skip, saying how to run."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message}; {HOW_TO_RUN_DOCKER_TESTS}")
    pytest.skip(f"{message}; {HOW_TO_RUN_DOCKER_TESTS}")


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The Docker client the settings name, once its engine answers `docker info`."""
    binary = os.environ.get("PIPELINES_DOCKER_BINARY", "docker")
    if shutil.which(binary) is None:
        missing_real_part(f"no Docker client '{binary}' on PATH")
    answered = subprocess.run([binary, "info"], capture_output=True, check=False)
    if answered.returncode != 0:
        missing_real_part(f"no Docker engine answers `{binary} info`")
    return binary


@contextlib.contextmanager
def serve_registry(folder: Path, htpasswd: Path | None = None) -> Iterator[str]:
    """Run `docker-registry serve` on a free 127.0.0.1 port, storing under `folder`.

    Yields its address (host:port); with `htpasswd` it asks for basic authentication.
    """
    if shutil.which("docker-registry") is None:
        missing_real_part("no docker-registry on PATH")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n" if htpasswd else ""
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    with (folder / "registry.log").open("w") as log:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_for_registry(port, process)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local OCI registry for the whole test session: its host:port."""
    with serve_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_registry(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + REGISTRY_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited with status {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 401: it answers, and asks for credentials
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"docker-registry did not answer on 127.0.0.1:{port}")


# --- A Prefect server on 127.0.0.1, for the deploy, server and end-to-end tests ---------------

PREFECT_START_SECONDS = 120.0
TEST_WORK_POOLS = ("staging-pool", "prod-pool")


@dataclass
class PrefectServer:
    """A `prefect server start` process with its own PREFECT_HOME (SQLite) and port."""

    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its API address."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        """Start it (again) and wait until `/api/health` answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        environ = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
        environ.update(
            PREFECT_HOME=str(self.home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{self.home / 'db.sqlite'}",
        )
        argv = [str(Path(sys.executable).parent / "prefect"), "server", "start"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        with (self.home / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=environ, start_new_session=True
            )
        self._wait()

    def stop(self) -> None:
        """Stop it (SIGKILL: as abrupt as a crash) and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def delete_all_deployments(self) -> None:
        """Remove every deployment, so a test starts from an empty server."""
        with httpx.Client(base_url=self.url, timeout=30) as http:
            for item in http.post("/deployments/filter", json={}).json():
                for _ in range(20):  # SQLite answers 503 while its scheduler writes
                    answer = http.delete(f"/deployments/{item['id']}")
                    if answer.status_code != 503:
                        break
                    time.sleep(0.5)
                assert answer.status_code in (204, 404), answer.text

    def create_process_pools(self, *names: str) -> None:
        """Create process work pools (with Prefect's default template) unless they exist."""
        from prefect.workers.process import ProcessWorker  # noqa: PLC0415 - costs 2 s to import

        template = ProcessWorker.get_default_base_job_template()
        with httpx.Client(base_url=self.url, timeout=30) as http:
            for name in names:
                body = {"name": name, "type": "process", "base_job_template": template}
                answer = http.post("/work_pools/", json=body)
                assert answer.status_code in (201, 409), answer.text

    def deployments(self) -> dict[str, dict[str, Any]]:
        """Every deployment the server has, by name, as the API returns it."""
        with httpx.Client(base_url=self.url, timeout=30) as http:
            return {item["name"]: item for item in http.post("/deployments/filter", json={}).json()}

    def _wait(self) -> None:
        deadline = time.monotonic() + PREFECT_START_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.home / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"prefect server exited with status {self.process.returncode}:\n{log}")
            try:
                health = f"{self.url}/health"
                urllib.request.urlopen(health, timeout=1).close()  # noqa: S310 - http://127.0.0.1
                return
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"prefect server did not answer on {self.url}")


@contextlib.contextmanager
def running_prefect_server(home: Path) -> Iterator[PrefectServer]:
    """A Prefect server of the caller's own, on a free port, with the test work pools."""
    server = PrefectServer(home=home, port=free_port())
    server.start()
    try:
        server.create_process_pools(*TEST_WORK_POOLS)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One Prefect server for the whole test session, with staging-pool and prod-pool."""
    with running_prefect_server(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server


@pytest.fixture
def empty_prefect_server(prefect_server: PrefectServer) -> PrefectServer:
    """The session's Prefect server with no deployment left by an earlier test."""
    prefect_server.delete_all_deployments()
    return prefect_server


GENERATED_FLOW = '''\
"""Generated pipeline {name}."""

from __future__ import annotations

from prefect import flow


@flow(name="{name}", log_prints=True)
def {name}(table: str = "example", batch_size: int = 1000, columns: list[str] | None = None) -> int:
    """Copy `table` in batches of `batch_size` rows.

    Args:
        table: the source table.
        batch_size: rows per batch.
        columns: the columns to copy (all by default).
    """
    print(f"copying {{table}}")
    return batch_size
'''

GENERATED_PREFECT_YAML = """\
name: {name}
prefect-version: 3.4.0

pull:
  - prefect.deployments.steps.set_working_directory:
      directory: /app

deployments:
  - name: {slug}--staging
    entrypoint: pipelines/{name}/flow.py:{name}
    tags: [gen, staging]
    parameters:
      table: staging_{index}
    work_pool:
      name: staging-pool
      job_variables:
        image: "{{{{ $PIPELINE_IMAGE }}}}"
    schedules: []

  - name: {slug}-a--prod
    description: Generated deployment A of {name}.
    entrypoint: pipelines/{name}/flow.py:{name}
    tags: [gen, prod]
    parameters:
      table: a_{index}
    work_pool:
      name: prod-pool
      job_variables:
        image: "{{{{ $PIPELINE_IMAGE }}}}"
    schedules:
      - interval: {interval}
        anchor_date: "2024-01-01T00:00:00"
        timezone: America/Sao_Paulo
        slug: every-{interval}-seconds
        active: true

  - name: {slug}-b--prod
    description: Generated deployment B of {name}.
    entrypoint: pipelines/{name}/flow.py:{name}
    tags: [gen, prod]
    parameters:
      table: b_{index}
      batch_size: 500
    work_pool:
      name: prod-pool
      job_variables:
        image: "{{{{ $PIPELINE_IMAGE }}}}"
    schedules:
      - cron: "{minute} 3 * * *"
        timezone: America/Sao_Paulo
        slug: nightly
        active: true
"""

GENERATED_PYPROJECT = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11,<3.14"
dependencies = ["prefect>=3.4,<4"]
"""


def generate_pipelines(repo: Path, count: int) -> list[str]:
    """Write `count` small pipelines (one staging and two prod deployments each, with
    schedules) under `repo`/pipelines, replacing the ones there; return their names."""
    pipelines = repo / "pipelines"
    shutil.rmtree(pipelines, ignore_errors=True)
    names = []
    for index in range(count):
        name = f"rj_gen__p{index:03d}"
        folder = pipelines / name
        folder.mkdir(parents=True)
        values = {
            "name": name,
            "slug": f"rj-gen--p{index:03d}",
            "index": index,
            "interval": 600 + 60 * (index % 10),
            "minute": index % 60,
        }
        (folder / "__init__.py").write_text("")
        (folder / "flow.py").write_text(GENERATED_FLOW.format(**values))
        (folder / "prefect.yaml").write_text(GENERATED_PREFECT_YAML.format(**values))
        (folder / "pyproject.toml").write_text(GENERATED_PYPROJECT.format(**values))
        names.append(name)
    return names


@pytest.fixture(scope="session")
def lint_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean workspace of the lint corpus (tests/lint_corpus.py), built once."""
    from lint_corpus import build_workspace, write_pipeline  # noqa: PLC0415 - it imports conftest

    return build_workspace(tmp_path_factory.mktemp("lint") / "seed", write_pipeline)


@pytest.fixture
def lint_repo(lint_seed: Path, tmp_path: Path) -> LintRepo:
    """A copy of the lint corpus workspace (a git repository) that a test may break."""
    from lint_corpus import Repo  # noqa: PLC0415 - it imports conftest

    target = tmp_path / "repo"
    shutil.copytree(lint_seed, target, symlinks=True)
    return Repo(target)
