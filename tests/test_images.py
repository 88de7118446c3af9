"""The images step: contexts, Dockerfiles and content tags, then real builds and pushes.

The builds run against a real Docker engine and a real registry on 127.0.0.1 (conftest): they
fail under CI when either is missing and skip elsewhere, saying how to run them. The workspace
is small and real: the root Dockerfile and the template's Dockerfile of this repository, three
pipelines from the template with light dependencies (one imports another), locked by uv.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from conftest import ROOT, free_port, git, seed_root_pyproject, serve_registry
from cookiecutter.main import cookiecutter
from python_on_whales import DockerClient

from pipeline_tools.errors import ToolError
from pipeline_tools.images import (
    BaseImage,
    BuildArguments,
    BuildReport,
    Status,
    build_images,
    image_references,
    parse_build_arguments,
    pipeline_content_tag,
)
from pipeline_tools.images.context import ignored, pipeline_context, read_ignore_rules
from pipeline_tools.images.dockerfile import DockerfileError, for_legacy_builder, parse
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import Workspace, discover

ALFA, BETA, GAMA = "rj_teste__alfa", "rj_teste__beta", "rj_teste__gama"
FAKE_BASE = BaseImage("registry.example/base:content-0", "sha256:" + "0" * 64)
FIRST_CLIENT_WITH_BUILDX_ONLY = 23
FIND_PLANTED = "-name .env -o -name credentials.json -o -name id_rsa -o -name .venv"

ROOT_PYPROJECT = seed_root_pyproject("cidade_comum", "six>=1.16")

PIPELINE_PYPROJECT = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11,<3.14"
dependencies = [{dependencies}]

[tool.uv.sources]
{sources}

[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[tool.setuptools]
packages = ["{name}"]
package-dir = {{ "{name}" = "." }}
"""

FLOWS = {
    ALFA: (
        '"""What the image of alfa must import: a dependency, the shared project, beta."""\n'
        "import cidade_comum\nimport idna\nimport six\n"
        "from rj_teste__beta.flow import GREETING\n\n"
        "MESSAGE = f\"{GREETING} {cidade_comum.VALUE} {idna.encode('rio').decode()} {six.PY3}\"\n"
    ),
    BETA: '"""Beta."""\nimport six\n\nGREETING = "ola" if six.PY3 else "?"\n',
    GAMA: '"""Gama."""\nimport six\n\nVALUE = six.PY3\n',
}
DEPENDENCIES = {
    ALFA: ('"cidade_comum", "rj_teste__beta", "idna>=3.4"', ("cidade_comum", BETA)),
    BETA: ('"six>=1.16"', ()),
    GAMA: ('"six>=1.16"', ()),
}


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small workspace, rendered from the template and locked by uv, not yet in git."""
    folder = tmp_path_factory.mktemp("images-seed") / "workspace"
    (folder / "src" / "cidade_comum").mkdir(parents=True)
    (folder / "src" / "cidade_comum" / "__init__.py").write_text('VALUE = "comum"\n')
    (folder / "pyproject.toml").write_text(ROOT_PYPROJECT)
    (folder / "README.md").write_text("# pipelines\n")
    shutil.copy(ROOT / "Dockerfile", folder / "Dockerfile")
    for name in (ALFA, BETA, GAMA):
        _render_pipeline(folder, name)
    _uv_lock(folder)
    return folder


@pytest.fixture
def repo(seed: Path, tmp_path: Path) -> Path:
    """A git repository holding the small workspace in one commit."""
    folder = tmp_path / "repo"
    shutil.copytree(seed, folder)
    git(folder, "init", "--quiet", "--initial-branch=main")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "--message", "workspace")
    return folder


@pytest.fixture(scope="module")
def docker(docker_engine: str, registry: str) -> Iterator[DockerClient]:
    """The engine's client; the test images are removed when the module is done."""
    client = DockerClient(client_call=[docker_engine])
    yield client
    listing = client.image.list()
    tags = [tag for image in listing for tag in image.repo_tags if tag.startswith(registry)]
    if tags:
        client.image.remove(tags, force=True)


def workspace(repo: Path, registry: str, **overrides: str) -> Workspace:
    """The repository's workspace, images named `<registry>/t/<name>`, settings overridden."""
    environ = dict(os.environ)
    environ["PIPELINES_REGISTRY"] = f"{registry}/t"
    environ.update({f"PIPELINES_{key.upper()}": value for key, value in overrides.items()})
    return discover(load_settings(repo, environ))


def reporter() -> Reporter:
    """A reporter writing to memory."""
    return Reporter(out=io.StringIO(), err=io.StringIO())


def output(rep: Reporter) -> str:
    """Everything a memory reporter wrote."""
    assert isinstance(rep.out, io.StringIO) and isinstance(rep.err, io.StringIO)
    return rep.out.getvalue() + rep.err.getvalue()


def statuses(report: BuildReport) -> dict[str, Status]:
    """Each image's status."""
    return {outcome.name: outcome.status for outcome in report.outcomes}


# --- contexts, Dockerfiles, content tags ------------------------------------------------------


def test_context_holds_the_pipeline_and_its_dependencies_and_no_secret(repo: Path) -> None:
    alfa = repo / "pipelines" / ALFA
    planted = [".env", ".env.prod", "credentials.json", "keys/service.pem", ".venv/lib/x.py"]
    planted += [".git/config", "__pycache__/flow.cpython-311.pyc", "tests/test_flow.py"]
    for name in planted:
        (alfa / name).parent.mkdir(parents=True, exist_ok=True)
        (alfa / name).write_text("SECRET=value\n")
    ws = workspace(repo, "127.0.0.1:1")

    context = pipeline_context(ws, ws.get(ALFA))

    assert context.targets == [
        f"pipelines/{ALFA}/Dockerfile",
        f"pipelines/{ALFA}/README.md",
        f"pipelines/{ALFA}/__init__.py",
        f"pipelines/{ALFA}/flow.py",
        f"pipelines/{ALFA}/prefect.yaml",
        f"pipelines/{ALFA}/pyproject.toml",
        f"pipelines/{BETA}/Dockerfile",
        f"pipelines/{BETA}/README.md",
        f"pipelines/{BETA}/__init__.py",
        f"pipelines/{BETA}/flow.py",
        f"pipelines/{BETA}/prefect.yaml",
        f"pipelines/{BETA}/pyproject.toml",
        "pyproject.toml",
        "uv.lock",
    ]
    assert sorted(context.denied) == sorted(
        f"pipelines/{ALFA}/{name}" for name in planted if not name.startswith("tests/")
    )


@pytest.mark.parametrize(
    ("rules", "path", "excluded"),
    [
        ("tests/\n", "tests/test_flow.py", True),
        ("tests/\n", "flow.py", False),
        ("data/\n!data/keep.csv\n", "data/keep.csv", False),
        ("data/\n!data/keep.csv\n", "data/other.csv", True),
        ("**/*.parquet\n", "out/deep/x.parquet", True),
        ("*.md\n", "docs/x.md", False),
        ("# a comment\n/output\n", "output/x", True),
    ],
)
def test_dockerignore_rules_as_docker_reads_them(
    tmp_path: Path, rules: str, path: str, excluded: bool
) -> None:
    (tmp_path / ".dockerignore").write_text(rules)

    assert ignored(path, read_ignore_rules(tmp_path)) is excluded


def test_content_tag_survives_a_no_op_and_follows_dependencies(repo: Path) -> None:
    ws = workspace(repo, "127.0.0.1:1")
    before = {name: pipeline_content_tag(ws, name, FAKE_BASE) for name in (ALFA, BETA, GAMA)}

    git(repo, "commit", "--quiet", "--allow-empty", "--message", "nothing")
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            path.write_bytes(path.read_bytes())
    _uv_lock(repo)
    after_no_op = {name: pipeline_content_tag(ws, name, FAKE_BASE) for name in before}

    pyproject = repo / "pipelines" / BETA / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"six>=1.16"', '"six>=1.16", "idna>=3.4"'))
    _uv_lock(repo)
    ws = workspace(repo, "127.0.0.1:1")
    after_dependency = {name: pipeline_content_tag(ws, name, FAKE_BASE) for name in before}
    other_base = BaseImage(FAKE_BASE.reference, "sha256:" + "1" * 64)

    assert all(re.fullmatch(r"content-[0-9a-f]{20}", tag) for tag in before.values())
    assert after_no_op == before
    assert after_dependency[BETA] != before[BETA]
    assert after_dependency[ALFA] != before[ALFA]  # alfa installs beta's dependencies too
    assert after_dependency[GAMA] == before[GAMA]  # the lock changed, not gama's packages
    assert pipeline_content_tag(ws, GAMA, other_base) != before[GAMA]


def test_legacy_dockerfile_drops_cache_mounts_and_keeps_uv_cache_out_of_layers() -> None:
    text = (ROOT / "templates" / "{{cookiecutter.__folder}}" / "Dockerfile").read_text()

    legacy = for_legacy_builder(text, "Dockerfile")

    assert "--mount=type=cache" in text
    assert "--mount" not in legacy
    assert [i.keyword for i in parse(legacy, "x")].count("ARG") == 2
    assert "FROM ${BASE_IMAGE}\nARG UV_NO_CACHE=1\n" in legacy
    with pytest.raises(
        DockerfileError, match=r"x:2: `--mount=type=secret,id=token` needs BuildKit"
    ):
        for_legacy_builder("FROM a\nRUN --mount=type=secret,id=token cat /run/secrets/token\n", "x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM a\n\nRUNN echo\n", r"^x:3: unknown instruction 'RUNN'; did you mean RUN\?$"),
        ("# only a comment\n", r"^x: no FROM instruction; start it with `ARG BASE_IMAGE`"),
        ("COPY . .\nFROM a\n", r"^x:1: COPY before the first FROM; only ARG may come before it$"),
    ],
)
def test_dockerfile_mistakes_are_one_sentence_with_the_line(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message):
        parse(text, "x")


def test_heredocs_and_continuations_are_not_mistaken_for_instructions() -> None:
    text = "FROM a\nRUN <<EOF\nuv sync\nEOF\nRUN echo \\\n    # inside\n    done\nCOPY x y\n"

    assert [(i.keyword, i.first, i.last) for i in parse(text, "x")] == [
        ("FROM", 1, 1),
        ("RUN", 2, 4),
        ("RUN", 5, 7),
        ("COPY", 8, 8),
    ]


# --- real builds ----------------------------------------------------------------------------


def test_build_push_pull_and_import_the_flow(
    repo: Path, registry: str, docker: DockerClient
) -> None:
    ws = workspace(
        repo, registry, docker_binary=_buildkit_client() or docker.client_config.client_call[0]
    )
    rep = reporter()

    report = build_images(ws, [ALFA], push=True, reporter=rep)

    assert report.exit_code == 0, output(rep)
    assert statuses(report)[ALFA] is Status.BUILT_PUSHED
    reference = report.reference(ALFA)
    base = docker.image.inspect(report.reference(ws.settings.base_image_name))
    labels = docker.image.inspect(reference).config.labels or {}
    revision = git(repo, "rev-parse", "HEAD").strip()
    assert labels["org.opencontainers.image.revision"] == revision
    assert labels["org.opencontainers.image.base.digest"] == base.id
    assert labels["org.opencontainers.image.version"] == reference.rsplit(":", 1)[1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", labels[_label("created")])
    short_tag = f"{registry}/t/{ALFA}:{revision[:7]}"

    docker.image.remove([reference, short_tag], force=True)
    docker.image.pull(reference, quiet=True)
    printed = docker.run(
        reference,
        ["python", "-c", f"import {ALFA}.flow as flow; print(flow.MESSAGE)"],
        remove=True,
        networks=["none"],
    )
    docker.image.pull(short_tag, quiet=True)

    assert str(printed).strip() == "ola comum rio True"
    again = build_images(ws, [ALFA], push=True, reporter=rep)
    assert statuses(again) == {ws.settings.base_image_name: Status.PRESENT, ALFA: Status.PRESENT}
    assert image_references(ws, [ALFA], rep) == {ALFA: reference}


def test_env_files_and_credentials_never_enter_the_image(
    repo: Path, registry: str, docker: DockerClient
) -> None:
    gama = repo / "pipelines" / GAMA
    (gama / ".dockerignore").write_text("tests/\n")  # says nothing of secrets
    for name in (".env", "config/credentials.json", ".venv/bin/activate", "id_rsa"):
        (gama / name).parent.mkdir(parents=True, exist_ok=True)
        (gama / name).write_text("TOKEN=planted-secret-value\n")
    ws = workspace(repo, registry)
    rep = reporter()

    report = build_images(ws, [GAMA], push=False, reporter=rep)

    assert report.exit_code == 0, output(rep)
    found = docker.run(
        report.reference(GAMA),
        ["sh", "-c", f"find /app/pipelines {FIND_PLANTED}; grep -rl planted-secret /app || true"],
        remove=True,
        networks=["none"],
    )
    assert str(found).strip() == ""
    log = (ws.settings.state_path / "build-logs" / f"{GAMA}.log").read_text()
    assert f"left out (never sent): pipelines/{GAMA}/.env" in log


def test_a_broken_build_fails_alone(repo: Path, registry: str, docker: DockerClient) -> None:
    beta = repo / "pipelines" / BETA / "Dockerfile"
    beta.write_text(beta.read_text() + "RUN echo compiling && exit 3\n")
    gama = repo / "pipelines" / GAMA / "Dockerfile"
    gama.write_text(gama.read_text().replace("COPY pipelines", "COPPY pipelines"))
    ws = workspace(repo, registry, builder="legacy")
    rep = reporter()

    report = build_images(ws, [ALFA, BETA, GAMA], push=False, reporter=rep)

    assert report.exit_code == 1
    assert statuses(report)[ALFA] is Status.BUILT
    assert docker.image.exists(report.reference(ALFA))
    problems = {outcome.name: outcome.problem for outcome in report.failures}
    assert set(problems) == {BETA, GAMA}
    assert re.fullmatch(
        rf"pipelines/{BETA}/Dockerfile: step \d+/\d+: RUN echo compiling && exit 3 failed "
        rf"\(exit code 3\); see \.state/build-logs/{BETA}\.log",
        problems[BETA],
    ), problems[BETA]
    assert re.match(
        rf"pipelines/{GAMA}/Dockerfile:\d+: unknown instruction 'COPPY'; did you mean COPY\?",
        problems[GAMA],
    )
    assert "compiling" in (ws.settings.state_path / "build-logs" / f"{BETA}.log").read_text()
    errors = rep.err.getvalue() if isinstance(rep.err, io.StringIO) else ""
    assert f"error: {BETA}: " in errors and f"error: {GAMA}: " in errors


def test_disk_is_reclaimed_between_batches_but_never_the_base(
    repo: Path, registry: str, docker: DockerClient
) -> None:
    ws = workspace(repo, registry, reclaim_disk="true", build_concurrency="1")
    rep = reporter()

    report = build_images(ws, [BETA, GAMA], push=True, reporter=rep)

    assert report.exit_code == 0, output(rep)
    assert not docker.image.exists(report.reference(BETA))
    assert not docker.image.exists(report.reference(GAMA))
    assert docker.image.exists(report.reference(ws.settings.base_image_name))
    assert "reclaiming" in output(rep)
    docker.image.pull(report.reference(GAMA), quiet=True)


# --- bad input ------------------------------------------------------------------------------


def test_engine_not_running_is_one_sentence(
    repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, docker_engine: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")

    with pytest.raises(ToolError, match=r"^the Docker engine does not answer \(.+\); start it"):
        build_images(workspace(repo, "127.0.0.1:1"), [ALFA], push=False, reporter=reporter())


def test_unreachable_registry_is_one_sentence(repo: Path, docker_engine: str) -> None:
    ws = workspace(repo, f"127.0.0.1:{free_port()}")

    with pytest.raises(ToolError, match=r"^the registry 127\.0\.0\.1:\d+ does not answer \("):
        build_images(ws, [ALFA], push=True, reporter=reporter())


def test_missing_dockerfile_and_missing_base_image_fail_with_a_reason(
    repo: Path, registry: str, docker: DockerClient
) -> None:
    (repo / "pipelines" / GAMA / "Dockerfile").unlink()
    rep = reporter()

    report = build_images(workspace(repo, registry), [GAMA], push=False, reporter=rep)
    missing_base = build_images(
        workspace(repo, registry, python_image=f"{registry}/absent/python:3.13"),
        [ALFA],
        push=False,
        reporter=rep,
    )

    assert report.failures[0].problem.startswith(
        f"pipelines/{GAMA}/Dockerfile: missing; copy the template's Dockerfile"
    )
    assert missing_base.exit_code == 1
    base_problem, alfa_problem = (outcome.problem for outcome in missing_base.failures)
    assert re.match(
        rf"Dockerfile: an image it starts FROM \({registry}/absent/python:3\.13\) cannot be "
        "found locally or pulled;",
        base_problem,
    ), base_problem
    assert alfa_problem.startswith("not built: its base image failed")


def test_registry_login_uses_environment_credentials_and_never_shows_them(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_engine: str
) -> None:
    bcrypt = pytest.importorskip("bcrypt")
    htpasswd = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"s3cret-Passw0rd", bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"pipelines-ci:{hashed}\n")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    rep = reporter()

    with serve_registry(tmp_path / "registry", htpasswd) as address:
        ws = workspace(repo, address)
        with pytest.raises(ToolError, match=r"refused access .*PIPELINES_REGISTRY_USERNAME"):
            image_references(ws, [ALFA], rep)
        monkeypatch.setenv("PIPELINES_REGISTRY_USERNAME", "pipelines-ci")
        monkeypatch.setenv("PIPELINES_REGISTRY_PASSWORD", "wrong-Passw0rd")
        with pytest.raises(ToolError, match=r"^docker login to 127\.0\.0\.1:\d+ failed"):
            image_references(ws, [ALFA], rep)
        monkeypatch.setenv("PIPELINES_REGISTRY_PASSWORD", "s3cret-Passw0rd")
        with pytest.raises(ToolError, match=r"neither in the local store nor in the registry"):
            image_references(ws, [ALFA], rep)

    assert "s3cret-Passw0rd" not in output(rep) and "wrong-Passw0rd" not in output(rep)
    assert "Logging in to 127.0.0.1" in output(rep)


@pytest.mark.parametrize(
    ("arguments", "base", "expected"),
    [
        ([], False, BuildArguments()),
        ([ALFA, "--push", BETA], False, BuildArguments((ALFA, BETA), push=True)),
        (["--env", "staging"], False, BuildArguments(environment="staging")),
        (["--env=prod", "--push"], False, BuildArguments(push=True, environment="prod")),
        (["--push"], True, BuildArguments(push=True)),
    ],
)
def test_build_arguments(arguments: list[str], base: bool, expected: BuildArguments) -> None:
    assert parse_build_arguments(arguments, base=base) == expected


@pytest.mark.parametrize(
    ("arguments", "base", "message"),
    [
        (["--fast"], False, r"^unknown option --fast; usage: nox -s build -- \[pipeline"),
        (["--env"], False, r"^--env needs an environment name; usage:"),
        (
            [ALFA],
            True,
            r"^the base image takes no pipeline names or --env; usage: nox -s build-base",
        ),
    ],
)
def test_bad_build_arguments(arguments: list[str], base: bool, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        parse_build_arguments(arguments, base=base)


def test_build_session_rejects_unknown_options_and_pipelines() -> None:
    unknown_option = _nox("-s", "build", "--", "--fast")
    unknown_pipeline = _nox("-s", "build", "--", "rj_nada__existe")

    assert unknown_option.returncode == 1
    assert "unknown option --fast; usage: nox -s build -- [pipeline ...]" in unknown_option.stdout
    assert unknown_pipeline.returncode == 1
    assert "unknown pipeline 'rj_nada__existe'" in unknown_pipeline.stdout
    assert "Traceback" not in unknown_option.stdout + unknown_pipeline.stdout


# --- helpers --------------------------------------------------------------------------------


def _render_pipeline(folder: Path, name: str) -> None:
    """A pipeline from the repository's template, with its own pyproject.toml and flow."""
    logging.getLogger("cookiecutter").setLevel(logging.WARNING)
    secretaria, pipeline = name.removeprefix("rj_").split("__")
    cookiecutter(
        str(ROOT / "templates"),
        no_input=True,
        accept_hooks=False,
        output_dir=str(folder / "pipelines"),
        extra_context={"secretaria": secretaria, "pipeline": pipeline},
    )
    target = folder / "pipelines" / name
    shutil.rmtree(target / "tests")
    dependencies, workspace_sources = DEPENDENCIES[name]
    sources = "\n".join(f"{source} = {{ workspace = true }}" for source in workspace_sources)
    (target / "pyproject.toml").write_text(
        PIPELINE_PYPROJECT.format(name=name, dependencies=dependencies, sources=sources)
    )
    (target / "flow.py").write_text(FLOWS[name])
    for source in workspace_sources:
        if source.startswith("rj_"):  # a pipeline it imports: its folder is copied in too
            _copy_folder_too(target / "Dockerfile", source)


def _copy_folder_too(dockerfile: Path, pipeline: str) -> None:
    own = f"COPY pipelines/{dockerfile.parent.name}/"
    text = dockerfile.read_text()
    assert own in text, f"the template's Dockerfile no longer has {own}"
    dockerfile.write_text(
        text.replace(own, f"COPY pipelines/{pipeline}/ pipelines/{pipeline}/\n{own}")
    )


def _uv_lock(folder: Path) -> None:
    subprocess.run(
        ["uv", "lock", "--quiet"], cwd=folder, env=_environ(), check=True, capture_output=True
    )


def _nox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["uv", "run", "--quiet", "nox", *args],
        cwd=ROOT,
        env=_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def _environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"} and not key.startswith("GIT_")
    }
    environ.update(extra or {})
    return environ


def _buildkit_client() -> str | None:
    """A Docker client older than 23 (it runs the engine's BuildKit itself), when there is one."""
    candidates = {shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"}
    for candidate in sorted(path for path in candidates if path and Path(path).is_file()):
        version = subprocess.run(
            [candidate, "version", "--format", "{{.Client.Version}}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) < FIRST_CLIENT_WITH_BUILDX_ONLY:
            return candidate
    return None


def _label(name: str) -> str:
    return f"org.opencontainers.image.{name}"
