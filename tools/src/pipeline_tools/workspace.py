"""Discover the pipelines of the repository and the workspace dependencies between them."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_tools.errors import ConfigError, UnknownPipelineError
from pipeline_tools.settings import Settings

PIPELINE_NAME = re.compile(r"^rj_(?P<secretaria>[a-z0-9]+(?:_[a-z0-9]+)*)__(?P<slug>[a-z0-9_]+)$")


@dataclass(frozen=True)
class Pipeline:
    """One folder under pipelines/ with its project metadata."""

    name: str
    path: Path
    project_name: str
    dependencies: tuple[str, ...]
    workspace_dependencies: tuple[str, ...]

    @property
    def flow_file(self) -> Path:
        """The module that defines the pipeline's flow."""
        return self.path / "flow.py"

    @property
    def prefect_yaml(self) -> Path:
        """The pipeline's deployment definitions."""
        return self.path / "prefect.yaml"

    @property
    def dockerfile(self) -> Path:
        """The pipeline's image recipe."""
        return self.path / "Dockerfile"

    @property
    def tests_path(self) -> Path:
        """The pipeline's own tests."""
        return self.path / "tests"


@dataclass(frozen=True)
class Workspace:
    """Every pipeline of the repository, sorted by name, and the settings they were read with."""

    settings: Settings
    pipelines: tuple[Pipeline, ...]

    @property
    def names(self) -> list[str]:
        """Pipeline names, sorted."""
        return [pipeline.name for pipeline in self.pipelines]

    def get(self, name: str) -> Pipeline:
        """The pipeline called `name`, or an error that lists the closest names."""
        for pipeline in self.pipelines:
            if pipeline.name == name:
                return pipeline
        raise UnknownPipelineError(_unknown_message(name, self.names))

    def select(self, names: Iterable[str]) -> list[Pipeline]:
        """The named pipelines in the order given, or all of them when none is named."""
        wanted = list(dict.fromkeys(names))
        return [self.get(name) for name in wanted] if wanted else list(self.pipelines)


def discover(settings: Settings) -> Workspace:
    """Read every pipeline folder (one with a pyproject.toml) under the pipelines folder."""
    folder = settings.pipelines_path
    candidates = sorted(folder.iterdir()) if folder.is_dir() else []
    pipelines = [_read_pipeline(path) for path in candidates if (path / "pyproject.toml").is_file()]
    return Workspace(settings=settings, pipelines=tuple(pipelines))


def is_pipeline_name(name: str) -> bool:
    """Whether `name` has the rj_<secretaria>__<pipeline> shape."""
    return PIPELINE_NAME.match(name) is not None


def _read_pipeline(path: Path) -> Pipeline:
    pyproject = path / "pyproject.toml"
    try:
        document = tomllib.loads(pyproject.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{pyproject}: {error}; fix the TOML syntax") from None
    project = document.get("project", {})
    dependencies = tuple(str(item) for item in project.get("dependencies", []))
    sources = document.get("tool", {}).get("uv", {}).get("sources", {})
    workspace_dependencies = tuple(
        sorted(
            normalize(name)
            for name, source in sources.items()
            if isinstance(source, dict) and source.get("workspace") is True
        )
    )
    return Pipeline(
        name=path.name,
        path=path,
        project_name=str(project.get("name", "")),
        dependencies=dependencies,
        workspace_dependencies=workspace_dependencies,
    )


def normalize(project_name: str) -> str:
    """A project name in its PEP 503 normal form, as uv.lock spells it."""
    return re.sub(r"[-_.]+", "-", project_name).lower()


def _unknown_message(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.75)
    if close:
        return f"unknown pipeline '{name}'; close matches: {', '.join(close)}"
    if not known:
        return f"unknown pipeline '{name}'; there are no pipelines yet (create one: nox -s new)"
    return f"unknown pipeline '{name}'; known pipelines: {', '.join(known)}"
