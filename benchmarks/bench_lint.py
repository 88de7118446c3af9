"""How long `nox -s lint` takes over a workspace of 200 pipelines made from the template.

Usage: uv run python benchmarks/bench_lint.py [--pipelines 200] [--rounds 3] [--sample 10]

It renders the template `--pipelines` times into a fresh uv workspace (this repository's root
files, tools/, src/ and templates/, locked once, committed to a git repository in a temporary
folder), then times, in the same run:

1. The repository-specific checks (`run_checks(..., tools=())`, every rule but the external
   linters) over all pipelines, in a fresh process each round so that importing Prefect is
   counted; median of the rounds, and where the time goes. Against it: the same checks run
   as one process per pipeline, as `lint(<name>)` sessions of a CI matrix would, measured on
   `--sample` pipelines and projected to all of them.
2. Each external linter once over the whole workspace, and all of them together as the
   session runs them (concurrently, while the repository-specific checks run). Against the
   batched deptry run: one `deptry` process per pipeline, measured on `--sample` pipelines.
3. The whole session as a user runs it: `nox -s lint` and `nox -s lint -- --no-external`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The root files a workspace needs besides its pipelines.
ROOT_FILES = ("pyproject.toml", "uv.lock", ".gitignore", "Dockerfile", "noxfile.py")
ROOT_FOLDERS = ("src", "tools", "templates")


def main() -> int:
    """Build the workspace, run every measurement, print the figures."""
    options = _options()
    if options.child:
        return _child(Path(options.child), options.tools, options.names)
    with tempfile.TemporaryDirectory(prefix="bench-lint-") as folder:
        root = Path(options.workspace or Path(folder) / "repo")
        started = time.monotonic()
        names = _workspace(root, options.pipelines)
        print(f"workspace: {len(names)} pipelines in {time.monotonic() - started:.1f} s\n")
        _repository_specific(root, names, options.rounds, options.sample)
        _external(root, names, options.sample)
        _sessions(root)
    return 0


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--workspace", help="build the workspace here (reused if it exists)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tools", nargs="*", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--names", nargs="*", default=[], help=argparse.SUPPRESS)
    return parser.parse_args()


def _workspace(root: Path, count: int) -> list[str]:
    """Root files, tools/, src/, templates/ and `count` rendered pipelines, locked, committed."""
    from cookiecutter.main import cookiecutter  # noqa: PLC0415 - only the parent renders

    names = [f"rj_sme__bench_{index:03d}" for index in range(count)]
    if (root / ".git").is_dir():
        return names

    listed = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in listed.split("\0"):
        if name in ROOT_FILES or name.startswith(tuple(f"{f}/" for f in ROOT_FOLDERS)):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    names = []
    for index in range(count):
        context = {"secretaria": "sme", "pipeline": f"bench_{index:03d}"}
        output = str(root / "pipelines")
        cookiecutter(
            str(root / "templates"), no_input=True, output_dir=output, extra_context=context
        )
        names.append(f"rj_sme__bench_{index:03d}")
    subprocess.run(["uv", "lock", "--quiet"], cwd=root, check=True)
    _git(root, "init", "--quiet", "--initial-branch=main")
    _git(root, "add", "--all")
    _git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "x")
    return names


def _git(folder: Path, *arguments: str) -> str:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    completed = subprocess.run(
        ["git", *arguments], cwd=folder, env=environ, capture_output=True, text=True, check=True
    )
    return completed.stdout


def _child_run(
    root: Path, tools: Sequence[str] | None, names: Sequence[str] = ()
) -> dict[str, float]:
    """Run this script as a child that times one `run_checks`; its figures and its wall time."""
    argv = [sys.executable, __file__, "--child", str(root), "--names", *names]
    argv += ["--tools", *tools] if tools is not None else []
    started = time.monotonic()
    completed = subprocess.run(argv, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(completed.stdout)
    figures["process"] = time.monotonic() - started
    return figures


def _child(root: Path, tools: Sequence[str] | None, names: Sequence[str]) -> int:
    """In the child: time `run_checks`, then each repository-specific check on its own."""
    started = time.monotonic()
    from pipeline_tools.checks import CHECKS, run_checks  # noqa: PLC0415 - timed
    from pipeline_tools.checks.core import Context  # noqa: PLC0415 - timed
    from pipeline_tools.checks.sources import Sources  # noqa: PLC0415 - timed
    from pipeline_tools.reporter import Reporter  # noqa: PLC0415 - timed
    from pipeline_tools.settings import load_settings  # noqa: PLC0415 - timed
    from pipeline_tools.workspace import discover  # noqa: PLC0415 - timed

    figures = {"imports": time.monotonic() - started}
    reporter = Reporter(io.StringIO(), io.StringIO())
    workspace = discover(load_settings(root, environ={}))
    figures["discover"] = time.monotonic() - started - figures["imports"]
    builtin = tools is None
    checked = time.monotonic()
    findings = run_checks(workspace, names, tools=tools or [], builtin=builtin, reporter=reporter)
    figures["run_checks"] = time.monotonic() - checked
    figures["findings"] = len(findings)
    if builtin and not names:
        context = Context(workspace, workspace.pipelines, True, Sources(root), reporter)
        for check in CHECKS:
            begun = time.monotonic()
            list(check.run(context))
            figures[f"check {check.name}"] = time.monotonic() - begun
    print(json.dumps(figures))
    return 0


def _repository_specific(root: Path, names: list[str], rounds: int, sample: int) -> None:
    runs = [_child_run(root, None) for _ in range(rounds)]
    median = statistics.median(run["run_checks"] for run in runs)
    process = statistics.median(run["process"] for run in runs)
    print(f"1. repository-specific checks over {len(names)} pipelines (median of {rounds}):")
    print(f"   run_checks(tools=()), Prefect's import included: {median:6.2f} s")
    print(f"   the whole process (interpreter, imports):        {process:6.2f} s")
    print(f"   findings: {runs[0]['findings']:.0f}; each check again, Prefect loaded (last round):")
    for key, value in sorted(runs[-1].items()):
        if key.startswith("check ") or key in {"imports", "discover"}:
            print(f"     {key:<28} {value:6.2f} s")
    singles = [_child_run(root, None, [name])["process"] for name in names[:sample]]
    _against("one process per pipeline", statistics.mean(singles), sample, len(names), process)


def _against(what: str, each: float, sample: int, count: int, ours: float) -> None:
    projected = each * count
    print(f"   against {what}: {each:.2f} s each (mean of {sample}),")
    print(f"     {projected:.1f} s projected to {count}: {projected / ours:.1f}x this run\n")


def _external(root: Path, names: list[str], sample: int) -> None:
    from pipeline_tools.checks import TOOLS  # noqa: PLC0415 - the parent needs only the names

    print(f"2. external linters, each once over the {len(names)} pipelines and the library:")
    for tool in TOOLS:
        figures = _child_run(root, [tool])
        print(f"   {tool:<16} {figures['run_checks']:6.2f} s  ({figures['findings']:.0f} findings)")
    together = _child_run(root, list(TOOLS))
    print(f"   all, concurrently: {together['run_checks']:5.2f} s")
    deptry = shutil.which("deptry", path=str(Path(sys.executable).parent)) or "deptry"
    started = time.monotonic()
    for name in names[:sample]:
        folder = root / "pipelines" / name
        argv = [deptry, ".", "--known-first-party", name, "--json-output", os.devnull]
        subprocess.run(argv, cwd=folder, capture_output=True, check=False)
    each = (time.monotonic() - started) / sample
    batched = _child_run(root, ["deptry"])["run_checks"]
    print(f"   deptry, all pipelines in one process: {batched:.2f} s")
    _against("one deptry process per pipeline", each, sample, len(names), batched)


def _sessions(root: Path) -> None:
    print("3. the session as a user runs it (wall clock, nox included):")
    for arguments in (["--no-external"], []):
        argv = [sys.executable, "-m", "nox", "-f", str(root / "noxfile.py"), "-s", "lint", "--"]
        started = time.monotonic()
        completed = subprocess.run(
            [*argv, *arguments], cwd=root, capture_output=True, text=True, check=False
        )
        seconds = time.monotonic() - started
        closing = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
        print(f"   nox -s lint -- {' '.join(arguments):<14} {seconds:6.2f} s  ({closing})")


if __name__ == "__main__":
    sys.exit(main())
