"""The plan of one environment: affected pipelines and why, images to build, deployments.

`make_plan(workspace, environment=..., base=..., head=..., names=..., all_pipelines=...)`
returns a `Plan`; the deploy and build steps read `Plan.pipelines`, `Plan.images` and
`Plan.deployments`. `show_plan` is what `nox -s plan` runs: it prints the plan as a table, as
JSON (`--json`) or as a GitHub Actions matrix (`--matrix`), and can draw the dependency graph.

Which pipelines: the named ones, every one (`--all`), or those the changes between a base and
a head revision affect (see `pipeline_tools.changes`). The default base (`default_base`): in a
pull request (`GITHUB_BASE_REF` set) the merge base with its target branch; for checks, the
merge base with the default branch; for deploys, the revision the environment last deployed
when a lookup for it is given and it knows one; otherwise the previous commit.

Which deployments: every deployment of the pipeline's prefect.yaml whose name ends with
`--<environment>`, all of them, in file order. The environment `local` derives one deployment
per staging deployment (`...--staging` becomes `...--local`); it runs from the checkout, so it
builds no image.

The JSON document (`plan_to_json`, `nox -s plan -- --json`), version 1. Keys are always present
and in this order; lists are sorted by pipeline name (deployments then by their index); paths
are relative to the repository root, with forward slashes:

    version          1; a new version number for any change that is not an added key
    environment      "staging", "prod" or "local"
    purpose          "deploy" (inert files and tests ignored) or "check" (tests count)
    selection        "changes", "named" or "all"
    base, head       full commit hashes compared; null for "named" and "all" (head: the
                     checked-out commit when there is one)
    base_source      how the base was chosen, for people
    pipelines        [{name, path, reasons: [{kind, path, status, via, packages, text}]}]
                     kind: file | dependency | repo-wide | lock | check-input | named | all;
                     via: the dependency chain, nearest first; packages: lock differences
    images           [{pipeline, dockerfile}]: affected pipelines with a deployment here
    deployments      [{pipeline, name, environment, prefect_file, index, derived_from}]: index
                     of the entry in the file's `deployments` list; derived_from: the staging
                     deployment a local one comes from, else null
    deleted          names of deleted pipelines
    removed          [{pipeline, name, environment, pipeline_deleted}]: deployments of this
                     environment that a deleted pipeline or a removed entry leaves registered;
                     the deploy removes them only when asked (--prune)
    notes            sentences for people (e.g. an affected pipeline without deployments here)

The matrix (`--matrix`, with `--check` for lint and test jobs) is one line on stdout,
`{"pipeline": ["rj_a__b", ...]}`, ready for `fromJSON`; everything else goes to stderr. With
nothing affected the list is empty, which GitHub refuses as a matrix, so the job that uses it
is guarded: `if: ${{ fromJSON(needs.plan.outputs.matrix).pipeline[0] != null }}`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from pipeline_tools import prefectyaml
from pipeline_tools.changes import (
    AffectedPipeline,
    BaseRef,
    Changes,
    Purpose,
    Reason,
    dependency_graph,
    find_changes,
    head_revision,
)
from pipeline_tools.errors import ConfigError, ExitCode, ToolError
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings
from pipeline_tools.workspace import Pipeline, Workspace

FORMAT_VERSION = 1
LOCAL = "local"
STAGING = "staging"
REASONS_SHOWN = 5  # reasons per pipeline in the table; the JSON document has all of them
USAGE = (
    "nox -s plan -- [--env ENV] [--base REF] [--head REF] [--all | PIPELINE ...] [--check] "
    "[--json | --matrix] [--graph FILE]"
)
EPILOG = (
    "Without --base: in a pull request, the merge base with its target branch; with --check, "
    "the merge base with the default branch; otherwise the revision the environment last "
    "deployed when the server knows it, else the previous commit."
)

LastDeployed = Callable[[Settings, str], str | None]


@dataclass(frozen=True)
class PlannedPipeline:
    """An affected pipeline, its folder, and every reason it is in the plan."""

    name: str
    path: Path
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class PlannedImage:
    """An image to build: the pipeline and its Dockerfile (the tag is the image step's)."""

    pipeline: str
    dockerfile: Path


@dataclass(frozen=True)
class PlannedDeployment:
    """One deployment to register: entry `index` of the `deployments` list of `prefect_file`."""

    pipeline: str
    name: str
    environment: str
    prefect_file: Path
    index: int
    derived_from: str | None = None  # the staging deployment a local one is made from


@dataclass(frozen=True)
class RemovedDeployment:
    """A deployment the server may still hold although its pipeline or entry is gone."""

    pipeline: str
    name: str
    environment: str
    pipeline_deleted: bool


@dataclass(frozen=True)
class Plan:
    """What one environment needs after a change; see the module docstring for its JSON."""

    root: Path
    environment: str
    purpose: Purpose
    selection: str  # "changes", "named" or "all"
    base: str | None
    head: str | None
    base_source: str
    pipelines: tuple[PlannedPipeline, ...]
    images: tuple[PlannedImage, ...]
    deployments: tuple[PlannedDeployment, ...]
    deleted: tuple[str, ...]
    removed: tuple[RemovedDeployment, ...]
    notes: tuple[str, ...]


def make_plan(
    workspace: Workspace,
    *,
    environment: str,
    base: str | None = None,
    head: str = "HEAD",
    names: Sequence[str] = (),
    all_pipelines: bool = False,
    purpose: Purpose = "deploy",
    last_deployed: LastDeployed | None = None,
    reporter: Reporter | None = None,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Plan `environment`: the named pipelines, all of them, or those changed since `base`.

    Without `base`, `default_base` chooses it (`last_deployed` looks up the revision the
    environment runs). Progress and git commands go to `reporter` (stderr by default).
    """
    reporter = reporter or Reporter(out=sys.stderr, err=sys.stderr)
    settings = workspace.settings
    _check_environment(settings, environment)
    if names or all_pipelines:
        chosen = _chosen(workspace, names, head_revision(settings, reporter, head))
        return _assemble(workspace, environment, purpose, "named" if names else "all", chosen)

    start = BaseRef(base, f"--base {base}") if base else None
    start = start or default_base(settings, environment, purpose, last_deployed, environ)
    changes = find_changes(workspace, start, head, purpose=purpose, reporter=reporter)
    return _assemble(workspace, environment, purpose, "changes", changes)


def default_base(
    settings: Settings,
    environment: str,
    purpose: Purpose = "deploy",
    last_deployed: LastDeployed | None = None,
    environ: Mapping[str, str] | None = None,
) -> BaseRef:
    """Where a comparison starts when no --base is given (see the module docstring)."""
    environ = os.environ if environ is None else environ
    target = environ.get("GITHUB_BASE_REF", "")
    if target:
        return BaseRef(target, f"{target} (pull request target)", branch=True)
    if purpose == "check":
        branch = settings.default_branch
        return BaseRef(branch, branch, branch=True, parent_when_contained=True)
    revision = last_deployed(settings, environment) if last_deployed else None
    if revision:
        return BaseRef(revision, f"last deploy to {environment}", merge_base=False)
    return BaseRef(None, "previous commit")


def plan_to_json(plan: Plan) -> str:
    """The plan as the stable JSON document of the module docstring."""
    document = {
        "version": FORMAT_VERSION,
        "environment": plan.environment,
        "purpose": plan.purpose,
        "selection": plan.selection,
        "base": plan.base,
        "head": plan.head,
        "base_source": plan.base_source,
        "pipelines": [_pipeline_document(p, plan.root) for p in plan.pipelines],
        "images": [_image_document(image, plan.root) for image in plan.images],
        "deployments": [_deployment_document(d, plan.root) for d in plan.deployments],
        "deleted": list(plan.deleted),
        "removed": [_removed_document(removed) for removed in plan.removed],
        "notes": list(plan.notes),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def show_plan(
    workspace: Workspace,
    arguments: Sequence[str],
    reporter: Reporter,
    last_deployed: LastDeployed | None = None,
) -> ExitCode:
    """The `plan` session: parse its arguments, plan, print; stdout holds only the plan."""
    request = parse_arguments(arguments)
    if request.help:
        reporter.info(_parser().format_help().rstrip())
        return ExitCode.OK
    progress = Reporter(out=reporter.err, err=reporter.err, secrets=reporter.secrets)
    plan = make_plan(
        workspace,
        environment=request.environment,
        base=request.base,
        head=request.head,
        names=request.names,
        all_pipelines=request.all_pipelines,
        purpose="check" if request.check else "deploy",
        last_deployed=last_deployed,
        reporter=progress,
    )

    if request.graph:
        _write_graph(workspace, plan, request.graph, progress)
    _print(plan, request, workspace.settings.root, reporter)
    return ExitCode.OK


# --- the plan ----------------------------------------------------------------------------------


def _environments(settings: Settings) -> list[str]:
    return list(dict.fromkeys([*settings.environments, LOCAL]))


def _check_environment(settings: Settings, environment: str) -> None:
    known = _environments(settings)
    if environment in known:
        return
    close = difflib.get_close_matches(environment, known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(known)}"
    raise ConfigError(f"unknown environment '{environment}' for --env; {hint}")


def _chosen(workspace: Workspace, names: Sequence[str], head: str | None) -> Changes:
    """The named pipelines (every one without names), as changes that name no files."""
    reason = Reason("named") if names else Reason("all")
    pipelines = sorted(workspace.select(names), key=lambda pipeline: pipeline.name)
    affected = tuple(AffectedPipeline(pipeline.name, (reason,)) for pipeline in pipelines)
    return Changes("", head or "", "", (), affected, (), {})


def _assemble(
    workspace: Workspace, environment: str, purpose: Purpose, selection: str, changes: Changes
) -> Plan:
    settings = workspace.settings
    pipelines = [workspace.get(pipeline.name) for pipeline in changes.affected]
    per_pipeline = {p.name: _deployments(p, environment, settings) for p in pipelines}
    deployments = tuple(d for found in per_pipeline.values() for d in found)
    return Plan(
        root=settings.root,
        environment=environment,
        purpose=purpose,
        selection=selection,
        base=changes.base or None,
        head=changes.head or None,
        base_source=changes.base_source,
        pipelines=tuple(
            PlannedPipeline(a.name, p.path, a.reasons)
            for a, p in zip(changes.affected, pipelines, strict=True)
        ),
        images=tuple(
            PlannedImage(p.name, p.dockerfile)
            for p in pipelines
            if per_pipeline[p.name] and environment != LOCAL
        ),
        deployments=deployments,
        deleted=changes.deleted,
        removed=_removed(changes, deployments, settings, environment),
        notes=tuple(_notes(per_pipeline, environment)),
    )


def _deployments(
    pipeline: Pipeline, environment: str, settings: Settings
) -> tuple[PlannedDeployment, ...]:
    """Every deployment of the environment in the pipeline's prefect.yaml, in file order."""
    document = prefectyaml.load(pipeline.prefect_yaml)
    source = STAGING if environment == LOCAL else environment
    return tuple(
        PlannedDeployment(
            pipeline=pipeline.name,
            name=_local_name(d.name) if environment == LOCAL else d.name,
            environment=environment,
            prefect_file=pipeline.prefect_yaml,
            index=d.index,
            derived_from=d.name if environment == LOCAL else None,
        )
        for d in document.for_environment(source, tuple(_environments(settings)))
    )


def _local_name(staging_name: str) -> str:
    return staging_name.removesuffix(f"--{STAGING}") + f"--{LOCAL}"


def _environment_of(name: str, settings: Settings) -> str | None:
    _, separator, suffix = name.rpartition("--")
    return suffix if separator and suffix in _environments(settings) else None


def _removed(
    changes: Changes,
    planned: Sequence[PlannedDeployment],
    settings: Settings,
    environment: str,
) -> tuple[RemovedDeployment, ...]:
    """Deployments of this environment that the base declared and nothing planned replaces."""
    source = STAGING if environment == LOCAL else environment
    kept = {deployment.name for deployment in planned}
    removed = []
    for pipeline, names in changes.previous_deployments.items():
        deleted = pipeline in changes.deleted
        for name in names:
            target = _local_name(name) if environment == LOCAL else name
            if target not in kept and _environment_of(name, settings) == source:
                removed.append(RemovedDeployment(pipeline, target, environment, deleted))
    return tuple(removed)


def _notes(per_pipeline: Mapping[str, Sequence[PlannedDeployment]], environment: str) -> list[str]:
    return [
        f"{name} has no {environment} deployment in its prefect.yaml; nothing to register"
        for name, found in per_pipeline.items()
        if not found
    ]


# --- JSON --------------------------------------------------------------------------------------


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


def _pipeline_document(pipeline: PlannedPipeline, root: Path) -> dict[str, object]:
    return {
        "name": pipeline.name,
        "path": _relative(pipeline.path, root),
        "reasons": [_reason_document(reason) for reason in pipeline.reasons],
    }


def _reason_document(reason: Reason) -> dict[str, object]:
    return {
        "kind": reason.kind,
        "path": reason.path,
        "status": reason.status,
        "via": list(reason.via),
        "packages": list(reason.packages),
        "text": reason.describe(),
    }


def _image_document(image: PlannedImage, root: Path) -> dict[str, object]:
    return {"pipeline": image.pipeline, "dockerfile": _relative(image.dockerfile, root)}


def _deployment_document(deployment: PlannedDeployment, root: Path) -> dict[str, object]:
    return {
        "pipeline": deployment.pipeline,
        "name": deployment.name,
        "environment": deployment.environment,
        "prefect_file": _relative(deployment.prefect_file, root),
        "index": deployment.index,
        "derived_from": deployment.derived_from,
    }


def _removed_document(removed: RemovedDeployment) -> dict[str, object]:
    return {
        "pipeline": removed.pipeline,
        "name": removed.name,
        "environment": removed.environment,
        "pipeline_deleted": removed.pipeline_deleted,
    }


# --- the session -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRequest:
    """The plan session's arguments."""

    environment: str
    base: str | None
    head: str
    names: tuple[str, ...]
    all_pipelines: bool
    check: bool
    output: str  # "table", "json" or "matrix"
    graph: Path | None
    help: bool


class _Parser(argparse.ArgumentParser):
    """Argument errors become one ToolError sentence instead of an exit."""

    def error(self, message: str) -> NoReturn:
        raise ToolError(f"{message}; usage: {self.format_usage().strip().removeprefix('usage: ')}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nox -s plan --",
        usage=USAGE,
        add_help=False,
        description=__doc__.split("\n")[0],
        epilog=EPILOG,
    )
    parser.add_argument("names", nargs="*", metavar="PIPELINE", help="plan these pipelines")
    parser.add_argument("--env", default=LOCAL, help="staging, prod or local (default: local)")
    parser.add_argument("--base", metavar="REF", help="compare from this revision (see below)")
    parser.add_argument("--head", metavar="REF", default="HEAD", help="compare up to it (HEAD)")
    parser.add_argument("--all", action="store_true", help="plan every pipeline")
    parser.add_argument("--check", action="store_true", help="plan lint and tests, not deploys")
    outputs = parser.add_mutually_exclusive_group()
    outputs.add_argument("--json", action="store_true", help="print the plan as JSON")
    outputs.add_argument("--matrix", action="store_true", help="print a GitHub Actions matrix")
    parser.add_argument(
        "--graph", metavar="FILE", type=Path, help="write the dependency graph (.mmd, .md, .dot)"
    )
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    return parser


def parse_arguments(arguments: Sequence[str]) -> PlanRequest:
    """The plan session's arguments, or one ToolError sentence about what is wrong."""
    options = _parser().parse_intermixed_args(list(arguments))
    if options.all and options.names:
        raise ToolError("name pipelines or pass --all, not both")
    if (options.names or options.all) and (options.base or options.head != "HEAD"):
        raise ToolError(
            "--base and --head choose changes; drop them when naming pipelines or --all"
        )
    return PlanRequest(
        environment=options.env,
        base=options.base,
        head=options.head,
        names=tuple(options.names),
        all_pipelines=options.all,
        check=options.check,
        output="json" if options.json else "matrix" if options.matrix else "table",
        graph=options.graph,
        help=options.help,
    )


def _print(plan: Plan, request: PlanRequest, root: Path, reporter: Reporter) -> None:
    if request.output == "json":
        reporter.info(plan_to_json(plan))
    elif request.output == "matrix":
        matrix = json.dumps({"pipeline": [p.name for p in plan.pipelines]}, separators=(",", ":"))
        reporter.info(matrix)
        _github_output("matrix", matrix)
    else:
        _print_table(plan, root, reporter)


def _github_output(name: str, value: str) -> None:
    """Under GitHub Actions, also hand `value` to later jobs as the step output `name`."""
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with Path(output).open("a", encoding="utf-8") as stream:
            stream.write(f"{name}={value}\n")


def _print_table(plan: Plan, root: Path, reporter: Reporter) -> None:
    reporter.info(_headline(plan))
    if not plan.pipelines and not plan.deleted:
        reporter.info("nothing to do: no pipeline is affected")
        return
    _section(reporter, f"pipelines ({len(plan.pipelines)})", ["pipeline", "why"], _reasons(plan))
    images = _image_rows(plan, root)
    _section(reporter, f"images to build ({len(images)})", ["pipeline", "dockerfile"], images)
    deployments = _deployment_rows(plan, root)
    headers = ["pipeline", "deployment", "prefect.yaml", "entry"]
    _section(reporter, f"deployments to register ({len(deployments)})", headers, deployments)

    for name in plan.deleted:
        reporter.info(f"deleted pipeline: {name}")
    for removed in plan.removed:
        reporter.info(
            f"no longer declared: {removed.name} ({removed.pipeline}); it stays registered "
            f"until a deploy removes it on request: nox -s deploy-{removed.environment} -- --prune"
        )
    for note in plan.notes:
        reporter.info(f"note: {note}")


def _headline(plan: Plan) -> str:
    what = "checks" if plan.purpose == "check" else "deploy"
    if plan.selection != "changes":
        chosen = "every pipeline" if plan.selection == "all" else "the named pipelines"
        return f"plan for {plan.environment} ({what}): {chosen}"
    base, head = (plan.base or "")[:12], (plan.head or "")[:12]
    return (
        f"plan for {plan.environment} ({what}): changes from {base} ({plan.base_source}) to {head}"
    )


def _section(
    reporter: Reporter, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    reporter.info("")
    reporter.info(title)
    if rows:
        reporter.table(headers, rows)


def _reasons(plan: Plan) -> list[list[str]]:
    """One row per reason, the pipeline named on its first; long lists cut short."""
    rows: list[list[str]] = []
    for pipeline in plan.pipelines:
        texts = [reason.describe() for reason in pipeline.reasons]
        if len(texts) > REASONS_SHOWN:
            hidden = len(texts) - REASONS_SHOWN + 1
            texts = [*texts[: REASONS_SHOWN - 1], f"... and {hidden} more (see --json)"]
        rows.extend([pipeline.name if i == 0 else "", text] for i, text in enumerate(texts))
    return rows


def _image_rows(plan: Plan, root: Path) -> list[list[str]]:
    return [[image.pipeline, _relative(image.dockerfile, root)] for image in plan.images]


def _deployment_rows(plan: Plan, root: Path) -> list[list[str]]:
    return [
        [d.pipeline, d.name, _relative(d.prefect_file, root), str(d.index)]
        for d in plan.deployments
    ]


# --- the dependency graph ----------------------------------------------------------------------


def _write_graph(workspace: Workspace, plan: Plan, target: Path, reporter: Reporter) -> None:
    """Draw the dependency graph, affected pipelines marked, as Mermaid or DOT by suffix."""
    writers = {".mmd": _mermaid, ".mermaid": _mermaid, ".md": _mermaid_markdown, ".dot": _dot}
    writer = writers.get(target.suffix.lower(), _dot if target.suffix == ".gv" else None)
    if writer is None:
        raise ToolError(
            f"cannot tell the graph format of {target}; name it .mmd or .md (Mermaid) or .dot"
        )
    graph = dependency_graph(workspace, plan.purpose)
    affected = {pipeline.name for pipeline in plan.pipelines}
    path = target if target.is_absolute() else workspace.settings.root / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(writer(graph, affected), "utf-8")
    reporter.info(f"wrote the dependency graph to {path}")


def _mermaid(graph: Mapping[str, Sequence[str]], affected: set[str]) -> str:
    lines = ["graph LR"]
    lines.extend(f"    {name}" for name in graph)
    lines.extend(f"    {name} --> {dep}" for name, deps in graph.items() for dep in deps)
    lines.append("    classDef affected fill:#fde68a,stroke:#b45309,stroke-width:2px")
    if affected:
        lines.append(f"    class {','.join(sorted(affected))} affected")
    return "\n".join(lines) + "\n"


def _mermaid_markdown(graph: Mapping[str, Sequence[str]], affected: set[str]) -> str:
    return f"```mermaid\n{_mermaid(graph, affected)}```\n"


def _dot(graph: Mapping[str, Sequence[str]], affected: set[str]) -> str:
    lines = ["digraph pipelines {", "    rankdir=LR;", "    node [shape=box];"]
    for name in graph:
        style = ' [style=filled, fillcolor="#fde68a"]' if name in affected else ""
        lines.append(f'    "{name}"{style};')
    lines.extend(f'    "{name}" -> "{dep}";' for name, deps in graph.items() for dep in deps)
    lines.append("}")
    return "\n".join(lines) + "\n"
