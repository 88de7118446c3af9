"""A pipeline's Dockerfile starts from the base image, copies only the pipeline, installs it
from the lock, and passes hadolint."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence

from pipeline_tools.checks.core import Check, Context, Finding, Place, Severity, define
from pipeline_tools.checks.names import own_folders
from pipeline_tools.checks.sources import (
    Instruction,
    copy_arguments,
    option_value,
    shell_commands,
    uv_sync_options,
    words,
)
from pipeline_tools.checks.tools import json_output, run_tool, summarized
from pipeline_tools.workspace import Pipeline

MISSING = define("DOCKER001", "the pipeline has no Dockerfile", line_silence=False)
BASE = define("DOCKER002", "the Dockerfile does not start from the configured base image")
COPIES_MORE = define("DOCKER003", "a COPY or ADD takes files from outside the pipeline's folder")
NOT_INSTALLED = define("DOCKER004", "no `uv sync --package <pipeline>` installs the pipeline")
NOT_FROZEN = define("DOCKER005", "a `uv sync` runs without --frozen, so it may change the lock")
PIP = define("DOCKER006", "a RUN installs packages with pip, outside the lock")
HADOLINT = define(
    "HADOLINT-*", "hadolint's rules (DLxxxx, SCxxxx); info and style findings are warnings"
)

# Root files `uv sync --frozen` reads: the workspace's pyproject.toml and its lock.
WORKSPACE_FILES = frozenset({"pyproject.toml", "uv.lock"})
VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")
HADOLINT_ERRORS = frozenset({"error", "warning"})


def check(context: Context) -> Iterator[Finding]:
    """The repository-specific rules, for each pipeline under check."""
    for pipeline in context.pipelines:
        relative = context.sources.relative(pipeline.dockerfile)
        instructions = context.sources.dockerfile(pipeline)
        if instructions is None:
            message = "the pipeline has no Dockerfile; copy the template's"
            yield MISSING.at(relative, 1, message, pipeline=pipeline.name)
            continue
        place = context.place(pipeline, relative)
        yield from _base(context, place, instructions)
        yield from _copies(context, place, pipeline, instructions)
        yield from _installs(place, pipeline, instructions)


def _base(context: Context, place: Place, instructions: Sequence[Instruction]) -> Iterator[Finding]:
    arguments: dict[str, str] = {}
    stages: dict[str, str] = {}
    final: tuple[str, Instruction] | None = None
    for instruction in instructions:
        if instruction.keyword == "ARG" and final is None:
            name, _, default = instruction.value.partition("=")
            arguments[name.strip()] = default.strip().strip("\"'")
        elif instruction.keyword == "FROM":
            image, alias = _from(instruction.value, arguments)
            image = stages.get(image, image)
            if alias:
                stages[alias] = image
            final = (image, instruction)
    expected = context.settings.base_image_name
    if final is None:
        yield place.at(BASE, 1, f"the Dockerfile has no FROM; start from {expected}")
    elif _repository(final[0]) != expected:
        message = (
            f"the image starts from {final[0]!r}, not the base image {expected} "
            f"(setting base_image_name); write ARG BASE_IMAGE={expected}:latest and "
            "FROM ${BASE_IMAGE}"
        )
        yield place.at(BASE, final[1].line, message)


def _from(value: str, arguments: Mapping[str, str]) -> tuple[str, str]:
    tokens = [token for token in words(value) if not token.startswith("--")]
    image = VARIABLE.sub(lambda match: _argument(match, arguments), tokens[0]) if tokens else ""
    alias = tokens[2] if len(tokens) > 2 and tokens[1].lower() == "as" else ""  # noqa: PLR2004
    return image, alias


def _argument(match: re.Match[str], arguments: Mapping[str, str]) -> str:
    name = match.group(1) or match.group(3)
    return arguments.get(name) or match.group(2) or ""


def _repository(image: str) -> str:
    """The image name without registry, tag or digest: `base` for `reg:5000/ns/base:1`."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0]


def _copies(
    context: Context, place: Place, pipeline: Pipeline, instructions: Sequence[Instruction]
) -> Iterator[Finding]:
    allowed = own_folders(context, pipeline)
    prefix = context.settings.pipelines_dir.strip("/") + "/"
    for instruction in instructions:
        if instruction.keyword not in {"COPY", "ADD"}:
            continue
        sources, _, from_stage = copy_arguments(instruction)
        for source in [] if from_stage else sources:
            normal = posixpath.normpath(source)
            inside = any(normal == f or normal.startswith(f"{f}/") for f in allowed)
            needed = inside or normal in WORKSPACE_FILES
            if needed or source.startswith("<<") or normal.startswith(prefix):
                continue  # a heredoc, or another pipeline's folder: NAME011 reports that
            message = (
                f"{instruction.keyword} {source} takes files from outside "
                f"{context.folder(pipeline)}/; copy only pyproject.toml, uv.lock and the folders "
                "of the pipeline and of the pipelines it imports"
            )
            yield place.at(COPIES_MORE, instruction.line, message, needle=source)


def _installs(
    place: Place, pipeline: Pipeline, instructions: Sequence[Instruction]
) -> Iterator[Finding]:
    installed = False
    for instruction in (i for i in instructions if i.keyword == "RUN"):
        for command in shell_commands(instruction.value):
            options = uv_sync_options(command)
            if options is not None:
                installed = installed or option_value(options, "--package") is not None
                if "--frozen" not in options:
                    message = (
                        "uv sync without --frozen may update the lock inside the image; "
                        "write uv sync --frozen"
                    )
                    yield place.at(NOT_FROZEN, instruction.line, message, needle="uv sync")
            elif _is_pip_install(command):
                message = (
                    "this RUN installs with pip, outside uv.lock; declare the package in "
                    "pyproject.toml and let uv sync --frozen install it"
                )
                yield place.at(PIP, instruction.line, message, needle="pip")
    if not installed:
        message = (
            f"no RUN installs the pipeline from the lock; add "
            f"RUN uv sync --frozen --no-dev --package {pipeline.name}"
        )
        yield place.at(NOT_INSTALLED, len(place.lines) or 1, message)


def _is_pip_install(command: Sequence[str]) -> bool:
    names = [token.rsplit("/", 1)[-1] for token in command]
    for index, name in enumerate(names[:-1]):
        if name in {"pip", "pip3"} and names[index + 1] == "install":
            return True
    return False


def hadolint(context: Context) -> Iterator[Finding]:
    """hadolint over every Dockerfile under check, in one run."""
    files = [context.sources.relative(p.dockerfile) for p in context.pipelines]
    files = [name for name in files if (context.settings.root / name).is_file()]
    if context.whole and (context.settings.root / "Dockerfile").is_file():
        files.append("Dockerfile")
    if not files:
        return
    ignores = [f"--ignore={code}" for code in context.settings.hadolint_ignore]
    argv = ["hadolint", "--format", "json", "--no-fail", *ignores]
    data, failed = json_output(
        "hadolint", run_tool(context, [*argv, *files], shown=summarized(argv, files))
    )
    if failed is not None:
        yield failed
        return
    for item in data if isinstance(data, list) else []:
        yield _hadolint_finding(context, item)


def _hadolint_finding(context: Context, item: Mapping[str, object]) -> Finding:
    path = str(item.get("file", ""))
    level = str(item.get("level", "error"))
    return HADOLINT.at(
        path,
        _number(item.get("line")),
        str(item.get("message", "")),
        column=_number(item.get("column")),
        pipeline=context.owner(path),
        code=str(item.get("code", "")),
        severity=Severity.ERROR if level in HADOLINT_ERRORS else Severity.WARNING,
    )


def _number(value: object) -> int:
    return value if isinstance(value, int) else 1


CHECK = Check("Dockerfile", check)
HADOLINT_CHECK = Check("hadolint", hadolint, tool="hadolint")
