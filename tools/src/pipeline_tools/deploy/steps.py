"""The deploy's steps that talk to Prefect, each run to completion on its own event loop.

Importing this module imports Prefect (about two seconds), which is why the sessions reach it
only once there is something to register.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from prefect._internal.versioning import get_inferred_version_info
from prefect.client.schemas.objects import VersionInfo

from pipeline_tools.deploy import local
from pipeline_tools.deploy.api import Api, open_api
from pipeline_tools.deploy.connection import Connection
from pipeline_tools.deploy.records import Run
from pipeline_tools.deploy.register import register
from pipeline_tools.deploy.spec import (
    DeploymentSpec,
    Entry,
    Target,
    build_spec,
    load_entry,
    resolve_references,
    version_type,
    work_pool_name,
)
from pipeline_tools.errors import ExitCode, ToolError
from pipeline_tools.plan import Plan
from pipeline_tools.report import Outcome
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings
from pipeline_tools.workspace import Workspace

LOCAL = "local"


def check_pools(workspace: Workspace, plan: Plan, connection: Connection) -> None:
    """Fail, naming the pool and the line that names it, when a work pool does not exist."""
    pools: dict[str, Entry] = {}
    for entry in entries(workspace, plan):
        pools.setdefault(work_pool_name(entry), entry)
    missing = asyncio.run(_missing_pools(connection, workspace.settings, sorted(pools)))
    if missing:
        entry = pools[missing[0]]
        raise ToolError(
            f"{entry.where('work_pool', 'name')}: work pool '{missing[0]}' does not exist on "
            f"{connection.url}; create it (prefect work-pool create {missing[0]} --type "
            "<type>) or correct the name in prefect.yaml"
        )


def register_entries(
    workspace: Workspace,
    plan: Plan,
    connection: Connection,
    images: Mapping[str, str],
    run: Run,
    prune: Sequence[Target] | None,
    reporter: Reporter,
) -> list[Outcome]:
    """Build every planned deployment's spec, then compare and write them through one client."""
    found = entries(workspace, plan)
    return asyncio.run(
        _register(
            workspace.settings, connection, plan.environment, found, images, run, prune, reporter
        )
    )


def entries(workspace: Workspace, plan: Plan) -> list[Entry]:
    """The prefect.yaml entry of every planned deployment (local ones derived from staging)."""
    found = []
    for target in targets(plan):
        overrides = None
        if plan.environment == LOCAL:
            pipeline = workspace.get(target.pipeline)
            overrides = local.local_overrides(workspace.settings, pipeline, target.name)
        found.append(load_entry(target, overrides))
    return found


def targets(plan: Plan) -> list[Target]:
    """The plan's deployments as registration targets."""
    return [
        Target(d.pipeline, d.name, plan.environment, d.prefect_file, d.index)
        for d in plan.deployments
    ]


def choose_run(
    workspace: Workspace, plan: Plan, words: Sequence[str]
) -> tuple[Target, dict[str, Any]]:
    """The local deployment `--run` names and its checked parameters."""
    wanted = local.RunRequest(words[0], tuple(words[1:]))
    chosen = local.choose(wanted, targets(plan))
    return chosen, local.run_parameters(workspace, chosen, wanted)


def run_local(
    connection: Connection,
    settings: Settings,
    target: Target,
    parameters: Mapping[str, Any],
    reporter: Reporter,
) -> ExitCode:
    """Run one local deployment through a worker and wait for its final state."""

    async def run() -> ExitCode:
        async with open_api(connection, settings) as api:
            return await local.run_once(api, settings, target, parameters, reporter)

    return asyncio.run(run())


async def build_specs(
    api: Api, settings: Settings, found: Sequence[Entry], images: Mapping[str, str]
) -> list[DeploymentSpec]:
    """The spec of every entry whose image is known (local entries need none)."""
    inferred = await _inferred_versions(settings, {version_type(entry) for entry in found})
    specs = []
    for entry in found:
        image = images.get(entry.target.pipeline)
        if image is None and entry.target.environment != LOCAL:
            continue  # its image did not build; the summary already says so
        resolved = await resolve_references(entry, api)
        specs.append(build_spec(settings.root, resolved, image, inferred[version_type(entry)]))
    return specs


def concurrency(settings: Settings, connection: Connection) -> int:
    """Registrations at once: `deploy_concurrency`, or its local variant for a loopback API."""
    host = urllib.parse.urlsplit(connection.url).hostname or ""
    loopback = host == "localhost" or host.startswith("127.") or host == "::1"
    return settings.local_deploy_concurrency if loopback else settings.deploy_concurrency


async def _register(
    settings: Settings,
    connection: Connection,
    environment: str,
    found: Sequence[Entry],
    images: Mapping[str, str],
    run: Run,
    prune: Sequence[Target] | None,
    reporter: Reporter,
) -> list[Outcome]:
    async with open_api(connection, settings) as api:
        if environment == LOCAL:
            await local.ensure_pool(api, settings.local_work_pool)
        specs = await build_specs(api, settings, found, images)
        at_once = concurrency(settings, connection)
        return await register(api, specs, environment, run, at_once, reporter, prune)


async def _missing_pools(
    connection: Connection, settings: Settings, names: Sequence[str]
) -> list[str]:
    async with open_api(connection, settings) as api:
        return [name for name in names if not await api.work_pool_exists(name)]


async def _inferred_versions(
    settings: Settings, kinds: set[str | None]
) -> dict[str | None, VersionInfo | None]:
    """What Prefect infers from the repository for each version type, asked once per run."""
    inferred: dict[str | None, VersionInfo | None] = {}
    with contextlib.chdir(settings.root):  # Prefect asks git in the working directory
        for kind in kinds:
            inferred[kind] = await get_inferred_version_info(kind)
    return inferred
