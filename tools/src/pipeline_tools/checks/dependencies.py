"""Imports are satisfied by the pipeline's own pyproject.toml (deptry), and uv.lock is in sync."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pipeline_tools.checks.core import Check, Context, Finding, define
from pipeline_tools.checks.tools import ToolResult, failure, run_tool

DEPTRY = define(
    "DEPTRY-*",
    "deptry: DEP001 undeclared import, DEP002 unused, DEP003 transitive, DEP004 dev-only",
)
LOCK = define(
    "LOCK001",
    "uv.lock is out of sync with the pyproject.toml files (uv lock --check)",
    line_silence=False,
    pipeline_silence=False,
)

DRIVER = Path(__file__).with_name("_deptry_batch.py")
FIXES = {
    "DEP001": "declare it in [project] dependencies of {pyproject}, then run uv lock",
    "DEP002": "remove it from {pyproject}, or import it",
    "DEP003": "declare it directly in [project] dependencies of {pyproject}",
    "DEP004": "move it from the dev group to [project] dependencies of {pyproject}",
}


def deptry(context: Context) -> Iterator[Finding]:
    """deptry for every pipeline under check, in one process."""
    if not context.pipelines:
        return
    with tempfile.TemporaryDirectory(prefix="deptry-") as folder:
        jobs = [
            {
                "folder": context.folder(pipeline),
                "package": pipeline.name,
                "output": str(Path(folder) / f"{index}.json"),
            }
            for index, pipeline in enumerate(context.pipelines)
        ]
        shown = ["deptry", f"<{len(jobs)} pipelines, each against its own pyproject.toml>"]
        result = run_tool(
            context, [sys.executable, str(DRIVER)], shown=shown, stdin=json.dumps(jobs)
        )
        if isinstance(result, Finding):
            yield result
            return
        for job in jobs:
            yield from _report(context, job, result)


def _report(context: Context, job: Mapping[str, str], result: ToolResult) -> Iterator[Finding]:
    try:
        items = json.loads(Path(job["output"]).read_text("utf-8"))
    except (OSError, ValueError):
        yield failure("deptry", f"could not check {job['folder']}", result)
        return
    pyproject = f"{job['folder']}/pyproject.toml"
    for item in items if isinstance(items, list) else []:
        yield _finding(context, job, pyproject, item)


def _finding(
    context: Context, job: Mapping[str, str], pyproject: str, item: Mapping[str, Any]
) -> Finding:
    error = item.get("error") or {}
    code = str(error.get("code", "DEP"))
    location = item.get("location") or {}
    file = str(location.get("file") or "pyproject.toml")
    path = f"{job['folder']}/{file.removeprefix('./')}"
    fix = FIXES.get(code, "see https://deptry.com/rules-violations/").format(pyproject=pyproject)
    return DEPTRY.at(
        path,
        location.get("line") or 1,
        f"{error.get('message', '')}; {fix}",
        column=location.get("column") or 1,
        pipeline=context.owner(path),
        code=code,
    )


def lock(context: Context) -> Iterator[Finding]:
    """`uv lock --check`, offline: one repository-wide finding when the lock is stale."""
    result = run_tool(context, ["uv", "lock", "--check", "--offline"])
    if isinstance(result, Finding):
        yield result
        return
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
        detail = lines[0].removeprefix("error: ") if lines else f"status {result.returncode}"
        message = (
            f"uv.lock does not match the pyproject.toml files ({detail}); run uv lock and "
            "commit uv.lock"
        )
        yield LOCK.at("uv.lock", 1, message)


DEPTRY_CHECK = Check("deptry", deptry, tool="deptry")
LOCK_CHECK = Check("uv lock --check", lock, tool="uv")
