"""Run external commands: echoed before they run, their output shown when they fail."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline_tools.errors import CommandError, ToolError
from pipeline_tools.reporter import Reporter


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without inherited GIT_* and virtualenv variables."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") and key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    environ.update(extra or {})
    return environ


def run(
    argv: Sequence[str],
    reporter: Reporter,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
) -> str:
    """Run `argv`; return its output, or raise CommandError showing it on failure."""
    reporter.command(argv)
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=clean_environ(env),
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise ToolError(f"{argv[0]} is not installed or not on PATH; install it first") from None
    output = completed.stdout or ""
    if completed.returncode != 0:
        if output:
            reporter.info(output.rstrip())
        raise CommandError(list(argv), completed.returncode, output)
    return output
