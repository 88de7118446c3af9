"""The exception hierarchy and the exit codes every session ends with."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit status of a session."""

    OK = 0
    FAILED = 1  # bad input, failed checks, failed tests or builds: the user can act on it
    INTERNAL = 3  # a bug in this library
    INTERRUPTED = 130


class ToolError(Exception):
    """A failure the user can fix; its message is one sentence: what, where, how to fix."""

    exit_code = ExitCode.FAILED


class ConfigError(ToolError):
    """A settings table, pyproject.toml or prefect.yaml that cannot be used."""


class UnknownPipelineError(ToolError):
    """A pipeline name that no folder under pipelines/ has."""


class CommandError(ToolError):
    """An external command that exited with a non-zero status."""

    def __init__(self, argv: list[str], returncode: int, output: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.output = output
        super().__init__(f"{argv[0]} exited with status {returncode}")
