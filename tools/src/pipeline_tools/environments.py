"""One uv environment per pipeline, synced from uv.lock with only that pipeline's dependencies."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipeline_tools import commands
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings
from pipeline_tools.workspace import Pipeline


def pipeline_environ(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variables for running a pipeline's code here: ours, minus GIT_*, plus `extra`.

    A local Prefect server started for a test or a run would otherwise report usage to a
    service that machines without internet cannot reach, logging an error each time.
    """
    environ = commands.clean_environ(extra)
    environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return environ


def environment_path(settings: Settings, pipeline: Pipeline) -> Path:
    """Where the pipeline's environment lives, inside the ignored state folder."""
    return settings.state_path / "envs" / pipeline.name


def sync(settings: Settings, pipeline: Pipeline, reporter: Reporter) -> Path:
    """Create or update the pipeline's environment and return its Python interpreter.

    `uv sync --package` installs the pipeline, what its pyproject.toml declares and its dev
    group, and removes anything else, so an undeclared import fails in the environment.
    When nothing changed since the last sync uv only checks, in a few milliseconds.
    """
    environment = environment_path(settings, pipeline)
    argv = ["uv", "sync", "--quiet", "--package", pipeline.project_name]
    if settings.locked:
        argv.append("--locked")
    commands.run(
        argv,
        reporter,
        cwd=settings.root,
        env={"UV_PROJECT_ENVIRONMENT": str(environment)},
    )
    return environment / "bin" / "python"
