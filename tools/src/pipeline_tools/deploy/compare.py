"""Compare a deployment as it would be registered with the one the server has.

Both sides are reduced to the JSON the server stores, field by field; a field the server fills
in by itself is compared with the value it would fill in (a deployment without a queue gets
the pool's `default` queue; an interval schedule without an anchor date gets the time of
registration, so only anchors written in prefect.yaml are compared).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pipeline_tools.deploy import records

if TYPE_CHECKING:
    from prefect.client.schemas.objects import DeploymentSchedule

    from pipeline_tools.deploy.api import ServerDeployment
    from pipeline_tools.deploy.spec import DeploymentSpec, ScheduleSpec

DEFAULT_QUEUE = "default"


def differences(spec: DeploymentSpec, revision: str, server: ServerDeployment) -> tuple[str, ...]:
    """The names of the fields in which the server's deployment differs from `spec`."""
    wanted = desired_fields(spec, revision)
    actual = server_fields(server)
    changed = [name for name, value in wanted.items() if value != actual.get(name)]
    if not _same_schedules(spec.schedules, server.response.schedules):
        changed.append("schedules")
    return tuple(changed)


def desired_fields(spec: DeploymentSpec, revision: str) -> dict[str, object]:
    """The fields of `spec` as the server would store them, schedules aside."""
    return _plain_fields(
        {
            "flow_name": spec.flow_name,
            "entrypoint": spec.entrypoint,
            "version": spec.version,
            "description": spec.description,
            "tags": list(spec.tags),
            "parameters": spec.parameters,
            "parameter_openapi_schema": spec.parameter_schema,
            "enforce_parameter_schema": spec.enforce_parameter_schema,
            "paused": spec.paused,
            "concurrency_limit": spec.concurrency_limit,
            "concurrency_options": spec.concurrency_options,
            "work_pool_name": spec.work_pool,
            "work_queue_name": spec.work_queue or DEFAULT_QUEUE,
            "job_variables": spec.job_variables,
            "pull_steps": list(spec.pull_steps),
            "path": None,
            "revision": revision,
        }
    )


def server_fields(server: ServerDeployment) -> dict[str, object]:
    """The same fields read from the server's deployment."""
    response = server.response
    options = response.concurrency_options
    return _plain_fields(
        {
            "flow_name": server.flow_name,
            "entrypoint": response.entrypoint,
            "version": response.version,
            "description": response.description,
            "tags": list(response.tags),
            "parameters": response.parameters,
            "parameter_openapi_schema": response.parameter_openapi_schema,
            "enforce_parameter_schema": response.enforce_parameter_schema,
            "paused": response.paused,
            "concurrency_limit": _limit(server),
            "concurrency_options": options.model_dump(mode="json", exclude_unset=True)
            if options is not None
            else None,
            "work_pool_name": response.work_pool_name,
            "work_queue_name": response.work_queue_name,
            "job_variables": response.job_variables,
            "pull_steps": response.pull_steps,
            "path": response.path,
            "revision": records.revision_of(response.labels),
        }
    )


def schedule_fields(
    schedule: object, active: bool, parameters: object, slug: str | None, anchored: bool
) -> str:
    """One schedule as comparable text; the anchor date only when it was written."""
    dumped = _plain(getattr(schedule, "model_dump")(mode="json"))  # noqa: B009  # any schedule kind
    if isinstance(dumped, dict) and not anchored:
        dumped.pop("anchor_date", None)
    return json.dumps(
        {"schedule": dumped, "active": active, "parameters": parameters, "slug": slug},
        sort_keys=True,
    )


def _same_schedules(wanted: tuple[ScheduleSpec, ...], actual: list[DeploymentSchedule]) -> bool:
    """Equal as multisets without unwritten anchors, and every written anchor present."""
    if len(wanted) != len(actual):
        return False
    loose_wanted = sorted(_wanted(item, anchored=False) for item in wanted)
    loose_actual = sorted(_actual(item, anchored=False) for item in actual)
    exact_actual = {_actual(item, anchored=True) for item in actual}
    anchored = [_wanted(item, anchored=True) for item in wanted if item.anchored]
    return loose_wanted == loose_actual and all(item in exact_actual for item in anchored)


def _wanted(item: ScheduleSpec, *, anchored: bool) -> str:
    return schedule_fields(item.schedule, item.active, _plain(item.parameters), item.slug, anchored)


def _actual(item: DeploymentSchedule, *, anchored: bool) -> str:
    return schedule_fields(item.schedule, item.active, _plain(item.parameters), item.slug, anchored)


def _limit(server: ServerDeployment) -> int | None:
    limit = server.response.global_concurrency_limit
    return limit.limit if limit is not None else None


def _plain_fields(fields: dict[str, object]) -> dict[str, object]:
    """Each field's value as JSON would carry it."""
    return {name: _plain(value) for name, value in fields.items()}


def _plain(value: object) -> object:
    """`value` as JSON would carry it (tuples become lists, keys become text)."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))
