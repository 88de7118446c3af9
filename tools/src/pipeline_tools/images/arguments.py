"""The arguments of the build sessions, read once, the same for nox and for the workflows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline_tools.errors import ConfigError

BUILD_USAGE = "usage: nox -s build -- [pipeline ...] [--env staging|prod] [--push]"
BASE_USAGE = "usage: nox -s build-base [-- --push]"


@dataclass(frozen=True)
class BuildArguments:
    """Pipelines named, whether to push, and the environment whose plan chooses the images."""

    names: tuple[str, ...] = ()
    push: bool = False
    environment: str | None = None


def parse_build_arguments(arguments: Sequence[str], *, base: bool = False) -> BuildArguments:
    """Read `[pipeline ...] [--env ENV] [--push]`; for the base image (`base`), `--push` alone."""
    usage = BASE_USAGE if base else BUILD_USAGE
    names: list[str] = []
    push, environment = False, None
    remaining = iter(arguments)
    for argument in remaining:
        if argument == "--push":
            push = True
        elif argument == "--env" or argument.startswith("--env="):
            environment = argument.partition("=")[2] or next(remaining, "")
            if not environment or environment.startswith("-"):
                raise ConfigError(f"--env needs an environment name; {usage}")
        elif argument.startswith("-"):
            raise ConfigError(f"unknown option {argument}; {usage}")
        else:
            names.append(argument)
    if base and (names or environment):
        raise ConfigError(f"the base image takes no pipeline names or --env; {usage}")
    return BuildArguments(tuple(names), push, environment)
