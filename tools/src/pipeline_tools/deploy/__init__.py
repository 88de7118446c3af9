"""The deploy step: register every deployment of an environment with the Prefect API.

`deploy` is what the `deploy-staging`, `deploy-prod` and `deploy-local` sessions run:

- staging and prod: the plan (pipelines affected since the revision the environment stands
  at, the named ones, or all), work pools checked before anything is built, the missing images
  built and pushed, every deployment of the plan registered through one Prefect client in this
  process (`register_plan`, see `register`), then the summary (`pipeline_tools.report`);
- local: the local Prefect server (started or reused, unless PREFECT_API_URL names another),
  its process work pool, one `--local` deployment per staging deployment of each pipeline (see
  `local`), the summary, and with `--run` one run of a deployment through a real worker.

`last_deployed_revision` tells the plan where an environment stands (see `records`). Prefect
is imported (by `steps`) only once there is something to register, so a deploy with nothing
affected stays quick.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import NoReturn

from pipeline_tools import report, server
from pipeline_tools.deploy.connection import Connection
from pipeline_tools.deploy.records import UNKNOWN, last_deployed_revision, new_run, standing_at
from pipeline_tools.errors import ExitCode, ToolError
from pipeline_tools.plan import Plan, make_plan
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings
from pipeline_tools.workspace import Workspace

__all__ = ["DeployRequest", "deploy", "last_deployed_revision", "register_plan"]

LOCAL = "local"
SCOPES = {"changes": "affected", "all": "all", "named": "named"}  # plan selection -> run scope


@dataclass(frozen=True)
class DeployRequest:
    """What a deploy session was asked to do."""

    environment: str
    names: tuple[str, ...] = ()
    all_pipelines: bool = False
    dry_run: bool = False
    prune: bool = False
    base: str | None = None
    run: tuple[str, ...] = ()  # local only: a pipeline or deployment, then key=value words

    @classmethod
    def from_arguments(cls, environment: str, arguments: Sequence[str]) -> DeployRequest:
        """Parse a deploy session's arguments; a mistake is one ToolError sentence."""
        parsed = _parser(environment).parse_args(_workflow_forms(arguments))
        if getattr(parsed, "run", None) == []:
            raise ToolError("--run needs a pipeline: --run <pipeline> [key=value ...]")
        return cls(
            environment=environment,
            names=tuple(parsed.names),
            all_pipelines=bool(parsed.all),
            dry_run=bool(parsed.dry_run),
            prune=bool(parsed.prune),
            base=getattr(parsed, "base", None),
            run=tuple(getattr(parsed, "run", None) or ()),
        )


def deploy(workspace: Workspace, request: DeployRequest, reporter: Reporter) -> ExitCode:
    """Register the environment's deployments; the exit code says whether all of them landed."""
    known = (*workspace.settings.environments, LOCAL)
    if request.environment not in known:
        names = ", ".join(known)
        raise ToolError(f"unknown environment '{request.environment}'; use one of: {names}")
    if request.environment == LOCAL:
        return _deploy_local(workspace, request, reporter)
    return _deploy_remote(workspace, request, reporter)


def register_plan(
    workspace: Workspace,
    plan: Plan,
    images: Mapping[str, str],
    reporter: Reporter,
    *,
    prune: bool = False,
    failures: Sequence[report.Outcome] = (),
) -> ExitCode:
    """Register every deployment of `plan` with the Prefect API, then print the summary.

    The API is the one PREFECT_API_URL names (for `local` without it, the local server).
    `images` gives each pipeline's image reference (local deployments need none); `failures`
    are deployments already lost (their image did not build), listed in the summary too.
    """
    settings = workspace.settings
    connection = _connection(settings, plan.environment, reporter)
    steps = _steps()
    if plan.environment != LOCAL:
        steps.check_pools(workspace, plan, connection)
    keep = _declared(workspace, plan.environment, reporter) if prune else None
    run = new_run(plan.head or UNKNOWN, plan.base, SCOPES.get(plan.selection, "named"))
    outcomes = steps.register_entries(workspace, plan, connection, images, run, keep, reporter)
    return report.summarize(f"deploy to {plan.environment}", [*failures, *outcomes], reporter)


def _declared(workspace: Workspace, environment: str, reporter: Reporter) -> list[object]:
    """Every deployment the workspace declares now for `environment` (what --prune keeps)."""
    everything = make_plan(
        workspace, environment=environment, all_pipelines=True, reporter=reporter
    )
    return list(_steps().targets(everything))


# --- staging and prod --------------------------------------------------------------------------


def _deploy_remote(workspace: Workspace, request: DeployRequest, reporter: Reporter) -> ExitCode:
    connection = _from_environment(reporter)
    if connection is None and not request.dry_run:
        connection = _remote_connection(request, reporter)
    standing = (
        standing_at(workspace.settings, connection, request.environment) if connection else None
    )
    plan = _plan(workspace, request, standing, reporter)
    if request.dry_run or connection is None:
        _show(plan, reporter)
        return ExitCode.OK
    if not plan.deployments and not request.prune:
        reporter.info(f"nothing to deploy to {request.environment}: no pipeline is affected")
        return ExitCode.OK
    _steps().check_pools(workspace, plan, connection)
    images, broken = _images(workspace, plan, reporter)
    return register_plan(workspace, plan, images, reporter, prune=request.prune, failures=broken)


def _remote_connection(request: DeployRequest, reporter: Reporter) -> Connection:
    connection = _from_environment(reporter)
    if connection is None:
        raise ToolError(
            f"PREFECT_API_URL is not set; point it at the {request.environment} Prefect API "
            "(and set PREFECT_API_KEY when it needs one), or deploy locally: nox -s deploy-local"
        )
    return connection


def _images(
    workspace: Workspace, plan: Plan, reporter: Reporter
) -> tuple[dict[str, str], list[report.Outcome]]:
    """Build and push the plan's missing images; deployments of a failed image fail with it."""
    from pipeline_tools import images  # noqa: PLC0415 - python-on-whales takes 0.5 s to import

    names = [image.pipeline for image in plan.images]
    if not names:
        return {}, []
    built = images.build_images(workspace, names, push=True, reporter=reporter)
    failed = {o.name: o for o in built.failures if o.name in names}
    references = {name: built.reference(name) for name in names if name not in failed}
    lost = [
        report.Outcome(
            d.name,
            d.pipeline,
            report.Status.FAILED,
            f"image not built: {failed[d.pipeline].problem} (log: {failed[d.pipeline].log})",
        )
        for d in plan.deployments
        if d.pipeline in failed
    ]
    return references, lost


# --- local -------------------------------------------------------------------------------------


def _deploy_local(workspace: Workspace, request: DeployRequest, reporter: Reporter) -> ExitCode:
    selection = DeployRequest(LOCAL, names=request.names, all_pipelines=not request.names)
    plan = _plan(workspace, selection, None, reporter)
    if request.dry_run:
        _show(plan, reporter)
        return ExitCode.OK
    steps = _steps()
    chosen = steps.choose_run(workspace, plan, request.run) if request.run else None
    code = register_plan(workspace, plan, {}, reporter, prune=request.prune)
    connection = _connection(workspace.settings, LOCAL, reporter)
    _describe_local(workspace.settings, connection, reporter)
    if code != ExitCode.OK or chosen is None:
        return code
    target, parameters = chosen
    return ExitCode(steps.run_local(connection, workspace.settings, target, parameters, reporter))


def _describe_local(settings: Settings, connection: Connection, reporter: Reporter) -> None:
    """Where the UI is and how to start a worker for the local pool."""
    running = server.running_server(settings)
    if running is not None and running.url == connection.url:
        server.describe(settings, running, reporter)
        return
    reporter.info(f"Prefect API: {connection.url}")
    reporter.info(
        f"start a worker: PREFECT_API_URL={connection.url} uv run prefect worker start "
        f"--pool {settings.local_work_pool}"
    )


# --- both --------------------------------------------------------------------------------------


def _connection(settings: Settings, environment: str, reporter: Reporter) -> Connection:
    """PREFECT_API_URL's API; for `local` without it, the local server (started if needed)."""
    connection = _from_environment(reporter)
    if connection is not None:
        return connection
    if environment != LOCAL:
        return _remote_connection(DeployRequest(environment), reporter)
    return Connection(server.ensure_server(settings, reporter).url)


def _from_environment(reporter: Reporter) -> Connection | None:
    """The API PREFECT_API_URL names, its key (PREFECT_API_KEY) hidden from every output."""
    url = os.environ.get("PREFECT_API_URL", "").strip().rstrip("/")
    key = os.environ.get("PREFECT_API_KEY", "").strip() or None
    if key:
        reporter.hide(key)
    return Connection(url, key) if url else None


def _plan(
    workspace: Workspace, request: DeployRequest, standing: str | None, reporter: Reporter
) -> Plan:
    return make_plan(
        workspace,
        environment=request.environment,
        base=request.base,
        names=request.names,
        all_pipelines=request.all_pipelines,
        last_deployed=lambda _settings, _environment: standing,
        reporter=reporter,
    )


def _show(plan: Plan, reporter: Reporter) -> None:
    """The dry run: what would be built and registered, and nothing else."""
    reporter.info(f"plan for {plan.environment} ({plan.selection}; base: {plan.base_source})")
    rows = [
        [d.pipeline, d.name, d.prefect_file.relative_to(plan.root).as_posix(), str(d.index)]
        for d in plan.deployments
    ]
    reporter.table(["pipeline", "deployment", "prefect.yaml", "entry"], rows)
    reporter.info(f"images to build: {', '.join(i.pipeline for i in plan.images) or 'none'}")
    for removed in plan.removed:
        reporter.info(f"still registered although gone (removed with --prune): {removed.name}")
    reporter.info(f"dry run: nothing built or registered ({len(rows)} deployments planned)")


def _steps() -> ModuleType:
    """The steps that need Prefect, imported when there is something to register."""
    from pipeline_tools.deploy import steps  # noqa: PLC0415 - Prefect takes 2 s to import

    return steps


def _workflow_forms(arguments: Sequence[str]) -> list[str]:
    """Read the forms workflows pass inputs in: --all=BOOL, --dry-run=BOOL, --pipelines=LIST.

    A manual run's boolean inputs arrive as "true" or "false" and a push has none (""), so
    the workflow passes them as values instead of choosing flags with logic of its own.
    """
    names: list[str] = []
    rest: list[str] = []
    for argument in arguments:
        option, equals, value = argument.partition("=")
        if equals and option in ("--all", "--dry-run"):
            rest.extend([option] if _truthy(option, value) else [])
        elif equals and option == "--pipelines":
            names.extend(value.replace(",", " ").split())
        else:
            rest.append(argument)
    return [*names, *rest]


def _truthy(option: str, value: str) -> bool:
    if value.lower() in {"true", "1", "yes"}:
        return True
    if value.lower() in {"false", "0", "no", ""}:
        return False
    raise ToolError(f"{option}={value!r} is not true or false")


def _parser(environment: str) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"nox -s deploy-{environment} --",
        epilog="Workflows may write --pipelines='a b', --all=true|false, --dry-run=true|false.",
    )
    parser.add_argument("names", nargs="*", help="pipelines to deploy (default: affected ones)")
    parser.add_argument("--all", action="store_true", help="deploy every pipeline")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument(
        "--prune", action="store_true", help="remove deployments whose entry is gone"
    )
    if environment == LOCAL:
        parser.add_argument(
            "--run", nargs=argparse.REMAINDER, help="then run one: --run <pipeline> [key=value ...]"
        )
    else:
        parser.add_argument("--base", help="compare with this revision, not the last deploy")
    return parser


class _Parser(argparse.ArgumentParser):
    """Argument mistakes become one ToolError sentence instead of an exit."""

    def error(self, message: str) -> NoReturn:
        raise ToolError(f"{message}; see: {self.prog} --help")
