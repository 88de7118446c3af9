"""What `prefect deploy` would register for one prefect.yaml entry, computed in this process.

The steps follow Prefect's own non-interactive `prefect deploy` (prefect/cli/deploy/_core.py)
for a file without build or push steps: defaults merged into the entry, `{{ prefect.* }}` and
`{{ $ENV }}` placeholders resolved with Prefect's templating functions, the pull steps kept as
written, schedules built from the same keys, and the version and description filled in from
the flow. The image reaches the entry through the `PIPELINE_IMAGE` placeholder, set for the
duration of the templating.

The flow is never imported, so the pipeline's own dependencies need not be installed here: its
name comes from the `@flow` decorator (`load_flow_arguments_from_entrypoint`), its parameter
schema from its source (`parameter_schema_from_entrypoint`), its description from its
docstring and its version from the hash of its file, which is what Prefect stores when it can
import the flow.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import datetime
import functools
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.objects import VersionInfo
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule
from prefect.flows import load_flow_arguments_from_entrypoint
from prefect.types._datetime import parse_datetime
from prefect.utilities.annotations import NotSet
from prefect.utilities.callables import parameter_schema_from_entrypoint
from prefect.utilities.hashing import file_hash
from prefect.utilities.templating import (
    PlaceholderType,
    apply_values,
    find_placeholders,
    resolve_block_document_references,
    resolve_variables,
)

from pipeline_tools import prefectyaml
from pipeline_tools.errors import ConfigError

if TYPE_CHECKING:
    from pipeline_tools.deploy.api import Api

Schedule = CronSchedule | IntervalSchedule | RRuleSchedule

Templated = TypeVar("Templated", dict[str, Any], list[Any])
IMAGE_VARIABLE = "PIPELINE_IMAGE"
SET_WORKING_DIRECTORY = "prefect.deployments.steps.set_working_directory"
UNSUPPORTED_KEYS = ("triggers", "sla", "build", "push")


@dataclass(frozen=True)
class Target:
    """One deployment to register: the prefect.yaml entry it comes from and its name."""

    pipeline: str
    name: str
    environment: str
    prefect_yaml: Path
    index: int


@dataclass(frozen=True)
class ScheduleSpec:
    """One schedule as Prefect stores it."""

    schedule: Schedule
    active: bool
    parameters: Mapping[str, object]
    slug: str | None
    anchored: bool  # an interval schedule's anchor date was written (else Prefect uses now)


@dataclass(frozen=True)
class DeploymentSpec:
    """Every field `prefect deploy` sends for one deployment, templated and validated."""

    target: Target
    flow_name: str
    entrypoint: str
    version: str | None
    version_info: Mapping[str, object]
    description: str | None
    tags: tuple[str, ...]
    parameters: Mapping[str, object]
    parameter_schema: Mapping[str, object]
    enforce_parameter_schema: bool
    schedules: tuple[ScheduleSpec, ...]
    concurrency_limit: int | None
    concurrency_options: Mapping[str, object] | None
    paused: bool
    work_pool: str
    work_queue: str | None
    job_variables: Mapping[str, object]
    pull_steps: tuple[Mapping[str, object], ...]


@dataclass(frozen=True)
class FlowMetadata:
    """What Prefect reads from a flow when it registers a deployment of it."""

    name: str
    version: str | None
    description: str | None
    parameter_schema: Mapping[str, object]


@dataclass(frozen=True)
class Entry:
    """One prefect.yaml entry to register, with its file's pull steps, before templating."""

    target: Target
    source: prefectyaml.PrefectFile
    config: Mapping[str, object]
    pull: object

    def where(self, *keys: str | int) -> str:
        """`file:line` of a key of this entry, for error messages."""
        line = self.source.line_of("deployments", self.target.index, *keys)
        return f"{self.source.path}:{line}"


def load_entry(target: Target, overrides: Mapping[str, object] | None = None) -> Entry:
    """Read the target's entry from its prefect.yaml, with `overrides` laid over its keys."""
    source = _load_file(target.prefect_yaml)
    entries = source.raw.get("deployments")
    if not isinstance(entries, list) or not 0 <= target.index < len(entries):
        raise ConfigError(f"{target.prefect_yaml}: no deployment at index {target.index}")
    config = copy.deepcopy(entries[target.index])
    if not isinstance(config, dict):
        raise ConfigError(f"{target.prefect_yaml}: deployments[{target.index}] is not a mapping")
    config.update(copy.deepcopy(dict(overrides or {})))
    entry = Entry(target=target, source=source, config=config, pull=source.raw.get("pull"))
    _refuse_unsupported(entry)
    return entry


def work_pool_name(entry: Entry) -> str:
    """The entry's work pool after `{{ $ENV }}` templating; an error when it names none."""
    pool = _mapping(entry.config.get("work_pool"))
    name = apply_values(pool.get("name"), {}, remove_notset=False)
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{entry.where('work_pool')}: deployment '{entry.target.name}' names no work pool; "
            "add `work_pool: {name: <pool>}`"
        )
    return name


def build_spec(
    root: Path, entry: Entry, image: str | None, inferred: VersionInfo | None
) -> DeploymentSpec:
    """The deployment as `prefect deploy` would register it, run from `root` with this image.

    `inferred` is the version information Prefect infers from the repository (the commit,
    under git hosting or CI), which replaces the flow's own version unless the entry writes one.
    """
    config = _with_defaults(entry)
    pull_steps = _pull_steps(entry, config)
    with _image_variable(image):
        config = _templated(config, dict(os.environ), remove_notset=False)
        pull_steps = _templated(pull_steps, {}, remove_notset=False)
    schedules = _schedules(entry, config.pop("schedules", None))
    config = _templated(config, {}, skip_prefixes=["ctx."])
    entrypoint = _text(config.get("entrypoint"))
    if not entrypoint:
        raise ConfigError(
            f"{entry.where()}: deployment '{entry.target.name}' has no entrypoint; add "
            "`entrypoint: pipelines/<pipeline>/flow.py:<flow function>`"
        )
    flow = flow_metadata(root, entrypoint, entry.where("entrypoint"))
    spec = _assemble(entry, config, flow, schedules, tuple(pull_steps))
    return _versioned(spec, _version(entry, config.get("version")), inferred)


def flow_metadata(root: Path, entrypoint: str, where: str) -> FlowMetadata:
    """Name, version, description and parameter schema of the flow at `entrypoint`."""
    path, _, function = entrypoint.rpartition(":")
    if not path or not function:
        raise ConfigError(
            f"{where}: entrypoint '{entrypoint}' is not <file>:<function>; write it as "
            "pipelines/<pipeline>/flow.py:<flow function>"
        )
    if not (root / path).is_file():
        raise ConfigError(f"{where}: entrypoint file {path} does not exist under {root}")
    source = root / path
    try:
        return _flow_metadata(str(source), function, source.stat().st_mtime_ns)
    except (ValueError, SyntaxError) as error:
        raise ConfigError(f"{where}: cannot read the flow {function} in {path}: {error}") from None


async def resolve_references(entry: Entry, api: Api) -> Entry:
    """The entry with `{{ prefect.blocks.* }}` and `{{ prefect.variables.* }}` resolved.

    As in Prefect, the pull steps keep their placeholders: workers resolve them at run time.
    """
    config = {key: value for key, value in entry.config.items() if key != "pull"}
    kinds = {placeholder.type for placeholder in find_placeholders(config)}
    if not kinds & {PlaceholderType.BLOCK_DOCUMENT, PlaceholderType.VARIABLE}:
        return entry

    async def resolve() -> dict[str, Any]:
        blocks = await resolve_block_document_references(config, client=api.client)
        return dict(await resolve_variables(blocks, client=api.client))

    resolved = await api.call(f"resolving the placeholders of {entry.target.name}", resolve)
    if "pull" in entry.config:
        resolved["pull"] = entry.config["pull"]
    return dataclasses.replace(entry, config=resolved)


def version_type(entry: Entry) -> str | None:
    """The entry's `version_type`, which chooses how Prefect infers a version from git."""
    return _text(entry.config.get("version_type"))


@functools.cache
def _flow_metadata(path: str, function: str, mtime: int) -> FlowMetadata:
    """Read once per flow and version of its file (`mtime` is part of the cache key only)."""
    del mtime
    entrypoint = f"{path}:{function}"
    arguments = load_flow_arguments_from_entrypoint(entrypoint)
    schema = parameter_schema_from_entrypoint(entrypoint)
    return FlowMetadata(
        name=str(arguments["name"]),
        version=arguments.get("version") or file_hash(path),
        description=arguments.get("description") or _docstring(Path(path), function),
        parameter_schema=schema.model_dump(exclude_unset=True),
    )


def _docstring(path: Path, function: str) -> str | None:
    """The docstring of `function` (or `Class.method`) in `path`, cleaned like inspect.getdoc."""
    scope: list[ast.stmt] = ast.parse(path.read_text("utf-8")).body
    node: ast.AST | None = None
    for part in function.split("."):
        node = next((n for n in scope if getattr(n, "name", None) == part), None)
        scope = list(getattr(node, "body", []))
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return ast.get_docstring(node, clean=True)
    return None


def _with_defaults(entry: Entry) -> dict[str, Any]:
    """The entry with Prefect's defaults for missing keys and `schedule` read as `schedules`."""
    config: dict[str, Any] = copy.deepcopy(dict(entry.config))
    for key, default in (("tags", []), ("parameters", {}), ("work_pool", {})):
        if config.get(key) is None:
            config[key] = copy.deepcopy(default)
    config["work_pool"].setdefault("job_variables", {})
    legacy = config.pop("schedule", None)
    if isinstance(legacy, dict) and "schedules" in config:
        raise ConfigError(f"{entry.where('schedule')}: use only `schedules`, not `schedule` too")
    if isinstance(legacy, dict):
        config["schedules"] = [legacy]
    return config


def _pull_steps(entry: Entry, config: Mapping[str, Any]) -> list[Any]:
    """The entry's pull steps, else the file's; Prefect's default when neither has any."""
    steps = config.get("pull", entry.pull)
    steps = [steps] if isinstance(steps, dict) and steps else steps
    if isinstance(steps, list):
        return copy.deepcopy(steps)
    if _mapping(config["work_pool"].get("job_variables")).get("image"):
        return [{SET_WORKING_DIRECTORY: {"directory": "/opt/prefect"}}]
    return [{SET_WORKING_DIRECTORY: {"directory": str(entry.source.path.parent.resolve())}}]


def _assemble(
    entry: Entry,
    config: Mapping[str, Any],
    flow: FlowMetadata,
    schedules: tuple[ScheduleSpec, ...],
    pull_steps: tuple[Mapping[str, object], ...],
) -> DeploymentSpec:
    pool = _mapping(config.get("work_pool"))
    limit, options = _concurrency(entry, config.get("concurrency_limit"))
    return DeploymentSpec(
        target=entry.target,
        flow_name=flow.name,
        entrypoint=str(config["entrypoint"]),
        version=flow.version,
        version_info={},
        description=_text(config.get("description")) or flow.description,
        tags=_tags(entry, config.get("tags")),
        parameters=_json(entry, "parameters", config.get("parameters")),
        parameter_schema=flow.parameter_schema,
        enforce_parameter_schema=config.get("enforce_parameter_schema") is not False,
        schedules=schedules,
        concurrency_limit=limit,
        concurrency_options=options,
        paused=config.get("paused") is True,
        work_pool=work_pool_name(entry),
        work_queue=_text(pool.get("work_queue_name")),
        job_variables=_json(entry, "work_pool", pool.get("job_variables")),
        pull_steps=pull_steps,
    )


def _versioned(
    spec: DeploymentSpec, written: str | None, inferred: VersionInfo | None
) -> DeploymentSpec:
    """Prefect's version rule: written, else inferred from git, else the flow's own."""
    version = written or (inferred.version if inferred is not None else spec.version)
    if inferred is None:
        info = VersionInfo(type="prefect:simple", version=version or "")
    else:
        info = inferred.model_copy(update={"version": version})
    return dataclasses.replace(spec, version=version, version_info=info.model_dump(mode="json"))


def _templated(template: Templated, values: dict[str, Any], **options: Any) -> Templated:
    """Prefect's `apply_values`, keeping the template's type (a whole template is never unset)."""
    applied = apply_values(template, values, **options)
    return template if applied is NotSet else applied


def _schedules(entry: Entry, raw: object) -> tuple[ScheduleSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{entry.where('schedules')}: `schedules` must be a list of schedules")
    templated = apply_values(raw, {})
    return tuple(_schedule(entry, position, item) for position, item in enumerate(templated))


def _schedule(entry: Entry, position: int, item: object) -> ScheduleSpec:
    where = entry.where("schedules", position)
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: a schedule must be a mapping with cron, interval or rrule")
    try:
        schedule = _schedule_kind(item)
        created = DeploymentScheduleCreate(
            schedule=schedule,
            active=True if item.get("active") is None else item["active"],
            parameters=item.get("parameters") or {},
            slug=item.get("slug") or None,
        )
    except ValueError as error:
        raise ConfigError(f"{where}: invalid schedule: {_first_line(error)}") from None
    anchored = bool(item.get("interval")) and item.get("anchor_date") is not None
    return ScheduleSpec(schedule, created.active, created.parameters, created.slug, anchored)


def _schedule_kind(item: Mapping[str, Any]) -> Schedule:
    """Prefect's schedule object for one entry of `schedules`, from the same keys as Prefect."""
    timezone = item.get("timezone")
    if cron := item.get("cron"):
        options = {"cron": cron, "timezone": timezone, "day_or": item.get("day_or")}
        return CronSchedule(**{key: value for key, value in options.items() if value is not None})
    if interval := item.get("interval"):
        seconds = isinstance(interval, int | float) and not isinstance(interval, bool)
        anchor = item.get("anchor_date")
        anchor = anchor.isoformat() if isinstance(anchor, datetime.date) else anchor
        options = {
            "interval": timedelta(seconds=interval) if seconds else interval,
            "anchor_date": parse_datetime(anchor) if anchor else None,
            "timezone": timezone,
        }
        return IntervalSchedule(**{k: v for k, v in options.items() if v is not None})
    if rrule := item.get("rrule"):
        return _rrule(str(rrule), timezone)
    raise ValueError("a schedule needs one of cron, interval or rrule")


def _rrule(rrule: str, timezone: str | None) -> RRuleSchedule:
    """An rrule written as text, or as the JSON of Prefect's RRuleSchedule."""
    try:
        schedule = RRuleSchedule(**json.loads(rrule))
    except json.JSONDecodeError:
        return RRuleSchedule(rrule=rrule, timezone=timezone)
    if timezone:
        schedule.timezone = timezone
    return schedule


def _concurrency(entry: Entry, value: object) -> tuple[int | None, Mapping[str, object] | None]:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value, None
    if not isinstance(value, dict) or not isinstance(value.get("limit"), int):
        raise ConfigError(
            f"{entry.where('concurrency_limit')}: concurrency_limit must be a number or "
            "{limit: <number>, collision_strategy: ENQUEUE|CANCEL_NEW}"
        )
    options: dict[str, object] = {"collision_strategy": value.get("collision_strategy")}
    if value.get("grace_period_seconds") is not None:
        options["grace_period_seconds"] = value["grace_period_seconds"]
    return value["limit"], options


def _version(entry: Entry, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise ConfigError(f'{entry.where("version")}: version must be text; quote it: "{value}"')


def _tags(entry: Entry, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{entry.where('tags')}: tags must be a list, e.g. [sme, prod]")
    return tuple(str(tag) for tag in value if str(tag).strip())


def _json(entry: Entry, key: str, value: object) -> Mapping[str, object]:
    """A mapping that must survive JSON encoding unchanged (dates become text, as in Prefect)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{entry.where(key)}: `{key}` must be a mapping")
    decoded: Mapping[str, object] = json.loads(json.dumps(value, default=_iso))
    return decoded


def _iso(value: object) -> str:
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _refuse_unsupported(entry: Entry) -> None:
    for key in UNSUPPORTED_KEYS:
        in_file = key in ("build", "push") and entry.source.raw.get(key)
        if entry.config.get(key) or in_file:
            line = entry.source.line_of(key) if in_file else None
            where = f"{entry.source.path}:{line}" if line else entry.where(key)
            raise ConfigError(
                f"{where}: `{key}` is not supported here: images are built by "
                f"`nox -s build` and deployments carry no {key}; remove it"
            )


def _load_file(path: Path) -> prefectyaml.PrefectFile:
    return _load_cached(path.resolve(), path.stat().st_mtime_ns if path.exists() else 0)


@functools.cache
def _load_cached(path: Path, mtime: int) -> prefectyaml.PrefectFile:
    del mtime  # part of the cache key only: an edited file is read again
    return prefectyaml.load(path)


@contextlib.contextmanager
def _image_variable(image: str | None) -> Iterator[None]:
    """Set PIPELINE_IMAGE while Prefect's templating reads the environment."""
    previous = os.environ.get(IMAGE_VARIABLE)
    if image is not None:
        os.environ[IMAGE_VARIABLE] = image
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(IMAGE_VARIABLE, None)
        else:
            os.environ[IMAGE_VARIABLE] = previous


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
