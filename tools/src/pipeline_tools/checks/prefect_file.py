"""prefect.yaml structure, judged by Prefect's own models and schedule validation.

The known keys come from the pydantic models `prefect deploy` validates the file with
(`prefect.cli.deploy._models`), read when the check first runs; schedules are built with
Prefect's `CronSchedule`, `IntervalSchedule` and `RRuleSchedule`, as the deploy does. Both
imports take about two seconds, so they happen on first use, never when nox loads.
"""

from __future__ import annotations

import ast
import datetime
import difflib
import functools
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from pipeline_tools.checks.core import (
    Check,
    Context,
    Finding,
    Place,
    Rule,
    define,
    key_path,
    suggest,
)
from pipeline_tools.prefectyaml import KeyPath, PrefectFile

MISSING = define("PF001", "the pipeline has no prefect.yaml", line_silence=False)
SYNTAX = define("PF002", "prefect.yaml is not valid YAML", line_silence=False)
TOP_LEVEL = define(
    "PF003", "prefect.yaml is not a mapping, or has a top-level key Prefect does not know"
)
WRONG_TYPE = define(
    "PF004", "a value has a type Prefect's models reject (Prefect then skips the whole file)"
)
REQUIRED = define("PF005", "a deployment lacks its name, entrypoint or work pool name")
DEPLOYMENT_KEY = define("PF006", "a deployment has a key Prefect does not know")
WORK_POOL_KEY = define("PF007", "a work_pool has a key Prefect does not know")
SCHEDULE_KEY = define("PF008", "a schedule has a key Prefect does not know")
ONE_KIND = define("PF009", "a schedule does not have exactly one of cron, interval and rrule")
INTERVAL_TEXT = define("PF010", "a schedule's interval is a string, not a number of seconds")
REJECTED = define(
    "PF011", "Prefect rejects a schedule's cron, timezone, interval, rrule or anchor_date"
)
ANCHOR = define("PF012", "anchor_date is given for a schedule without an interval")
NO_SLUG = define("PF013", "a schedule has no slug")
SLUG_TWICE = define("PF014", "two schedules of one deployment have the same slug")
STEP = define("PF015", "a build, push or pull step names a function that cannot be found")
STEP_ID = define("PF016", "a {{ id.field }} template names a step id no earlier step defines")
STEP_SHAPE = define("PF017", "a build, push or pull step is not a mapping of one function name")

# Findings that already say why Prefect's model rejects the file.
EXPLAINED_BY = frozenset(
    rule.id
    for rule in (
        TOP_LEVEL, WRONG_TYPE, DEPLOYMENT_KEY, SCHEDULE_KEY, ONE_KIND, INTERVAL_TEXT, STEP_SHAPE
    )
)  # fmt: skip
KINDS = ("cron", "interval", "rrule")
SECTIONS = ("build", "push", "pull")
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
PLACEHOLDER = re.compile(r"{{\s*([\w\.\-\[\]$]+)\s*}}")  # the pattern Prefect's templating uses
NOT_STEP_OUTPUTS = ("$", "prefect.blocks.", "prefect.variables.")


@dataclass(frozen=True)
class Schema:
    """The keys and models Prefect validates a prefect.yaml with."""

    top_level: frozenset[str]
    deployment: frozenset[str]
    work_pool: frozenset[str]
    schedule: frozenset[str]
    top_model: type[BaseModel]
    deployment_model: type[BaseModel]
    schedule_model: type[BaseModel]
    schedule_item: TypeAdapter[Any]


@functools.cache
def schema() -> Schema:
    """Read Prefect's prefect.yaml models (the first call imports Prefect)."""
    from prefect.cli.deploy._models import (  # noqa: PLC0415 - a two-second import
        DeploymentConfig,
        PrefectYamlModel,
        RawScheduleConfig,
        ScheduleItem,
        WorkPoolConfig,
    )

    return Schema(
        # Prefect's documentation keeps YAML anchors under `definitions`; the model ignores it.
        top_level=_keys(PrefectYamlModel) | {"definitions"},
        # `schedule` (one mapping) is kept by Prefect for old files only, and older releases
        # drop it silently: `schedules`, a list, is the one spelling this repository allows.
        deployment=_keys(DeploymentConfig) - {"schedule"},
        work_pool=_keys(WorkPoolConfig),
        schedule=_keys(RawScheduleConfig),
        top_model=PrefectYamlModel,
        deployment_model=DeploymentConfig,
        schedule_model=RawScheduleConfig,
        schedule_item=TypeAdapter(ScheduleItem),
    )


def _keys(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(field.alias or name for name, field in model.model_fields.items())


@dataclass(frozen=True)
class Document:
    """A parsed prefect.yaml and the file its findings point into."""

    file: PrefectFile
    place: Place

    def at(self, rule: Rule, path: KeyPath, message: str) -> Finding:
        """A finding at the key (or list item) `path`."""
        needle = path[-1] if path and isinstance(path[-1], str) else ""
        return self.place.at(rule, self.file.line_of(*path), message, needle=str(needle))


def check(context: Context) -> Iterator[Finding]:
    """Every rule of this family, for each pipeline under check."""
    for pipeline in context.pipelines:
        place = context.place(pipeline, context.sources.relative(pipeline.prefect_yaml))
        source = context.sources.prefect(pipeline)
        if source.file is not None:
            yield from _check_file(Document(source.file, place))
        elif not pipeline.prefect_yaml.is_file():
            yield MISSING.at(
                place.path,
                1,
                "the pipeline has no prefect.yaml; copy the template's and adapt it",
                pipeline=pipeline.name,
            )
        elif source.problem is not None:
            problem = source.problem
            message = f"{problem.message}; fix the YAML syntax at this line"
            yield SYNTAX.at(
                place.path, problem.line, message, column=problem.column, pipeline=pipeline.name
            )


def _check_file(document: Document) -> list[Finding]:
    raw = document.file.raw
    if not raw:
        if any(line.strip() and not line.lstrip().startswith("#") for line in document.place.lines):
            message = "prefect.yaml must be a mapping with a `deployments` list"
            return [document.at(TOP_LEVEL, (), message)]
        return []
    findings = [*_top_level(document, raw), *_sections(document, raw, ())]
    entries = raw.get("deployments")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict):
            findings.extend(_deployment(document, index, entry))
        else:
            path = ("deployments", index)
            findings.append(document.at(WRONG_TYPE, path, f"{key_path(path)} must be a mapping"))
    if not any(finding.rule in EXPLAINED_BY for finding in findings):
        findings.extend(_whole_file_verdict(document, raw))
    return findings


def _top_level(document: Document, raw: Mapping[str, Any]) -> Iterator[Finding]:
    known = schema().top_level
    for key in raw:
        if key not in known:
            yield document.at(
                TOP_LEVEL, (key,), f"unknown top-level key '{key}'{suggest(key, known)}"
            )
    if "deployments" in raw and not isinstance(raw["deployments"], list):
        yield document.at(WRONG_TYPE, ("deployments",), "deployments must be a list")
    values = {key: value for key, value in raw.items() if key in known and key != "deployments"}
    yield from _type_errors(document, schema().top_model, values, ())


def _deployment(document: Document, index: int, entry: Mapping[str, Any]) -> Iterator[Finding]:
    path: KeyPath = ("deployments", index)
    label = f"{key_path(path)} ({entry.get('name')!r})" if entry.get("name") else key_path(path)
    known = schema().deployment
    for key in entry:
        if key not in known:
            message = f"unknown key '{key}' in {label}{suggest(key, known)}"
            yield document.at(DEPLOYMENT_KEY, (*path, key), message)
    yield from _work_pool_keys(document, path, entry.get("work_pool"))
    yield from _required(document, path, label, entry)
    values = {k: v for k, v in entry.items() if k in known and k != "schedules"}
    yield from _type_errors(document, schema().deployment_model, values, path)
    yield from _sections(document, entry, path, inherited=document.file.raw)
    yield from _schedules(document, path, entry.get("schedules"))


def _work_pool_keys(document: Document, path: KeyPath, pool: Any) -> Iterator[Finding]:
    if not isinstance(pool, dict):
        return
    known = schema().work_pool
    for key in pool:
        if key not in known:
            message = (
                f"unknown key '{key}' in {key_path((*path, 'work_pool'))}{suggest(key, known)}"
            )
            yield document.at(WORK_POOL_KEY, (*path, "work_pool", key), message)


def _required(
    document: Document, path: KeyPath, label: str, entry: Mapping[str, Any]
) -> Iterator[Finding]:
    pool = entry.get("work_pool")
    missing = [
        key
        for key, value in (
            ("name", entry.get("name")),
            ("entrypoint", entry.get("entrypoint")),
            ("work_pool.name", pool.get("name") if isinstance(pool, dict) else None),
        )
        if not isinstance(value, str) or not value.strip()
    ]
    if missing:
        what = ", ".join(missing)
        yield document.at(
            REQUIRED, path, f"{label} has no {what}; every deployment needs all three"
        )


def _type_errors(
    document: Document, model: type[BaseModel] | TypeAdapter[Any], values: Any, path: KeyPath
) -> Iterator[Finding]:
    try:
        if isinstance(model, TypeAdapter):
            model.validate_python(values)
        else:
            model.model_validate(values)
    except ValidationError as error:
        yield from _explain(document, error, values, path)


def _explain(
    document: Document, error: ValidationError, values: Any, path: KeyPath
) -> Iterator[Finding]:
    """One finding per value Prefect rejects, at its key; union alternatives merged."""
    seen: set[KeyPath] = set()
    for detail in error.errors():
        where = (*path, *_data_path(values, detail["loc"]))
        if where in seen:
            continue
        seen.add(where)
        message = str(detail["msg"]).replace("Input should be", "must be")
        separator = " " if message.startswith("must be") else ": "
        yield document.at(WRONG_TYPE, where, f"{key_path(where) or 'the file'}{separator}{message}")


def _data_path(values: Any, loc: Sequence[str | int]) -> KeyPath:
    """The part of a pydantic error location that names keys and items of the data."""
    path: list[str | int] = []
    current = values
    for part in loc:
        if _holds(current, part):
            path.append(part)
            current = current[part]
    return tuple(path)


def _holds(value: Any, part: str | int) -> bool:
    if isinstance(value, dict):
        return part in value
    return isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)


def _whole_file_verdict(document: Document, raw: Mapping[str, Any]) -> Iterator[Finding]:
    """The file as `prefect deploy` validates it, for what the rules above do not explain."""
    try:
        schema().top_model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = _data_path(raw, first["loc"])
        message = (
            f"{key_path(where) or 'the file'}: Prefect's model rejects it ({first['msg']}), "
            "so `prefect deploy` would skip every deployment of the file"
        )
        yield document.at(WRONG_TYPE, where, message)


def _schedules(document: Document, path: KeyPath, schedules: Any) -> Iterator[Finding]:
    if schedules is None:
        return
    if not isinstance(schedules, list):
        yield document.at(WRONG_TYPE, (*path, "schedules"), "schedules must be a list")
        return
    slugs: dict[str, int] = {}
    for position, item in enumerate(schedules):
        item_path: KeyPath = (*path, "schedules", position)
        if not isinstance(item, dict):
            yield document.at(WRONG_TYPE, item_path, f"{key_path(item_path)} must be a mapping")
            continue
        yield from _schedule(document, item_path, item)
        yield from _slug(document, item_path, item, slugs)


def _schedule(document: Document, path: KeyPath, item: Mapping[str, Any]) -> Iterator[Finding]:
    known = schema().schedule
    for key in item:
        if key not in known:
            message = f"unknown key '{key}' in {key_path(path)}{suggest(key, known)}"
            yield document.at(SCHEDULE_KEY, (*path, key), message)
    kinds = [kind for kind in KINDS if item.get(kind) is not None]
    if len(kinds) != 1:
        given = " and ".join(kinds) if kinds else "none of them"
        message = f"{key_path(path)} needs exactly one of cron, interval and rrule; it has {given}"
        yield document.at(ONE_KIND, path, message)
        return
    yield from _schedule_values(document, path, item, kinds[0])


def _schedule_values(
    document: Document, path: KeyPath, item: Mapping[str, Any], kind: str
) -> Iterator[Finding]:
    interval = item.get("interval")
    if isinstance(interval, str):
        yield document.at(INTERVAL_TEXT, (*path, "interval"), _interval_message(path, interval))
        return
    anchor = item.get("anchor_date")
    if isinstance(anchor, datetime.date):
        yield document.at(WRONG_TYPE, (*path, "anchor_date"), _anchor_message(path, anchor))
        return
    if anchor is not None and kind != "interval":
        message = f"{key_path(path)} has anchor_date but no interval; remove anchor_date"
        yield document.at(ANCHOR, (*path, "anchor_date"), message)
    known = {key: value for key, value in item.items() if key in schema().schedule}
    typed = list(_type_errors(document, schema().schedule_item, known, path))
    if typed:
        yield typed[0]  # the first error is the one of the shape prefect.yaml documents
        return
    for key, message in _prefect_verdict(item, kind):
        yield document.at(REJECTED, (*path, key), f"{key_path((*path, key))}: {message}")


def _interval_message(path: KeyPath, interval: str) -> str:
    where = key_path((*path, "interval"))
    if interval.strip().isdigit():
        return f"{where} is the string '{interval}'; write the number of seconds unquoted"
    return f"{where} is a string; write a number of seconds, e.g. interval: 3600"


def _anchor_message(path: KeyPath, anchor: datetime.date) -> str:
    return (
        f"{key_path((*path, 'anchor_date'))} is an unquoted timestamp, read by YAML as a date "
        f'that Prefect\'s model rejects; quote it: anchor_date: "{anchor.isoformat()}"'
    )


def _prefect_verdict(item: Mapping[str, Any], kind: str) -> list[tuple[str, str]]:
    """Build the schedule as `prefect deploy` does; (key, message) for what Prefect rejects."""
    from prefect.client.schemas.schedules import (  # noqa: PLC0415 - imported with Prefect
        CronSchedule,
        IntervalSchedule,
        RRuleSchedule,
    )

    timezone = item.get("timezone")
    try:
        if kind == "cron":
            options = {"cron": item["cron"], "timezone": timezone, "day_or": item.get("day_or")}
            CronSchedule(**{key: value for key, value in options.items() if value is not None})
        elif kind == "interval":
            IntervalSchedule(**_interval_options(item))
        elif isinstance(item["rrule"], str) and item["rrule"].lstrip().startswith("{"):
            RRuleSchedule(**json.loads(item["rrule"]))
        else:
            RRuleSchedule(rrule=item["rrule"], **({"timezone": timezone} if timezone else {}))
    except ValidationError as error:
        return [_rejection(detail, kind) for detail in error.errors()[:1]]
    except (ValueError, TypeError, OverflowError) as error:
        key = "anchor_date" if kind == "interval" and item.get("anchor_date") else kind
        return [(key, f"Prefect cannot read it ({error})")]
    return []


def _interval_options(item: Mapping[str, Any]) -> dict[str, Any]:
    from prefect.types._datetime import parse_datetime  # noqa: PLC0415 - imported with Prefect

    options: dict[str, Any] = {"interval": datetime.timedelta(seconds=item["interval"])}
    if item.get("anchor_date"):
        options["anchor_date"] = parse_datetime(str(item["anchor_date"]))
    if item.get("timezone"):
        options["timezone"] = item["timezone"]
    return options


def _rejection(detail: Mapping[str, Any], kind: str) -> tuple[str, str]:
    message = str(detail["msg"]).removeprefix("Value error, ")
    location = detail.get("loc") or ()
    if location and isinstance(location[0], str):
        return location[0], message
    return ("timezone" if "timezone" in message.lower() else kind), message


def _slug(
    document: Document, path: KeyPath, item: Mapping[str, Any], slugs: dict[str, int]
) -> Iterator[Finding]:
    slug = item.get("slug")
    if not isinstance(slug, str) or not slug.strip():
        message = f"{key_path(path)} has no slug; add one (slug: daily) so Prefect can update it"
        yield document.at(NO_SLUG, path, message)
        return
    if slug in slugs:
        message = (
            f"slug '{slug}' of {key_path(path)} is already used by schedule {slugs[slug]} "
            "of the same deployment; give each schedule its own slug"
        )
        yield document.at(SLUG_TWICE, (*path, "slug"), message)
    slugs.setdefault(slug, int(path[-1]))


def _sections(
    document: Document,
    owner: Mapping[str, Any],
    path: KeyPath,
    inherited: Mapping[str, Any] | None = None,
) -> Iterator[Finding]:
    """Check the build, push and pull steps of the file or of one deployment.

    Steps see the ids of the steps before them: build, then push, then pull. A deployment
    without its own build or push inherits the file's; its other values see both.
    """
    available: set[str] = set()
    for section in SECTIONS:
        if section in owner:
            yield from _steps(document, (*path, section), owner[section], frozenset(available))
        source = owner if section in owner or inherited is None else inherited
        available.update(_step_ids(source.get(section)))
        if section == "push" and path:
            rest = {k: v for k, v in owner.items() if k not in SECTIONS}
            yield from _templates(document, path, rest, frozenset(available))


def _steps(
    document: Document, path: KeyPath, steps: Any, available: frozenset[str]
) -> Iterator[Finding]:
    if isinstance(steps, dict):
        steps = [steps] if steps else []  # Prefect reads one mapping as a list of one step
    if steps is None:
        return
    if not isinstance(steps, list):
        yield document.at(WRONG_TYPE, path, f"{key_path(path)} must be a list of steps")
        return
    seen = set(available)
    for index, step in enumerate(steps):
        step_path: KeyPath = (*path, index)
        if not isinstance(step, dict) or len(step) != 1:
            message = f"{key_path(step_path)} must be a mapping of one function name to its inputs"
            yield document.at(STEP_SHAPE, step_path, message)
            continue
        ((function, inputs),) = step.items()
        problem = resolve_step(function)
        if problem is not None:
            yield document.at(STEP, (*step_path, function), f"step '{function}': {problem}")
        yield from _templates(document, (*step_path, function), inputs, frozenset(seen))
        seen.update(_step_ids([step]))


def _step_ids(steps: Any) -> list[str]:
    steps = [steps] if isinstance(steps, dict) else steps
    ids = []
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict) and len(step) == 1:
            inputs = next(iter(step.values()))
            if isinstance(inputs, dict) and isinstance(inputs.get("id"), str):
                ids.append(inputs["id"])
    return ids


def _templates(
    document: Document, path: KeyPath, value: Any, available: frozenset[str]
) -> Iterator[Finding]:
    for where, text in walk_strings(value, path):
        for name in dict.fromkeys(PLACEHOLDER.findall(text)):
            step_id = name.split(".", 1)[0]
            if name.startswith(NOT_STEP_OUTPUTS) or step_id in available:
                continue
            defined = ", ".join(sorted(available)) or "none"
            message = (
                f"{key_path(where)}: '{{{{ {name} }}}}' names the step id '{step_id}', which no "
                f"earlier step defines (ids defined before it: {defined}); give that step "
                f"`id: {step_id}` or correct the name"
            )
            yield document.at(STEP_ID, where, message)


def walk_strings(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Every string inside a YAML value, with its key path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, (*path, index))


@functools.cache
def resolve_step(function: str) -> str | None:
    """Why the step function `a.b.c` cannot be found, or None when its module defines it.

    The module is found on disk and read with ast rather than imported, so that a step
    name in a prefect.yaml never runs code.
    """
    if not DOTTED.match(function):
        return "not a dotted path to a function (e.g. prefect.deployments.steps.git_clone)"
    module, _, attribute = function.rpartition(".")
    path = _module_file(module)
    if path is None:
        return f"no installed module '{module}'; install the package that provides it"
    names = _top_level_names(path)
    if names is None or attribute in names or "__getattr__" in names:
        return None
    close = difflib.get_close_matches(attribute, sorted(names), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"module '{module}' has no '{attribute}'{hint}"


def _module_file(module: str) -> Path | None:
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name is found without running it
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    folders = [Path(folder) for folder in spec.submodule_search_locations or []]
    current = Path(spec.origin) if spec.origin and not rest else None
    for index, part in enumerate(rest):
        found = _submodule(folders, part)
        if found is None:
            return None
        current, folders = found
        if index < len(rest) - 1 and not folders:
            return None
    return current


def _submodule(folders: Sequence[Path], part: str) -> tuple[Path, list[Path]] | None:
    for folder in folders:
        package = folder / part / "__init__.py"
        if package.is_file():
            return package, [folder / part]
        module = folder / f"{part}.py"
        if module.is_file():
            return module, []
    return None


@functools.cache
def _top_level_names(path: Path) -> frozenset[str] | None:
    """Names a module binds at its top level, or None when it is not Python source."""
    if path.suffix != ".py":
        return None
    try:
        tree = ast.parse(path.read_text("utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    names: set[str] = set()
    for node in tree.body:
        names.update(_bound_names(node))
    return frozenset(names)


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [(alias.asname or alias.name).split(".")[0] for alias in node.names]
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.If | ast.Try):
        return [name for child in node.body for name in _bound_names(child)]
    return []


CHECK = Check("prefect.yaml", check)
