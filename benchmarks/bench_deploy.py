"""Registering deployments: this project's deploy against one `prefect deploy` per deployment.

A generated workspace of 60 pipelines (two scheduled prod deployments each: 120 deployments)
is registered against local Prefect servers (SQLite, 127.0.0.1), each started fresh:

- baseline: `prefect --no-prompt deploy --name N --prefect-file F`, one process per
  deployment, three at a time (the approach common in such monorepos);
- ours, first registration: one process running the deploy step (`register_plan`) over the
  plan of every prod deployment, at each concurrency given;
- ours again with nothing changed: every deployment read, compared, left untouched;
- `uv run nox -s deploy-prod` with nothing affected (the environment stands at HEAD).

Usage: uv run python benchmarks/bench_deploy.py [--pipelines 60] [--concurrency 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The test fixtures' helpers, importable once tests/ is on the path.
from conftest import (  # noqa: E402
    PrefectServer,
    copy_repository,
    free_port,
    generate_pipelines,
    git,
)

IMAGE = "registry.example/rj_gen:bench"
PREFECT = str(Path(sys.executable).parent / "prefect")
REGISTER = """
import sys
from pathlib import Path
from pipeline_tools.deploy import register_plan
from pipeline_tools.plan import make_plan
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import discover

workspace = discover(load_settings(Path(sys.argv[1])))
reporter = Reporter(out=open("/dev/null", "w"))
plan = make_plan(workspace, environment="prod", all_pipelines=True, reporter=reporter)
images = {pipeline.name: sys.argv[2] for pipeline in workspace.pipelines}
sys.exit(register_plan(workspace, plan, images, reporter))
"""


def main() -> None:
    """Generate the workspace, run each approach against its own fresh server, print ratios."""
    options = _options()
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as folder:
        repo = _workspace(Path(folder), options.pipelines)
        names = _prod_deployments(repo)
        print(f"{len(names)} prod deployments in {options.pipelines} generated pipelines")
        baseline = _with_server(Path(folder) / "baseline", lambda url: _baseline(repo, url, names))
        print(f"baseline, prefect deploy per deployment, 3 at a time: {baseline:.1f} s")
        for concurrency in options.concurrency:
            first, again, nox = _with_server(
                Path(folder) / f"ours-{concurrency}", lambda url, c=concurrency: _ours(repo, url, c)
            )
            print(
                f"ours (local_deploy_concurrency={concurrency}): first {first:.1f} s "
                f"({baseline / first:.1f}x), unchanged {again:.2f} s ({baseline / again:.0f}x), "
                f"nox -s deploy-prod with nothing affected {nox:.2f} s"
            )


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pipelines", type=int, default=60)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    return parser.parse_args()


def _workspace(folder: Path, count: int) -> Path:
    """A copy of this repository with `count` generated pipelines, committed, its env synced."""
    repo = copy_repository(folder / "repo")
    generate_pipelines(repo, count)
    _run(["uv", "lock", "--quiet"], repo)
    _run(["uv", "sync", "--quiet"], repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "generated workspace")
    return repo


def _prod_deployments(repo: Path) -> list[tuple[str, Path]]:
    found = []
    for prefect_yaml in sorted((repo / "pipelines").glob("*/prefect.yaml")):
        for line in prefect_yaml.read_text().splitlines():
            name = line.strip().removeprefix("- name: ")
            if line.strip().startswith("- name:") and name.endswith("--prod"):
                found.append((name, prefect_yaml.relative_to(repo)))
    return found


def _with_server(home: Path, measure):  # type: ignore[no-untyped-def]
    server = PrefectServer(home=home, port=free_port())
    server.start()
    try:
        server.create_process_pools("prod-pool", "staging-pool")
        return measure(server.url)
    finally:
        server.stop()


def _baseline(repo: Path, url: str, names: list[tuple[str, Path]]) -> float:
    environ = _environ(url) | {"PIPELINE_IMAGE": IMAGE}

    def one(item: tuple[str, Path]) -> int:
        argv = [PREFECT, "--no-prompt", "deploy", "--name", item[0], "--prefect-file", str(item[1])]
        done = subprocess.run(argv, cwd=repo, env=environ, capture_output=True, check=False)
        return done.returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=3) as pool:
        codes = list(pool.map(one, names))
    elapsed = time.perf_counter() - started
    assert codes.count(0) == len(names), f"{len(names) - codes.count(0)} prefect deploys failed"
    return elapsed


def _ours(repo: Path, url: str, concurrency: int) -> tuple[float, float, float]:
    environ = _environ(url) | {"PIPELINES_LOCAL_DEPLOY_CONCURRENCY": str(concurrency)}
    python = str(repo / ".venv" / "bin" / "python")
    argv = [python, "-c", REGISTER, str(repo), IMAGE]
    first = _timed(argv, repo, environ)
    again = _timed(argv, repo, environ)
    _timed(["uv", "run", "--quiet", "nox", "-s", "deploy-prod"], repo, environ)  # warm caches
    nox = _timed(["uv", "run", "--quiet", "nox", "-s", "deploy-prod"], repo, environ)
    return first, again, nox


def _timed(argv: list[str], cwd: Path, environ: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, f"{argv[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return elapsed


def _environ(url: str) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"} and not key.startswith("GIT_")
    }
    return environ | {"PREFECT_API_URL": url, "PREFECT_HOME": tempfile.mkdtemp()}


def _run(argv: list[str], cwd: Path) -> None:
    subprocess.run(argv, cwd=cwd, env=_environ(""), check=True)


if __name__ == "__main__":
    if shutil.which("uv") is None:
        sys.exit("uv is not on PATH")
    main()
