"""Run the external linters: found next to this interpreter, echoed, never through a shell."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_tools.checks.core import TOOL_FAILED, Context, Finding
from pipeline_tools.commands import clean_environ

TIMEOUT_SECONDS = 600
# The file a tool failure points at: the root pyproject.toml declares the linters.
TOOLS_DECLARED_IN = "pyproject.toml"


@dataclass(frozen=True)
class ToolResult:
    """How one run of a linter ended."""

    returncode: int
    stdout: str
    stderr: str


def executable(name: str) -> str | None:
    """The tool installed beside this Python (the project environment), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def run_tool(
    context: Context,
    argv: Sequence[str],
    *,
    shown: Sequence[str] | None = None,
    stdin: str | None = None,
) -> ToolResult | Finding:
    """Run a linter in the root; a missing or hung tool becomes a LINT003 finding."""
    program = argv[0] if "/" in argv[0] else executable(argv[0])
    if program is None:
        return failure(argv[0], "is not installed; install the dev group with `uv sync`")
    context.reporter.command(list(shown or argv))
    try:
        completed = subprocess.run(
            [program, *argv[1:]],
            cwd=context.settings.root,
            env=clean_environ(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return failure(argv[0], f"did not finish in {TIMEOUT_SECONDS} seconds")
    except OSError as error:
        return failure(argv[0], f"could not start ({error.strerror})")
    return ToolResult(completed.returncode, completed.stdout, completed.stderr)


def failure(tool: str, what: str, result: ToolResult | None = None) -> Finding:
    """A LINT003 finding: `tool` could not check anything, with the last line it printed."""
    detail = ""
    if result is not None:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        detail = f" ({lines[-1].strip()[:200]})" if lines else ""
    return TOOL_FAILED.at(
        TOOLS_DECLARED_IN, 1, f"{tool} {what}{detail}; its rules were not checked"
    )


def json_output(tool: str, result: ToolResult | Finding) -> tuple[Any, Finding | None]:
    """The JSON a tool printed, or the finding that says it printed none."""
    if isinstance(result, Finding):
        return None, result
    try:
        return json.loads(result.stdout or "null"), None
    except ValueError:
        return None, failure(tool, f"exited with status {result.returncode}", result)


def summarized(argv: Sequence[str], files: Sequence[str]) -> list[str]:
    """The command as echoed: the file arguments counted rather than listed."""
    return [*argv, f"<{len(files)} files>"] if len(files) > 3 else [*argv, *files]  # noqa: PLR2004
