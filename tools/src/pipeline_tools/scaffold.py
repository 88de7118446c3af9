"""Create a new pipeline from the cookiecutter template in templates/."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from cookiecutter.main import cookiecutter

from pipeline_tools import commands
from pipeline_tools.errors import ToolError
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings


def template_path(settings: Settings) -> Path:
    """The cookiecutter template folder."""
    return settings.root / "templates"


def new_pipeline(
    settings: Settings,
    secretaria: str | None,
    pipeline: str | None,
    reporter: Reporter,
    ask: Callable[[str], str] = input,
) -> Path:
    """Validate the two answers (asking for missing ones), render the template, relock."""
    secretaria = secretaria if secretaria is not None else ask("secretaria (e.g. smas): ")
    pipeline = pipeline if pipeline is not None else ask("pipeline (e.g. dump_cadastro): ")
    validate(settings, secretaria, pipeline)
    for noisy in ("cookiecutter", "binaryornot"):  # they log every file they look at
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cookiecutter(
        str(template_path(settings)),
        no_input=True,
        output_dir=str(settings.pipelines_path),
        extra_context={"secretaria": secretaria, "pipeline": pipeline},
    )
    folder = settings.pipelines_path / f"rj_{secretaria}__{pipeline}"
    commands.run(["uv", "lock", "--quiet"], reporter, cwd=settings.root)
    reporter.info(f"created {folder.relative_to(settings.root)}; next steps:")
    reporter.info(f"  uv run nox -s test -- {folder.name}")
    reporter.info(f"  uv run nox -s lint -- {folder.name}")
    return folder


def validate(settings: Settings, secretaria: str, pipeline: str) -> None:
    """Apply the template hook's rules and refuse an existing pipeline."""
    message = _hook(settings).problem(secretaria, pipeline)
    if message is not None:
        raise ToolError(message)
    folder = settings.pipelines_path / f"rj_{secretaria}__{pipeline}"
    if folder.exists():
        raise ToolError(f"the pipeline {folder.name} already exists; choose another name")


def _hook(settings: Settings) -> ModuleType:
    path = template_path(settings) / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("pre_gen_project", path)
    if spec is None or spec.loader is None:
        raise ToolError(f"cannot load the template hook {path}; restore it from git")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
