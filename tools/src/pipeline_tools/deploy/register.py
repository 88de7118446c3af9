"""Register deployments: read what the server has, compare, write only what differs.

One read lists every deployment of the environment; each spec is compared with it; the ones
that differ are written concurrently (at most `deploy_concurrency` at a time), each by one
upsert that is safe to repeat, so two deploys of the same environment at once end with the
last writer's version of each deployment and neither reports anything it did not do. A
deployment that fails is reported with its reason and the others go on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline_tools.deploy import compare
from pipeline_tools.deploy.api import Api, ApiError, ServerDeployment
from pipeline_tools.deploy.records import Run, revision_of
from pipeline_tools.deploy.spec import DeploymentSpec, Target
from pipeline_tools.report import Outcome, Status
from pipeline_tools.reporter import Reporter


@dataclass(frozen=True)
class Decision:
    """A spec, the server's deployments of the same name, and what differs (empty: nothing)."""

    spec: DeploymentSpec
    current: ServerDeployment | None
    stale: tuple[ServerDeployment, ...]
    changes: tuple[str, ...]


async def register(
    api: Api,
    specs: Sequence[DeploymentSpec],
    environment: str,
    run: Run,
    concurrency: int,
    reporter: Reporter,
    prune: Sequence[Target] | None = None,
) -> list[Outcome]:
    """Register `specs` in `environment`; with `prune`, remove our deployments not in it."""
    started = time.monotonic()
    try:
        existing = await api.read_environment(environment)
    except ApiError as error:
        return [_failed(spec.target, str(error), started) for spec in specs]
    decisions = [decide(spec, run.revision, existing) for spec in specs]
    writes = sum(1 for decision in decisions if decision.changes)
    _announce(api, environment, len(specs), writes, concurrency, run, reporter)
    labels = run.labels(writes)
    gate = asyncio.Semaphore(max(concurrency, 1))
    progress = _Progress(writes, reporter)
    outcomes = await asyncio.gather(
        *(_apply(api, decision, labels, gate, progress) for decision in decisions)
    )
    removed = await _prune(api, existing, specs, prune, gate) if prune is not None else []
    return [*outcomes, *removed]


def _announce(
    api: Api,
    environment: str,
    compared: int,
    writes: int,
    concurrency: int,
    run: Run,
    reporter: Reporter,
) -> None:
    reporter.info(
        f"{environment} on {api.connection.url}: {compared} deployments compared, {writes} to "
        f"write, at most {max(concurrency, 1)} at a time (revision {run.revision[:12]})"
    )


def decide(spec: DeploymentSpec, revision: str, existing: Sequence[ServerDeployment]) -> Decision:
    """Compare `spec` with the server's deployments of its name."""
    same_name = [item for item in existing if item.response.name == spec.target.name]
    current = next((item for item in same_name if item.flow_name == spec.flow_name), None)
    stale = tuple(item for item in same_name if item is not current)
    changes: tuple[str, ...] = ("flow_name",) if stale else ("new",)
    if current is not None:
        changes = compare.differences(spec, revision, current)
    return Decision(spec, current, stale, changes)


async def _apply(
    api: Api,
    decision: Decision,
    labels: dict[str, str],
    gate: asyncio.Semaphore,
    progress: _Progress,
) -> Outcome:
    target = decision.spec.target
    if not decision.changes:
        return Outcome(target.name, target.pipeline, Status.UNCHANGED)
    async with gate:
        started = time.monotonic()
        try:
            await _write(api, decision, labels)
        except ApiError as error:
            outcome = _failed(target, str(error), started)
        else:
            outcome = Outcome(
                target.name, target.pipeline, Status.REGISTERED, _detail(decision), _since(started)
            )
    progress.done(outcome)
    return outcome


async def _write(api: Api, decision: Decision, labels: dict[str, str]) -> None:
    """Upsert the deployment; the same name under a renamed flow is then removed."""
    await api.upsert(decision.spec, labels)
    for item in decision.stale:
        await api.delete(item.response.id, f"{item.flow_name}/{decision.spec.target.name}")


def _detail(decision: Decision) -> str:
    if decision.changes == ("new",):
        return "new"
    return "changed: " + ", ".join(decision.changes)


async def _prune(
    api: Api,
    existing: Sequence[ServerDeployment],
    specs: Sequence[DeploymentSpec],
    keep: Sequence[Target],
    gate: asyncio.Semaphore,
) -> list[Outcome]:
    """Remove deployments this project registered whose entry no longer exists."""
    wanted = {target.name for target in keep} | {spec.target.name for spec in specs}
    orphans = [
        item
        for item in existing
        if item.response.name not in wanted and revision_of(item.response.labels) is not None
    ]
    return list(await asyncio.gather(*(_remove(api, item, gate) for item in orphans)))


async def _remove(api: Api, item: ServerDeployment, gate: asyncio.Semaphore) -> Outcome:
    name = item.response.name
    pipeline = item.flow_name
    async with gate:
        started = time.monotonic()
        try:
            await api.delete(item.response.id, name)
        except ApiError as error:
            return Outcome(name, pipeline, Status.FAILED, str(error), _since(started))
    detail = "its entry or pipeline no longer exists"
    return Outcome(name, pipeline, Status.REMOVED, detail, _since(started))


class _Progress:
    """One line per write as it finishes, numbered, so long runs show where they are."""

    def __init__(self, total: int, reporter: Reporter) -> None:
        self.total = total
        self.count = 0
        self.reporter = reporter

    def done(self, outcome: Outcome) -> None:
        self.count += 1
        note = f": {outcome.detail}" if outcome.status is Status.FAILED else ""
        self.reporter.info(
            f"[{self.count}/{self.total}] {outcome.deployment} {outcome.status.value}{note}"
        )


def _failed(target: Target, reason: str, started: float) -> Outcome:
    return Outcome(target.name, target.pipeline, Status.FAILED, reason, _since(started))


def _since(started: float) -> float:
    return time.monotonic() - started
