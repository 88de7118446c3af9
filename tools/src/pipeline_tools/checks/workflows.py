"""GitHub Actions workflows pass actionlint and zizmor (offline)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pipeline_tools.checks.core import Check, Context, Finding, Severity, define
from pipeline_tools.checks.tools import ToolResult, failure, json_output, run_tool

ACTIONLINT = define("ACTIONLINT-*", "actionlint's checks of .github/workflows (by kind)")
ZIZMOR = define(
    "ZIZMOR-*", "zizmor's security audits of .github/workflows; low-severity ones are warnings"
)

WORKFLOWS = ".github/workflows/"
ZIZMOR_ERRORS = frozenset({"high", "medium"})
ZIZMOR_FINDINGS = frozenset(range(10, 15))  # exit statuses that mean "ran, and found"


def workflow_files(context: Context) -> list[str]:
    """The workflow files, checked with the whole repository only."""
    if not context.whole:
        return []
    return [
        name
        for name in context.sources.files()
        if name.startswith(WORKFLOWS) and name.endswith((".yml", ".yaml"))
    ]


def actionlint(context: Context) -> Iterator[Finding]:
    """actionlint over every workflow, in one run."""
    files = workflow_files(context)
    if not files:
        return
    argv = ["actionlint", "-no-color", "-format", "{{json .}}", *files]
    data, failed = json_output("actionlint", run_tool(context, argv))
    if failed is not None:
        yield failed
        return
    for item in data if isinstance(data, list) else []:
        yield ACTIONLINT.at(
            str(item.get("filepath", "")),
            _integer(item.get("line")),
            str(item.get("message", "")),
            column=_integer(item.get("column")),
            code=str(item.get("kind", "check")),
        )


def zizmor(context: Context) -> Iterator[Finding]:
    """zizmor over every workflow, in one run, offline."""
    files = workflow_files(context)
    if not files:
        return
    argv = ["zizmor", "--offline", "--no-progress", "--format", "json-v1", *files]
    result = run_tool(context, argv)
    if isinstance(result, ToolResult) and _nothing_auditable(result):
        return  # every workflow is invalid, which actionlint reports line by line
    if isinstance(result, ToolResult) and result.returncode not in {0, *ZIZMOR_FINDINGS}:
        yield failure("zizmor", f"exited with status {result.returncode}", result)
        return
    data, failed = json_output("zizmor", result)
    if failed is not None:
        yield failed
        return
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and not item.get("ignored"):
            yield _zizmor_finding(item)


def _nothing_auditable(result: ToolResult) -> bool:
    return result.returncode not in {0, *ZIZMOR_FINDINGS} and "no inputs collected" in (
        result.stderr
    )


def _zizmor_finding(item: Mapping[str, Any]) -> Finding:
    location = _primary_location(item.get("locations"))
    symbolic = location.get("symbolic", {})
    point = location.get("concrete", {}).get("location", {}).get("start_point", {})
    severity = str(item.get("determinations", {}).get("severity", "")).lower()
    message = f"{item.get('desc', '')}: {symbolic.get('annotation', '')} ({item.get('url', '')})"
    return ZIZMOR.at(
        _path(symbolic.get("key")),
        _integer(point.get("row"), base=0),
        message,
        column=_integer(point.get("column"), base=0),
        code=str(item.get("ident", "audit")),
        severity=Severity.ERROR if severity in ZIZMOR_ERRORS else Severity.WARNING,
    )


def _primary_location(locations: Any) -> Mapping[str, Any]:
    candidates = [item for item in locations or [] if isinstance(item, dict)]
    for item in candidates:
        if item.get("symbolic", {}).get("kind") == "Primary":
            return item
    return candidates[0] if candidates else {}


def _path(key: Any) -> str:
    local = key.get("Local", {}) if isinstance(key, dict) else {}
    return str(local.get("given_path") or local.get("verbatim_path") or WORKFLOWS)


def _integer(value: Any, base: int = 1) -> int:
    return value + 1 - base if isinstance(value, int) else 1


ACTIONLINT_CHECK = Check("actionlint", actionlint, tool="actionlint")
ZIZMOR_CHECK = Check("zizmor", zizmor, tool="zizmor")
