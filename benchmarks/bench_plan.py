"""How long `plan` takes on a workspace of 200 pipelines with a 1,000-commit history.

Run by hand: `uv run python benchmarks/bench_plan.py [--keep]`.

The workspace is rendered from the template (200 pipelines, some importing or depending on
another, one installing openpyxl) and locked by uv; the history is written with
`git fast-import`: one commit with every file, 997 commits each changing one pipeline's query,
then a one-file change (a query in a pipeline's subfolder) and a lock change (openpyxl upgraded,
nothing else). Timed, as the median of several runs:
- the plan itself (`discover` + `make_plan`) for the one-file change and for the lock change;
- the whole `uv run nox -s plan -- --json` command for each;
- the named alternative, common in such monorepos: `git diff --name-only sha^ sha` and the
  parent folder of each changed file, with what it finds (it deploys nothing for either).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cookiecutter.main import cookiecutter

from pipeline_tools.plan import make_plan
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import discover

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The test fixtures' helpers, importable once tests/ is on the path.
from conftest import seed_root_pyproject  # noqa: E402

PIPELINES = 200
COMMITS = 1000
RUNS = 5
OLD_OPENPYXL = "3.1.2"
IMPORTER, DEPENDENT = 5, 6  # in every ten pipelines: one imports the one before it, the next
# depends on that one through the workspace (so a change to the 4th affects the 5th and 6th)

ROOT_PYPROJECT = seed_root_pyproject()


def pipeline_name(index: int) -> str:
    return f"rj_sec{index % 20:02d}__pipeline_{index:03d}"


def environ() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"} and not key.startswith("GIT_")
    }


def render_workspace(folder: Path) -> None:
    """Root files and 200 pipelines from the template, with imports and workspace sources."""
    (folder / "src" / "prefect_rj_iplanrio").mkdir(parents=True)
    (folder / "src" / "prefect_rj_iplanrio" / "__init__.py").write_text('"""Helpers."""\n')
    (folder / "pyproject.toml").write_text(ROOT_PYPROJECT)
    (folder / "Dockerfile").write_text("ARG BASE=python:3.13-slim-bookworm\nFROM ${BASE}\n")
    (folder / "README.md").write_text("# pipelines\n")
    logging.getLogger("cookiecutter").setLevel(logging.WARNING)
    for index in range(PIPELINES):
        secretaria, pipeline = pipeline_name(index).removeprefix("rj_").split("__")
        cookiecutter(
            str(ROOT / "templates"),
            no_input=True,
            accept_hooks=False,
            output_dir=str(folder / "pipelines"),
            extra_context={"secretaria": secretaria, "pipeline": pipeline},
        )
        shape_pipeline(folder / "pipelines", index)


def shape_pipeline(pipelines: Path, index: int) -> None:
    """A query in a subfolder everywhere; every tenth pipeline imports the one before it and
    the next one depends on it through the workspace; the first one installs openpyxl."""
    folder = pipelines / pipeline_name(index)
    (folder / "queries").mkdir()
    (folder / "queries" / "main.sql").write_text("select 0\n")
    if index % 10 == IMPORTER:
        flow = folder / "flow.py"
        flow.write_text(f"import {pipeline_name(index - 1)}\n" + flow.read_text())
    if index % 10 == DEPENDENT:
        dependency = pipeline_name(index - 1)
        edit(
            folder / "pyproject.toml",
            '"prefect_rj_iplanrio",',
            f'"prefect_rj_iplanrio", "{dependency}",',
        )
        edit(
            folder / "pyproject.toml",
            "[tool.uv.sources]",
            f"[tool.uv.sources]\n{dependency} = {{workspace = true}}",
        )
    if index == 0:
        edit(folder / "pyproject.toml", '"prefect>=3.4,<4",', '"prefect>=3.4,<4", "openpyxl>=3",')


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        sys.exit(f"{path} has no {old!r}; the template changed, update the benchmark")
    path.write_text(text.replace(old, new, 1))


def lock(folder: Path, package: str) -> bytes:
    started = time.perf_counter()
    command = ["uv", "lock", "--quiet", "--upgrade-package", package]
    subprocess.run(command, cwd=folder, env=environ(), check=True)
    print(f"  uv lock --upgrade-package {package}: {time.perf_counter() - started:.1f} s")
    return (folder / "uv.lock").read_bytes()


def fast_import_stream(folder: Path, old_lock: bytes, new_lock: bytes) -> bytes:
    """The whole history as one `git fast-import` stream."""
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    chunks = [commit_header(1, "every pipeline", None)]
    for path in files:
        content = old_lock if path.name == "uv.lock" else path.read_bytes()
        chunks.append(inline(path.relative_to(folder).as_posix(), content))
    for number in range(2, COMMITS - 1):
        query = f"pipelines/{pipeline_name(number % PIPELINES)}/queries/main.sql"
        chunks.append(commit_header(number, f"query {number}", number - 1))
        chunks.append(inline(query, f"select {number}\n".encode()))
    one_file = f"pipelines/{pipeline_name(124)}/queries/main.sql"
    chunks.append(commit_header(COMMITS - 1, "one-file change", COMMITS - 2))
    chunks.append(inline(one_file, b"select 'one file'\n"))
    chunks.append(commit_header(COMMITS, "upgrade openpyxl", COMMITS - 1))
    chunks.append(inline("uv.lock", new_lock))
    return b"".join(chunks)


def commit_header(number: int, message: str, parent: int | None) -> bytes:
    text = message.encode()
    header = (
        f"commit refs/heads/main\nmark :{number}\n"
        f"committer Bench <bench@example.com> {1_700_000_000 + number * 60} +0000\n"
        f"data {len(text)}\n"
    ).encode()
    return header + text + (f"\nfrom :{parent}\n" if parent else "\n").encode()


def inline(path: str, content: bytes) -> bytes:
    return f"M 100644 inline {path}\ndata {len(content)}\n".encode() + content + b"\n"


def make_history(folder: Path) -> None:
    print("locking the workspace twice (openpyxl old, then upgraded)")
    old_lock = lock(folder, f"openpyxl=={OLD_OPENPYXL}")
    new_lock = lock(folder, "openpyxl")
    started = time.perf_counter()
    stream = fast_import_stream(folder, old_lock, new_lock)
    git(folder, "init", "--quiet", "--initial-branch=main")
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=folder, input=stream, env=environ(), check=True
    )
    git(folder, "reset", "--quiet", "--hard", "main")
    count = git(folder, "rev-list", "--count", "HEAD").strip()
    print(f"  {count} commits written by git fast-import in {time.perf_counter() - started:.1f} s")


def git(folder: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=folder, env=environ(), capture_output=True, check=True
    )
    return completed.stdout.decode()


def median_seconds(action: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def plan_itself(folder: Path, base: str, head: str) -> list[str]:
    """discover + make_plan, as the deploy step runs them."""
    workspace = discover(load_settings(folder, environ={}))
    quiet = Reporter(out=io.StringIO(), err=io.StringIO())
    plan = make_plan(
        workspace, environment="staging", base=base, head=head, reporter=quiet, environ={}
    )
    return [pipeline.name for pipeline in plan.pipelines]


def whole_session(folder: Path, base: str, head: str) -> None:
    noxfile = folder / "noxfile.py"
    argv = ["uv", "run", "--project", str(ROOT), "nox", "-f", str(noxfile), "-s", "plan", "--"]
    argv += ["--env", "staging", "--base", base, "--head", head, "--json"]
    subprocess.run(argv, cwd=folder, env=environ(), capture_output=True, check=True)


def parent_folders(folder: Path, base: str, head: str) -> list[str]:
    """The alternative: the parent folder of every file `git diff` names, when it is a pipeline."""
    output = git(folder, "diff", "--name-only", base, head)
    parents = {Path(name).parent for name in output.split()}
    return sorted(p.name for p in parents if p.parent.as_posix() == "pipelines")


def measure(folder: Path, label: str, base: str, head: str) -> None:
    found = plan_itself(folder, base, head)
    naive = parent_folders(folder, base, head)
    plan_seconds = median_seconds(lambda: plan_itself(folder, base, head))
    session_seconds = median_seconds(lambda: whole_session(folder, base, head))
    naive_seconds = median_seconds(lambda: parent_folders(folder, base, head))
    print(f"\n{label} ({base}..{head})")
    print(f"  plan finds   {len(found)}: {', '.join(found)}")
    print(f"  parent-folder diff finds {len(naive)}: {', '.join(naive) or 'nothing'}")
    print(f"  plan itself (discover + make_plan): {plan_seconds:.3f} s (aim: under 1 s)")
    print(f"  uv run nox -s plan -- ... --json:   {session_seconds:.3f} s (aim: under 3 s)")
    print(f"  parent-folder diff:                 {naive_seconds:.3f} s")
    print(f"  ratio plan / parent-folder diff:    {plan_seconds / naive_seconds:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the generated repository")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-plan-")) / "repo"
    print(f"rendering {PIPELINES} pipelines from the template into {folder}")
    started = time.perf_counter()
    render_workspace(folder)
    print(f"  rendered in {time.perf_counter() - started:.1f} s")
    make_history(folder)
    shutil.copy(ROOT / "noxfile.py", folder / "noxfile.py")
    print(f"medians of {RUNS} runs each")

    measure(folder, "one-file change in a pipeline's subfolder", "HEAD~2", "HEAD~1")
    measure(folder, "lock change (openpyxl upgraded for one pipeline)", "HEAD~1", "HEAD")
    if not options.keep:
        shutil.rmtree(folder.parent)


if __name__ == "__main__":
    main()
