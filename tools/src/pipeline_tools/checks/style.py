"""ruff's lint and format check, with the root configuration, over the library and pipelines."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from pipeline_tools.checks.core import Check, Context, Finding, Rule, define
from pipeline_tools.checks.tools import json_output, run_tool

RUFF = define(
    "RUFF-*", "ruff's lint rules selected in the root pyproject.toml (`# noqa` works too)"
)
FORMAT = define("RUFF-FORMAT", "a Python file is not formatted as `ruff format` would")

# The library's Python paths, checked with the whole repository.
LIBRARY = ("noxfile.py", "src", "tools", "tests", "benchmarks")
# HYG001 already reports debugger calls (ruff's T100), once.
REPORTED_ELSEWHERE = frozenset({"T100"})


def targets(context: Context) -> list[str]:
    """The paths ruff checks: the named pipelines' folders, or the library and every pipeline."""
    folders = [context.folder(pipeline) for pipeline in context.pipelines]
    if not context.whole:
        return folders
    library = [name for name in LIBRARY if (context.settings.root / name).exists()]
    return [*library, *folders]


def lint(context: Context) -> Iterator[Finding]:
    """`ruff check` over the targets, in one run."""
    paths = targets(context)
    if not paths:
        return
    argv = ["ruff", "check", "--output-format", "json", "--no-fix", "--force-exclude", *paths]
    data, failed = json_output("ruff", run_tool(context, argv))
    if failed is not None:
        yield failed
        return
    for item in data if isinstance(data, list) else []:
        code = str(item.get("code") or "syntax")
        if code not in REPORTED_ELSEWHERE:
            yield _finding(context, item, RUFF, str(item.get("message", "")), code)


def format_check(context: Context) -> Iterator[Finding]:
    """`ruff format --check` over the targets, in one run."""
    paths = targets(context)
    if not paths:
        return
    argv = ["ruff", "format", "--check", "--output-format", "json", "--force-exclude", *paths]
    data, failed = json_output("ruff format", run_tool(context, argv))
    if failed is not None:
        yield failed
        return
    for item in data if isinstance(data, list) else []:
        path = _relative(context, str(item.get("filename", "")))
        message = f"not formatted as ruff format would write it; run uv run ruff format {path}"
        yield _finding(context, item, FORMAT, message)


def _finding(
    context: Context, item: Mapping[str, object], rule: Rule, message: str, code: str = ""
) -> Finding:
    path = _relative(context, str(item.get("filename", "")))
    location = item.get("location")
    row = location.get("row") if isinstance(location, dict) else None
    column = location.get("column") if isinstance(location, dict) else None
    return rule.at(
        path,
        row if isinstance(row, int) else 1,
        message,
        column=column if isinstance(column, int) else 1,
        pipeline=context.owner(path),
        code=code,
    )


def _relative(context: Context, filename: str) -> str:
    path = Path(filename)
    try:
        return path.resolve().relative_to(context.settings.root.resolve()).as_posix()
    except ValueError:
        return filename


LINT_CHECK = Check("ruff", lint, tool="ruff")
FORMAT_CHECK = Check("ruff format", format_check, tool="ruff format")
