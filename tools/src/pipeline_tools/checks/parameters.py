"""Parameters given by deployments and schedules exist in the flow's signature, read from
source; required parameters without defaults are given."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from pipeline_tools.checks.core import Check, Context, Finding, define, key_path
from pipeline_tools.checks.names import entry_flow
from pipeline_tools.checks.prefect_file import Document
from pipeline_tools.flowsource import FlowFunction
from pipeline_tools.prefectyaml import KeyPath

UNKNOWN = define("PARAM001", "a deployment or schedule gives a parameter the flow does not take")
REQUIRED = define("PARAM002", "a required flow parameter (no default) is not given")


def check(context: Context) -> Iterator[Finding]:
    """Every rule of this family, for each deployment whose entrypoint names a flow."""
    for pipeline in context.pipelines:
        prefect = context.sources.prefect(pipeline).file
        if prefect is None:
            continue
        document = Document(
            prefect, context.place(pipeline, context.sources.relative(prefect.path))
        )
        for deployment in prefect.deployments:
            flow = entry_flow(context, pipeline, deployment.entrypoint)
            if flow is not None:
                yield from _deployment(document, deployment.index, deployment.raw, flow)


def _deployment(
    document: Document, index: int, entry: Mapping[str, Any], flow: FlowFunction
) -> Iterator[Finding]:
    path: KeyPath = ("deployments", index)
    given = _mapping(entry.get("parameters"))
    yield from _unknown(document, (*path, "parameters"), given, flow)
    schedules = entry.get("schedules")
    items = (
        [item for item in schedules if isinstance(item, dict)]
        if isinstance(schedules, list)
        else []
    )
    for position, item in enumerate(items):
        schedule_path: KeyPath = (*path, "schedules", position, "parameters")
        yield from _unknown(document, schedule_path, _mapping(item.get("parameters")), flow)
    for parameter in flow.parameters:
        if not parameter.required or parameter.name in given:
            continue
        if items and all(parameter.name in _mapping(item.get("parameters")) for item in items):
            continue
        message = (
            f"{key_path(path)} ({entry.get('name')!r}) does not give {parameter.name}, a "
            f"parameter of {flow.function} without a default; add it under parameters:"
        )
        yield document.at(
            REQUIRED, (*path, "parameters") if "parameters" in entry else path, message
        )


def _unknown(
    document: Document, path: KeyPath, given: Mapping[str, Any], flow: FlowFunction
) -> Iterator[Finding]:
    if flow.accepts_any_keyword:
        return
    known = [parameter.name for parameter in flow.parameters]
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = (
                f"did you mean {close[0]}?" if close else f"it takes {', '.join(known) or 'none'}"
            )
            message = (
                f"{key_path(path)}: the flow {flow.function} has no parameter {name!r}; {hint}"
            )
            yield document.at(UNKNOWN, (*path, name), message)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


CHECK = Check("parameters", check)
