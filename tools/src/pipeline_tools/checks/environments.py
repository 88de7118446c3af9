"""Each pipeline has exactly the deployments its environments require, named uniquely, with
the schedules, work pools and secrets each environment allows.

By default a pipeline deploys to every environment of the root settings (`environments`),
with one deployment per environment named `<base>--<environment>`, where the base is the
folder name with `-` for `_` (`rj-smtr--gps-onibus--prod`). A pipeline declares otherwise in
the `[tool.pipeline-tools]` table of its own pyproject.toml:

    environments = ["prod"]                  # deploys to prod only
    variants = ["sppo", "brt"]               # rj-smtr--gps-onibus-sppo--prod, ...-brt--prod
    scheduled-environments = ["staging"]     # its staging deployments run on a schedule
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from pipeline_tools.checks.core import Check, Context, Finding, define, deployment_base, key_path
from pipeline_tools.checks.prefect_file import PLACEHOLDER, Document, walk_strings
from pipeline_tools.prefectyaml import Deployment
from pipeline_tools.workspace import Pipeline

MISSING = define(
    "ENV001", "an environment lacks a deployment (`environments = [...]` in [tool.pipeline-tools])"
)
UNDECLARED = define(
    "ENV002", "a deployment is not <base>--<env>, nor <base>-<v>--<env> with `variants = [v]`"
)
NO_ENVIRONMENT = define("ENV003", "a deployment name ends in no environment (--staging, --prod)")
OTHER_ENVIRONMENT = define(
    "ENV004", "a deployment is for an environment its pipeline's `environments` leaves out"
)
TWICE = define("ENV005", "a deployment name is used twice in the repository")
SCHEDULED = define(
    "ENV006", 'a staging schedule is active (unless `scheduled-environments = ["staging"]`)'
)
WORK_POOL = define("ENV007", "a deployment's work pool is not its environment's (<env>_work_pool)")
SECRET = define("ENV008", "a deployment reads a secret block of another environment (<name>-<env>)")
UNKNOWN_ENVIRONMENT = define(
    "ENV009", "[tool.pipeline-tools] names an environment the root settings do not have"
)

SECRET_BLOCK = re.compile(r"^prefect\.blocks\.secret\.([\w\-]+)")


@dataclass(frozen=True)
class Plan:
    """The deployments a pipeline must have, from the root settings and its own table."""

    base: str
    environments: tuple[str, ...]
    variants: tuple[str, ...]
    scheduled: frozenset[str]

    def expected(self) -> list[tuple[str, str]]:
        """(name, environment) of every deployment the pipeline must have."""
        middles = [f"-{variant}" for variant in self.variants] or [""]
        return [
            (f"{self.base}{middle}--{environment}", environment)
            for environment in self.environments
            for middle in middles
        ]


def check(context: Context) -> Iterator[Finding]:
    """Every rule of this family, for each pipeline under check."""
    owners = _names_in_repository(context)
    for pipeline in context.pipelines:
        prefect = context.sources.prefect(pipeline).file
        if prefect is None:
            continue
        document = Document(
            prefect, context.place(pipeline, context.sources.relative(prefect.path))
        )
        plan = _plan(context, pipeline)
        yield from _unknown_environments(context, pipeline)
        yield from _expected(context, document, plan)
        for deployment in prefect.deployments:
            yield from _deployment(context, document, plan, deployment)
            yield from _unique(document, deployment, owners)


def _plan(context: Context, pipeline: Pipeline) -> Plan:
    config = context.sources.project(pipeline).config
    unscheduled = set(context.settings.unscheduled_environments)
    return Plan(
        base=deployment_base(pipeline.name),
        environments=(
            config.environments
            if config.environments is not None
            else context.settings.environments
        ),
        variants=config.variants,
        scheduled=frozenset(
            e
            for e in context.settings.environments
            if e not in unscheduled or e in config.scheduled_environments
        ),
    )


def _unknown_environments(context: Context, pipeline: Pipeline) -> Iterator[Finding]:
    project = context.sources.project(pipeline)
    config = project.config
    known = context.settings.environments
    place = context.place(pipeline, project.path)
    for key, names in (
        ("environments", config.environments or ()),
        ("scheduled-environments", config.scheduled_environments),
    ):
        for name in names:
            if name not in known:
                message = (
                    f"[tool.pipeline-tools] {key} names {name!r}, which is not an environment "
                    f"of the root settings ({', '.join(known)})"
                )
                line = _line_with(place.lines, f'"{name}"')
                yield place.at(UNKNOWN_ENVIRONMENT, line, message, needle=f'"{name}"')


def _line_with(lines: Sequence[str], needle: str) -> int:
    return next((number for number, line in enumerate(lines, 1) if needle in line), 1)


def _expected(context: Context, document: Document, plan: Plan) -> Iterator[Finding]:
    """Expected deployments that are missing.

    Not reported for an environment where an undeclared deployment (ENV002, which names the
    variant to declare) already explains the difference.
    """
    present = {deployment.name for deployment in document.file.deployments}
    expected = {name for name, _ in plan.expected()}
    explained = {
        deployment.environment(context.settings.environments)
        for deployment in document.file.deployments
        if deployment.name.startswith(f"{plan.base}-") and deployment.name not in expected
    }
    for name, environment in plan.expected():
        if name not in present and environment not in explained:
            message = (
                f"no deployment {name} for the environment {environment}; add it, or declare "
                "the pipeline's environments and variants in [tool.pipeline-tools] of its "
                "pyproject.toml"
            )
            yield document.at(MISSING, ("deployments",), message)


def _deployment(
    context: Context, document: Document, plan: Plan, deployment: Deployment
) -> Iterator[Finding]:
    if not deployment.name.startswith((f"{plan.base}--", f"{plan.base}-")):
        return  # NAME009 reports it: the name is not derived from the folder
    environment = deployment.environment(context.settings.environments)
    path = ("deployments", deployment.index, "name")
    if environment is None:
        suffixes = " or ".join(f"--{e}" for e in context.settings.environments)
        message = (
            f"deployment {deployment.name!r} ends in none of {suffixes}, so no deploy "
            "registers it; end its name with its environment"
        )
        yield document.at(NO_ENVIRONMENT, path, message)
        return
    if environment not in plan.environments:
        message = (
            f"deployment {deployment.name!r} is for {environment}, which the pipeline does not "
            f"deploy to (environments = {list(plan.environments)}); remove it or add "
            f"{environment!r} to environments in [tool.pipeline-tools]"
        )
        yield document.at(OTHER_ENVIRONMENT, path, message)
        return
    if deployment.name not in {name for name, _ in plan.expected()}:
        yield document.at(UNDECLARED, path, _undeclared(deployment.name, plan, environment))
    yield from _schedules(document, plan, deployment, environment)
    yield from _work_pool(context, document, deployment, environment)
    yield from _secrets(context, document, deployment, environment)


def _undeclared(name: str, plan: Plan, environment: str) -> str:
    expected = [n for n, e in plan.expected() if e == environment]
    variant = name[len(plan.base) :].rpartition("--")[0].lstrip("-")
    hint = (
        f"declare it with variants = [..., {variant!r}] in [tool.pipeline-tools]"
        if variant
        else "rename it"
    )
    return (
        f"deployment {name!r} is not one the pipeline declares for {environment} "
        f"(expected: {', '.join(expected)}); {hint}"
    )


def _schedules(
    document: Document, plan: Plan, deployment: Deployment, environment: str
) -> Iterator[Finding]:
    if environment in plan.scheduled or deployment.raw.get("paused") is True:
        return
    for position, schedule in enumerate(deployment.schedules):
        if schedule.active:
            path = ("deployments", deployment.index, "schedules", position)
            message = (
                f"{key_path(path)} of {deployment.name!r} is active, but {environment} "
                "deployments run only on demand; set active: false, or declare "
                f'scheduled-environments = ["{environment}"] in [tool.pipeline-tools]'
            )
            yield document.at(SCHEDULED, path, message)


def _work_pool(
    context: Context, document: Document, deployment: Deployment, environment: str
) -> Iterator[Finding]:
    expected = getattr(context.settings, f"{environment}_work_pool", None)
    if not isinstance(expected, str) or deployment.work_pool in (None, expected):
        return
    path = ("deployments", deployment.index, "work_pool", "name")
    message = (
        f"{deployment.name!r} uses the work pool {deployment.work_pool!r}, but {environment} "
        f"deployments run on {expected!r} (setting {environment}_work_pool); write name: {expected}"
    )
    yield document.at(WORK_POOL, path, message)


def _secrets(
    context: Context, document: Document, deployment: Deployment, environment: str
) -> Iterator[Finding]:
    if not context.settings.secret_blocks_per_environment:
        return
    path = ("deployments", deployment.index)
    for where, text in walk_strings(deployment.raw, path):
        for placeholder in PLACEHOLDER.findall(text):
            match = SECRET_BLOCK.match(placeholder)
            if match and not match.group(1).endswith(f"-{environment}"):
                message = (
                    f"{key_path(where)} reads the secret block {match.group(1)!r} in a "
                    f"{environment} deployment; use the {environment} one, named "
                    f"<name>-{environment}"
                )
                yield document.at(SECRET, where, message)


def _names_in_repository(context: Context) -> Mapping[str, list[tuple[str, int]]]:
    """Every deployment name of the repository: (file, line) of each use."""
    owners: dict[str, list[tuple[str, int]]] = {}
    for pipeline in context.workspace.pipelines:
        prefect = context.sources.prefect(pipeline).file
        if prefect is None:
            continue
        relative = context.sources.relative(prefect.path)
        for deployment in prefect.deployments:
            if deployment.name:
                owners.setdefault(deployment.name, []).append((relative, deployment.line))
    return owners


def _unique(
    document: Document, deployment: Deployment, owners: Mapping[str, list[tuple[str, int]]]
) -> Iterator[Finding]:
    uses = owners.get(deployment.name, [])
    here = (document.place.path, deployment.line)
    others = [use for use in uses if use != here]
    if others:
        path, line = others[0]
        message = (
            f"deployment name {deployment.name!r} is also used at {path}:{line}; deployment "
            "names must be unique in the repository, or one replaces the other"
        )
        yield document.at(TWICE, ("deployments", deployment.index, "name"), message)


CHECK = Check("environments", check)
