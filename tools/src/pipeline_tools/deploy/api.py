"""The Prefect API as the deploy uses it: one async client, retries with backoff, clear failures.

Prefect's client retries some errors on its own, within limits this project does not set, so
its retries are switched off and `Api.call` retries instead: timeouts, dropped connections,
refusals once the API has answered (a restart), 408, 429 and 5xx answers, `api_retries` times
with exponential backoff from `api_backoff_seconds`. Once the API stays unreachable through
every retry, later calls fail at once instead of waiting again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentCreate, DeploymentScheduleCreate
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowFilter,
    FlowFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.responses import DeploymentResponse
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

from pipeline_tools.deploy.connection import Connection, Failure, describe
from pipeline_tools.deploy.spec import DeploymentSpec
from pipeline_tools.errors import ToolError
from pipeline_tools.settings import Settings

T = TypeVar("T")
PAGE = 200
NOT_FOUND = 404
CONFLICT = 409


class ApiError(ToolError):
    """A Prefect API call that failed for good; the message says why, without secrets."""


@dataclass(frozen=True)
class ServerDeployment:
    """A deployment as the server has it, with the name of its flow."""

    response: DeploymentResponse
    flow_name: str


class Api:
    """Calls to one Prefect API through one client, each retried on transient errors."""

    def __init__(self, client: PrefectClient, connection: Connection, settings: Settings) -> None:
        self.client = client
        self.connection = connection
        self._retries = max(settings.api_retries, 0)
        self._backoff = max(settings.api_backoff_seconds, 0.0)
        self._timeout = settings.api_timeout_seconds
        self._flows: dict[str, UUID] = {}
        self._flow_locks: dict[str, asyncio.Lock] = {}
        self._connected = False  # refused before any answer: a wrong address, not a restart
        self.unreachable: str | None = None

    async def call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation`, retrying transient failures; raise ApiError naming `what`."""
        if self.unreachable is not None:
            raise ApiError(f"not attempted: {self.unreachable}")
        failure = Failure("not attempted", False)
        for attempt in range(self._retries + 1):
            try:
                result = await operation()
            except (httpx.HTTPError, OSError) as error:
                failure = describe(error, self.connection.url, self._timeout, self._connected)
            else:
                self._connected = True
                return result
            if not failure.transient:
                raise ApiError(f"{what}: {failure.reason}")
            if attempt < self._retries:
                await asyncio.sleep(self._backoff * 2**attempt)
        attempts = f"{failure.reason} (after {self._retries + 1} attempts)"
        if failure.unreachable:
            self.unreachable = attempts
        raise ApiError(f"{what}: {attempts}")

    async def read_environment(self, environment: str) -> list[ServerDeployment]:
        """Every deployment whose name ends in `--<environment>`, with its flow's name."""
        suffix = f"--{environment}"
        found = await self.call(f"reading the {environment} deployments", self._named_like(suffix))
        found = [response for response in found if response.name.endswith(suffix)]
        names = await self.call("reading flow names", lambda: self._flow_names(found))
        return [ServerDeployment(item, names.get(item.flow_id, "")) for item in found]

    async def work_pool_exists(self, name: str) -> bool:
        """Whether the work pool `name` exists."""
        response = await self.call(
            f"reading work pool '{name}'",
            lambda: self._request("GET", f"/work_pools/{name}", allow={NOT_FOUND}),
        )
        return response.status_code != NOT_FOUND

    async def create_work_pool(self, name: str, kind: str, template: Mapping[str, Any]) -> None:
        """Create a work pool; one that already exists is left as it is."""
        body = {"name": name, "type": kind, "base_job_template": dict(template)}
        await self.call(
            f"creating work pool '{name}'",
            lambda: self._request("POST", "/work_pools/", json=body, allow={CONFLICT}),
        )

    async def flow_id(self, flow_name: str) -> UUID:
        """The id of the flow called `flow_name`, created when missing; cached for the run."""
        lock = self._flow_locks.setdefault(flow_name, asyncio.Lock())
        async with lock:
            if flow_name not in self._flows:
                self._flows[flow_name] = await self.call(
                    f"creating flow '{flow_name}'",
                    lambda: self.client.create_flow_from_name(flow_name),
                )
        return self._flows[flow_name]

    async def upsert(self, spec: DeploymentSpec, labels: Mapping[str, str]) -> UUID:
        """Create or replace the deployment `spec` describes (one request, safe to repeat)."""
        body = create_body(spec, await self.flow_id(spec.flow_name), labels)
        response = await self.call(
            f"registering {spec.target.name}",
            lambda: self._request("POST", "/deployments/", json=body),
        )
        return UUID(response.json()["id"])

    async def delete(self, deployment_id: UUID, name: str) -> None:
        """Delete a deployment; one already gone counts as deleted."""
        await self.call(
            f"deleting {name}",
            lambda: self._request("DELETE", f"/deployments/{deployment_id}", allow={NOT_FOUND}),
        )

    async def create_flow_run(self, deployment_id: UUID, parameters: Mapping[str, Any]) -> UUID:
        """Create one run of a deployment, scheduled now."""
        flow_run = await self.call(
            "creating a flow run",
            lambda: self.client.create_flow_run_from_deployment(
                deployment_id, parameters=dict(parameters)
            ),
        )
        return flow_run.id

    async def read_flow_run(self, flow_run_id: UUID) -> FlowRun:
        """The flow run and its current state."""
        return await self.call(
            "reading the flow run", lambda: self.client.read_flow_run(flow_run_id)
        )

    async def flow_run_logs(self, flow_run_id: UUID) -> list[str]:
        """The log lines of a flow run, oldest first."""
        only_this_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        logs = await self.call(
            "reading the flow run's logs", lambda: self.client.read_logs(only_this_run)
        )
        return [log.message for log in logs]

    async def _request(
        self, method: str, path: str, *, json: object = None, allow: set[int] | None = None
    ) -> httpx.Response:
        """One request on the client's connection; statuses in `allow` are not errors."""
        try:
            return await self.client._client.request(method, path, json=json)
        except httpx.HTTPStatusError as error:
            if error.response.status_code in (allow or set()):
                return error.response
            raise

    def _named_like(self, text: str) -> Callable[[], Awaitable[list[DeploymentResponse]]]:
        async def read() -> list[DeploymentResponse]:
            named = DeploymentFilter(name=DeploymentFilterName(like_=text))
            found: list[DeploymentResponse] = []
            while True:
                page = await self.client.read_deployments(
                    deployment_filter=named, limit=PAGE, offset=len(found)
                )
                found.extend(page)
                if len(page) < PAGE:
                    return found

        return read

    async def _flow_names(self, deployments: list[DeploymentResponse]) -> dict[UUID, str]:
        ids = sorted({item.flow_id for item in deployments}, key=str)
        names: dict[UUID, str] = {}
        for start in range(0, len(ids), PAGE):
            flows = await self.client.read_flows(
                flow_filter=FlowFilter(id=FlowFilterId(any_=ids[start : start + PAGE])),
                limit=PAGE,
            )
            names.update({flow.id: flow.name for flow in flows})
        return names


@contextlib.asynccontextmanager
async def open_api(connection: Connection, settings: Settings) -> AsyncIterator[Api]:
    """An `Api` over a Prefect client whose own retries are off (this module retries)."""
    with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}):
        client = PrefectClient(
            connection.url,
            api_key=connection.key,
            httpx_settings={"timeout": settings.api_timeout_seconds},
        )
        async with client:
            yield Api(client, connection, settings)


def create_body(spec: DeploymentSpec, flow_id: UUID, labels: Mapping[str, str]) -> dict[str, Any]:
    """The JSON body of `POST /deployments/` for `spec`, as Prefect's client builds it."""
    create = DeploymentCreate(
        flow_id=flow_id,
        name=spec.target.name,
        version=spec.version,
        description=spec.description,
        entrypoint=spec.entrypoint,
        path=None,
        tags=list(spec.tags),
        labels=dict(labels),
        parameters=dict(spec.parameters),
        parameter_openapi_schema=dict(spec.parameter_schema),
        enforce_parameter_schema=spec.enforce_parameter_schema,
        schedules=[
            DeploymentScheduleCreate(
                schedule=item.schedule,
                active=item.active,
                parameters=dict(item.parameters),
                slug=item.slug,
            )
            for item in spec.schedules
        ],
        concurrency_limit=spec.concurrency_limit,
        paused=spec.paused,
        work_pool_name=spec.work_pool,
        work_queue_name=spec.work_queue,
        job_variables=dict(spec.job_variables),
        pull_steps=[dict(step) for step in spec.pull_steps],
    )
    body = create.model_dump(mode="json", exclude={"branch", "base", "root", "version_info"})
    body["version_info"] = dict(spec.version_info)
    options = spec.concurrency_options
    body["concurrency_options"] = dict(options) if options is not None else None
    return body
