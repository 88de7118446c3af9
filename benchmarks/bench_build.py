"""How fast images rebuild after a flow change, and how fast a no-op build of pushed images is.

Run by hand, with a Docker engine and docker-registry on the machine (scripts/docker-engine.sh;
where no public registry is reachable, first `eval "$(scripts/standin-images.sh)"`):

    uv run python benchmarks/bench_build.py [--pipeline NAME] [--rounds 3] [--count 20]

It works in a copy of this repository (a fresh git repository in a temporary folder) and a
registry of its own on 127.0.0.1, with the settings of the environment (PIPELINES_* variables:
the builder follows PIPELINES_DOCKER_BINARY and PIPELINES_BUILDER). Timed, in the same run:

1. A rebuild after a change to flow.py alone (a new comment line each round), median of the
   rounds: this project's layering (`build_images`: base image, a dependency layer synced from
   the lock, then a COPY of the pipeline's files) against the single-layer layering common in
   such monorepos (COPY pyproject.toml, uv.lock, the shared code and the pipeline, then one
   `uv sync --package`), built by the same engine, builder and network, with the same uv
   settings and the same cache mount where the builder has one. Printed as a ratio.
2. A no-op build of `--count` pipelines (rendered from the template) whose images the registry
   already holds: `build_images(..., push=True)` and the whole `nox -s build -- ... --push`.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cookiecutter.main import cookiecutter

from pipeline_tools.images import Status, build_images
from pipeline_tools.images.context import materialize, pipeline_context
from pipeline_tools.images.dockerfile import for_legacy_builder
from pipeline_tools.images.engine import Builder, BuildRequest, Engine, connect
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import Workspace, discover

ROOT = Path(__file__).resolve().parent.parent
SINGLE_LAYER = """\
ARG PYTHON_IMAGE
ARG UV_IMAGE
FROM ${{UV_IMAGE}} AS uv
FROM ${{PYTHON_IMAGE}}
COPY --from=uv /uv /uvx /usr/local/bin/
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 \\
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY src/ src/
COPY pipelines/{name}/ pipelines/{name}/
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --package {name}
"""


def main() -> None:
    """Set up the copy and the registry, run both measurements, print the figures."""
    options = _options()
    logging.getLogger("cookiecutter").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-build-") as temporary:
        folder = Path(temporary)
        with _registry(folder / "registry") as address:
            repo = _copy_repository(folder / "repo")
            environ = {**os.environ, "PIPELINES_REGISTRY": f"{address}/bench"}
            workspace = discover(load_settings(repo, environ))
            engine = connect(workspace.settings)
            print(engine.describe())
            try:
                _layering(workspace, engine, options.pipeline, options.rounds, folder)
                _no_op(repo, environ, options.count)
            finally:
                _remove_images(engine, address)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="rj_smas__cadastro_unico")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=20)
    return parser.parse_args()


# --- 1. rebuild after a flow.py-only change ----------------------------------------------------


def _layering(workspace: Workspace, engine: Engine, name: str, rounds: int, folder: Path) -> None:
    flow = workspace.get(name).flow_file
    single = _single_layer_request(workspace, engine, name, folder / "single")
    print(f"\n1. Rebuild of {name} after a flow.py-only change, {rounds} rounds")
    started = time.monotonic()
    _ours(workspace, name)
    _build(engine, single)
    print(f"   first builds (not counted): {time.monotonic() - started:.1f}s")
    ours, theirs = [], []
    for round_number in range(rounds):
        _touch_flow(flow, round_number)
        ours.append(_timed(lambda: _ours(workspace, name)))
        _touch_flow(single.context / "pipelines" / name / "flow.py", round_number)
        theirs.append(_timed(lambda: _build(engine, single)))
    mine, other = statistics.median(ours), statistics.median(theirs)
    print(f"   this project's layering: {_seconds(ours)} -> median {mine:.2f}s")
    print(f"   single-layer layering:   {_seconds(theirs)} -> median {other:.2f}s")
    print(f"   ratio: {other / mine:.1f}x faster (aim: at least 3x)")


def _ours(workspace: Workspace, name: str) -> None:
    report = build_images(workspace, [name], push=False, reporter=_quiet())
    if report.exit_code:
        sys.exit(f"build of {name} failed: {report.failures[0].problem}")


def _single_layer_request(
    workspace: Workspace, engine: Engine, name: str, folder: Path
) -> BuildRequest:
    root = workspace.settings.root
    context = materialize(pipeline_context(workspace, workspace.get(name)), folder / "context")
    shutil.copytree(root / "src", context / "src")
    shutil.copy(root / "README.md", context / "README.md")
    text = SINGLE_LAYER.format(name=name)
    if engine.builder is Builder.LEGACY:
        text = for_legacy_builder(text, "single-layer Dockerfile")
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(text)
    settings = workspace.settings
    build_args = {"PYTHON_IMAGE": settings.python_image, "UV_IMAGE": settings.uv_image}
    return BuildRequest(context, dockerfile, build_args, {}, [f"bench-single-layer/{name}:x"])


def _build(engine: Engine, request: BuildRequest) -> None:
    for _ in engine.build(request):
        pass


def _touch_flow(flow: Path, round_number: int) -> None:
    with flow.open("a") as handle:
        handle.write(f"# benchmark round {round_number} at {time.time_ns()}\n")


# --- 2. no-op build of pipelines already pushed -----------------------------------------------


def _no_op(repo: Path, environ: dict[str, str], count: int) -> None:
    names = _render_pipelines(repo, count)
    workspace = discover(load_settings(repo, environ))
    print(f"\n2. No-op build of {count} pipelines already in the registry")
    first = _timed(lambda: _push(workspace, names, expect_present=False))
    print(f"   first build and push (not counted): {first:.1f}s")
    library = [_timed(lambda: _push(workspace, names, expect_present=True)) for _ in range(3)]
    median = statistics.median(library)
    print(f"   build_images(push=True): {_seconds(library)} -> median {median:.2f}s")
    command = ["uv", "run", "--quiet", "nox", "-s", "build", "--", *names, "--push"]
    _run(command, repo, environ)  # the copy's environment is created on the first run
    session = [_timed(lambda: _run(command, repo, environ)) for _ in range(3)]
    print(
        f"   {' '.join(command[:6])} ... --push: {_seconds(session)}"
        f" -> median {statistics.median(session):.2f}s (aim: under 5s)"
    )


def _render_pipelines(repo: Path, count: int) -> list[str]:
    names = []
    for number in range(1, count + 1):
        cookiecutter(
            str(ROOT / "templates"),
            no_input=True,
            accept_hooks=False,
            output_dir=str(repo / "pipelines"),
            extra_context={"secretaria": "bench", "pipeline": f"p{number:02d}"},
        )
        names.append(f"rj_bench__p{number:02d}")
    subprocess.run(["uv", "lock", "--quiet"], cwd=repo, env=_clean(os.environ), check=True)
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--message", "pipelines for the benchmark")
    return names


def _push(workspace: Workspace, names: list[str], *, expect_present: bool) -> None:
    report = build_images(workspace, names, push=True, reporter=_quiet())
    if report.exit_code:
        sys.exit(f"push failed: {report.failures[0].problem}")
    present = all(outcome.status is Status.PRESENT for outcome in report.outcomes)
    if expect_present and not present:
        sys.exit("a no-op build built or pushed something")


# --- set-up -----------------------------------------------------------------------------------


def _copy_repository(destination: Path) -> Path:
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        env=_clean(os.environ),
    ).stdout.decode()
    for name in sorted({n for n in listing.split("\0") if n and (ROOT / n).is_file()}):
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination / name)
    _git(destination, "init", "--quiet", "--initial-branch=main")
    _git(destination, "add", "--all")
    _git(destination, "commit", "--quiet", "--message", "copy for the benchmark")
    return destination


@contextmanager
def _registry(folder: Path) -> Iterator[str]:
    folder.mkdir(parents=True)
    port = _free_port()
    config = folder / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {folder / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the registry did not answer on 127.0.0.1:{port}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _remove_images(engine: Engine, address: str) -> None:
    tags = [
        tag
        for image in engine.client.image.list()
        for tag in image.repo_tags
        if tag.startswith((address, "bench-single-layer/"))
    ]
    if tags:
        engine.client.image.remove(tags, force=True)


def _git(repo: Path, *args: str) -> None:
    environ = _clean(os.environ)
    environ.update(GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com")
    environ.update(GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com")
    subprocess.run(["git", *args], cwd=repo, env=environ, check=True, capture_output=True)


def _run(command: list[str], cwd: Path, environ: dict[str, str]) -> None:
    completed = subprocess.run(
        command, cwd=cwd, env=_clean(environ), capture_output=True, check=False
    )
    if completed.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stdout.decode()}")


def _clean(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    return {
        key: value
        for key, value in environ.items()
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"} and not key.startswith("GIT_")
    }


def _timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}s" for value in values)


def _quiet() -> Reporter:
    return Reporter(out=io.StringIO(), err=io.StringIO())


if __name__ == "__main__":
    main()
