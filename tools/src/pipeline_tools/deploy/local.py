"""Environment `local`: deployments derived from staging ones, run once through a real worker.

A local deployment keeps its staging entry's parameters, schedules, tags and description; it
is paused (its schedules do not fire on a laptop), goes to the local process work pool, and its
pull step sets the working directory to the checkout. Its job variables make the worker start
the flow with `uv run` in the pipeline's own environment (`.state/envs/<pipeline>`, the one
`nox -s test` uses), synced on the way, so a flow's dependencies need not be installed where
the worker runs.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.workers.process import ProcessWorker

from pipeline_tools import environments, running, server
from pipeline_tools._run_flow import parse_parameters
from pipeline_tools.deploy.api import Api
from pipeline_tools.deploy.spec import SET_WORKING_DIRECTORY, Target
from pipeline_tools.errors import ExitCode, ToolError
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings
from pipeline_tools.workspace import Pipeline, Workspace

POLL_SECONDS = 1.0
WORKER_GRACE_SECONDS = 30.0  # for the worker to see its flow run's process out


@dataclass(frozen=True)
class RunRequest:
    """`--run NAME [key=value ...]`: a pipeline (with one local deployment) or a deployment."""

    name: str
    assignments: tuple[str, ...]


def local_overrides(settings: Settings, pipeline: Pipeline, name: str) -> dict[str, object]:
    """What a local deployment changes in its staging entry."""
    environment = environments.environment_path(settings, pipeline)
    uv = shutil.which("uv") or "uv"
    command = [uv, "run", "--quiet", "--project", str(settings.root)]
    command += ["--package", pipeline.project_name]
    command += ["--locked"] if settings.locked else []
    command += ["python", "-m", "prefect.engine"]
    job_variables = {
        "command": shlex.join(command),
        "env": {"UV_PROJECT_ENVIRONMENT": str(environment)},
    }
    return {
        "name": name,
        "paused": True,
        "work_pool": {"name": settings.local_work_pool, "job_variables": job_variables},
        "pull": [{SET_WORKING_DIRECTORY: {"directory": str(settings.root)}}],
    }


async def ensure_pool(api: Api, name: str) -> None:
    """Create the local process work pool unless it exists."""
    if not await api.work_pool_exists(name):
        await api.create_work_pool(name, "process", ProcessWorker.get_default_base_job_template())


def choose(request: RunRequest, targets: Sequence[Target]) -> Target:
    """The local deployment `--run` names, by deployment name or by pipeline name."""
    by_name = [target for target in targets if target.name == request.name]
    by_pipeline = [target for target in targets if target.pipeline == request.name]
    found = by_name or by_pipeline
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(target.name for target in found)
        raise ToolError(
            f"{request.name} has {len(found)} local deployments; name one: --run <deployment> "
            f"(one of {names})"
        )
    known = sorted({target.pipeline for target in targets} | {t.name for t in targets})
    raise ToolError(f"no local deployment called {request.name}; known: {', '.join(known)}")


def run_parameters(workspace: Workspace, target: Target, request: RunRequest) -> dict[str, Any]:
    """The run's parameters from key=value words, checked against the flow's signature."""
    running.check_parameters(workspace.get(target.pipeline), request.assignments)
    return parse_parameters(list(request.assignments))


async def run_once(
    api: Api,
    settings: Settings,
    target: Target,
    parameters: Mapping[str, Any],
    reporter: Reporter,
) -> ExitCode:
    """Run the deployment once through a worker on the local pool; wait for its final state."""
    ui = api.connection.url.removesuffix("/api")
    flow_run_id = await api.create_flow_run(await _deployment_id(api, target), parameters)
    reporter.info(f"flow run {ui}/runs/flow-run/{flow_run_id} created; starting a worker")
    with server.worker(settings, api.connection.url, reporter) as started:
        state = await _wait(api, flow_run_id, settings.run_timeout_seconds)
        started.wait(WORKER_GRACE_SECONDS)
    for line in await api.flow_run_logs(flow_run_id):
        reporter.info(f"  {line}")
    reporter.info(f"flow run {state}: {ui}/runs/flow-run/{flow_run_id}")
    if state != "Completed":
        reporter.error(f"the flow run ended {state}; the worker's output is in {started.log}")
        return ExitCode.FAILED
    return ExitCode.OK


async def _deployment_id(api: Api, target: Target) -> UUID:
    """The id of the registered local deployment `target`."""
    for item in await api.read_environment(target.environment):
        if item.response.name == target.name:
            return item.response.id
    raise ToolError(f"the deployment {target.name} is not registered; deploy it first")


async def _wait(api: Api, flow_run_id: UUID, timeout: float) -> str:
    """The name of the flow run's final state, or an error after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flow_run = await api.read_flow_run(flow_run_id)
        if flow_run.state is not None and flow_run.state.is_final():
            return str(flow_run.state.name)
        await asyncio.sleep(POLL_SECONDS)
    raise ToolError(
        f"the flow run did not finish within {timeout:.0f} s; follow it in the UI or raise "
        "PIPELINES_RUN_TIMEOUT_SECONDS"
    )
