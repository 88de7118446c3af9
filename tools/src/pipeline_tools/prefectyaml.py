"""Read a pipeline's prefect.yaml into typed deployments, keeping the line of every key.

Loading is lenient: a value of the wrong type is left out of the typed model (and kept in
`raw`), so that the checks can report it with its line instead of failing here.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline_tools.errors import ConfigError

KeyPath = tuple[str | int, ...]
# libyaml's parser where PyYAML was built with it; the same result, several times faster.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Schedule:
    """One entry of a deployment's `schedules` list."""

    cron: str | None
    interval: float | None
    rrule: str | None
    timezone: str | None
    anchor_date: str | None
    slug: str | None
    active: bool
    parameters: Mapping[str, Any]
    line: int
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class Deployment:
    """One entry of the `deployments` list."""

    index: int
    name: str
    entrypoint: str | None
    work_pool: str | None
    work_queue: str | None
    job_variables: Mapping[str, Any]
    parameters: Mapping[str, Any]
    schedules: tuple[Schedule, ...]
    tags: tuple[str, ...]
    line: int
    raw: Mapping[str, Any]

    def environment(self, environments: tuple[str, ...]) -> str | None:
        """The environment named by the deployment's `--<environment>` suffix, if any."""
        _, separator, suffix = self.name.rpartition("--")
        return suffix if separator and suffix in environments else None


@dataclass(frozen=True)
class PrefectFile:
    """A parsed prefect.yaml."""

    path: Path
    raw: Mapping[str, Any]
    deployments: tuple[Deployment, ...]
    lines: Mapping[KeyPath, int] = field(repr=False)

    def line_of(self, *path: str | int) -> int:
        """The line of the key at `path`, or of its closest parent that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    def for_environment(self, environment: str, environments: tuple[str, ...]) -> list[Deployment]:
        """Every deployment of `environment`, in file order."""
        return [d for d in self.deployments if d.environment(environments) == environment]


def load(path: Path) -> PrefectFile:
    """Parse `path`; a YAML syntax error becomes one ConfigError naming the line."""
    try:
        node = yaml.compose(path.read_text("utf-8"), Loader=_FAST_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{path}:{line}: invalid YAML: {error.problem}") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    lines: dict[KeyPath, int] = {}
    scalars = yaml.SafeLoader("")
    try:
        raw = _construct(node, (), lines, scalars) if node is not None else {}
    finally:
        scalars.dispose()
    document = raw if isinstance(raw, dict) else {}
    entries = document.get("deployments")
    deployments = tuple(
        _deployment(index, entry, lines)
        for index, entry in enumerate(entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
    )
    return PrefectFile(path=path, raw=document, deployments=deployments, lines=lines)


def _construct(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], scalars: yaml.SafeLoader
) -> Any:
    """Plain Python values from a composed node, recording the line of each key and item."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, (*path, key), lines, scalars)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, (*path, index), lines, scalars)
            for index, item in enumerate(node.value)
        ]
    return scalars.construct_object(node, deep=True)


def _deployment(index: int, entry: dict[str, Any], lines: Mapping[KeyPath, int]) -> Deployment:
    pool = entry.get("work_pool")
    pool = pool if isinstance(pool, dict) else {}
    schedules = entry.get("schedules")
    return Deployment(
        index=index,
        name=str(entry.get("name") or ""),
        entrypoint=_text(entry.get("entrypoint")),
        work_pool=_text(pool.get("name")),
        work_queue=_text(pool.get("work_queue_name")),
        job_variables=_mapping(pool.get("job_variables")),
        parameters=_mapping(entry.get("parameters")),
        schedules=tuple(
            _schedule(item, lines.get(("deployments", index, "schedules", position), 1))
            for position, item in enumerate(schedules if isinstance(schedules, list) else [])
            if isinstance(item, dict)
        ),
        tags=tuple(str(tag) for tag in entry.get("tags") or [] if isinstance(tag, str | int)),
        line=lines.get(("deployments", index), 1),
        raw=entry,
    )


def _schedule(entry: dict[str, Any], line: int) -> Schedule:
    interval = entry.get("interval")
    numeric = isinstance(interval, int | float) and not isinstance(interval, bool)
    seconds = float(interval) if isinstance(interval, int | float) and numeric else None
    return Schedule(
        cron=_text(entry.get("cron")),
        interval=seconds,
        rrule=_text(entry.get("rrule")),
        timezone=_text(entry.get("timezone")),
        anchor_date=_text_or_date(entry.get("anchor_date")),
        slug=_text(entry.get("slug")),
        active=entry.get("active", True) is not False,
        parameters=_mapping(entry.get("parameters")),
        line=line,
        raw=entry,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _text_or_date(value: Any) -> str | None:
    """YAML reads an unquoted timestamp as a datetime; keep it as ISO text."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return _text(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
