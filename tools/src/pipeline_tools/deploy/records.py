"""Where an environment stands, read from the deployments themselves (no state file).

Every deployment a run writes carries labels: the git revision it was registered from, the
run that wrote it, how many deployments that run wrote, the standing of the environment when
the run started (its base) and its scope (`affected`, `all` or `named`). The environment stands
at the revision of its latest `affected` or `all` run when every deployment that run wrote
still carries its label; a run that failed part-way, was interrupted, or was partly
overwritten by a later `named` run leaves the environment at that run's base, so the next plan
covers its changes again. Runs over named pipelines never move the standing: they do not look
at the other pipelines.
"""

from __future__ import annotations

import datetime
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx

from pipeline_tools.deploy.connection import Connection, describe
from pipeline_tools.errors import ToolError
from pipeline_tools.server import running_server
from pipeline_tools.settings import Settings

REVISION = "pipelines.revision"
RUN = "pipelines.run"
WRITES = "pipelines.writes"
BASE = "pipelines.base"
SCOPE = "pipelines.scope"
SCOPES = ("affected", "all", "named")
PAGE = 200
UNKNOWN = "unknown"  # the revision of a checkout outside git


@dataclass(frozen=True)
class Run:
    """One deploy run, as recorded on the deployments it writes."""

    run: str
    revision: str
    base: str
    scope: str
    writes: int = 0

    def labels(self, writes: int) -> dict[str, str]:
        """The labels of a deployment this run writes, knowing how many it writes in all."""
        return {
            REVISION: self.revision,
            RUN: self.run,
            WRITES: str(writes),
            BASE: self.base,
            SCOPE: self.scope,
        }


def new_run(revision: str, base: str | None, scope: str) -> Run:
    """A run with a fresh id that sorts by start time."""
    started = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return Run(f"{started}-{uuid.uuid4().hex[:8]}", revision, base or "", scope)


def revision_of(labels: Mapping[str, object]) -> str | None:
    """The revision a deployment was registered from, if this project registered it."""
    value = labels.get(REVISION)
    return value if isinstance(value, str) and value else None


def standing(labels: Iterable[Mapping[str, object]]) -> str | None:
    """The revision an environment stands at, from the labels of all its deployments."""
    runs: dict[str, Run] = {}
    present: Counter[str] = Counter()
    for item in labels:
        run = _run_of(item)
        if run is not None:
            runs[run.run] = run
            present[run.run] += 1
    covering = [run for run in runs.values() if run.scope in ("affected", "all")]
    if not covering:
        return None
    latest = max(covering, key=lambda run: run.run)
    complete = present[latest.run] >= latest.writes
    return latest.revision if complete else latest.base or None


def last_deployed_revision(settings: Settings, environment: str) -> str | None:
    """The git revision `environment` stands at on its Prefect server, or None when unknown.

    The server is the one PREFECT_API_URL names (for `local`, the local server when it runs);
    without one there is nothing to read and the plan falls back to its own default.
    """
    url = _api_url(settings, environment)
    if url is None:
        return None
    key = os.environ.get("PREFECT_API_KEY") or None
    return standing_at(settings, Connection(url, key), environment)


def standing_at(settings: Settings, connection: Connection, environment: str) -> str | None:
    """The revision `environment` stands at on the server behind `connection`."""
    suffix = f"--{environment}"
    deployments = _read_all(settings, connection, suffix)
    return standing(
        _labels(item) for item in deployments if str(item.get("name", "")).endswith(suffix)
    )


def _run_of(labels: Mapping[str, object]) -> Run | None:
    values = [labels.get(key) for key in (RUN, REVISION, BASE, SCOPE, WRITES)]
    if not all(isinstance(value, str) for value in values):
        return None
    run, revision, base, scope, writes = (str(value) for value in values)
    if not run or revision in ("", UNKNOWN) or scope not in SCOPES or not writes.isdigit():
        return None
    return Run(run, revision, base, scope, int(writes))


def _api_url(settings: Settings, environment: str) -> str | None:
    url = os.environ.get("PREFECT_API_URL", "").rstrip("/")
    if url:
        return url
    if environment != "local":
        return None
    server = running_server(settings)
    return server.url if server is not None else None


def _labels(item: Mapping[str, object]) -> Mapping[str, object]:
    labels = item.get("labels")
    return labels if isinstance(labels, dict) else {}


def _read_all(settings: Settings, connection: Connection, suffix: str) -> list[dict[str, object]]:
    """Every deployment whose name contains `suffix`, page by page, retried like the deploy."""
    found: list[dict[str, object]] = []
    url = connection.url
    timeout = settings.api_timeout_seconds
    with httpx.Client(base_url=url, headers=connection.headers, timeout=timeout) as http:
        while True:
            body = {"deployments": {"name": {"like_": suffix}}, "limit": PAGE, "offset": len(found)}
            page = _post(settings, http, url, body)
            found.extend(page)
            if len(page) < PAGE:
                return found


def _post(
    settings: Settings, http: httpx.Client, url: str, body: Mapping[str, object]
) -> list[dict[str, object]]:
    for attempt in range(max(settings.api_retries, 0) + 1):
        try:
            response = http.post("/deployments/filter", json=body)
            response.raise_for_status()
            page = response.json()
            return [item for item in page if isinstance(item, dict)]
        except httpx.HTTPError as error:
            failure = describe(error, url, settings.api_timeout_seconds, connected=attempt > 0)
        if not failure.transient or attempt == settings.api_retries:
            break
        time.sleep(settings.api_backoff_seconds * 2**attempt)
    raise ToolError(f"cannot read the deployments on the Prefect API: {failure.reason}")
