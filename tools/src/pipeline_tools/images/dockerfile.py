"""Read a Dockerfile just enough to check it and to adapt it to the builder that runs it."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

INSTRUCTIONS = (
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)
HEREDOC = re.compile(r"<<-?\s*[\"']?(\w+)[\"']?")
MOUNT = re.compile(r"--mount=(\S+)\s*")
# Set for every RUN of a stage, never kept in the image: without a cache mount uv would leave
# its cache in the layer.
NO_CACHE_ARGUMENT = "ARG UV_NO_CACHE=1\n"


class DockerfileError(Exception):
    """A Dockerfile that cannot be built; the message names the file and line."""


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword (upper case), first and last line (1-based) and text."""

    keyword: str
    first: int
    last: int
    text: str


def parse(text: str, display: str) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined, comments and heredocs skipped.

    Raises DockerfileError for an unknown instruction or for instructions before FROM.
    """
    lines = text.splitlines()
    found: list[Instruction] = []
    index = 0
    while index < len(lines):
        if _is_blank_or_comment(lines[index]):
            index += 1
            continue
        instruction, index = _read_instruction(lines, index)
        _check_keyword(instruction, display)
        found.append(instruction)
    _check_order(found, display)
    return found


def for_legacy_builder(text: str, display: str) -> str:
    """The Dockerfile without BuildKit cache mounts, and uv told not to cache, in every stage.

    A cache mount only speeds a build up, so dropping it changes nothing in the image; other
    mounts (secrets, bind mounts) have no legacy equivalent and raise DockerfileError.
    """
    lines = text.splitlines(keepends=True)
    for instruction in reversed(parse(text, display)):
        span = range(instruction.first - 1, instruction.last)
        if instruction.keyword == "RUN":
            for index in span:
                lines[index] = _drop_cache_mounts(lines[index], display, index + 1)
        elif instruction.keyword == "FROM":
            ending = "" if lines[span[-1]].endswith("\n") else "\n"
            lines.insert(instruction.last, ending + NO_CACHE_ARGUMENT)
    return "".join(lines)


def from_images(instructions: list[Instruction], build_args: dict[str, str]) -> list[str]:
    """The images the FROM instructions name, with ${ARG} references replaced by their values."""
    defaults = dict(build_args)
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        name, _, value = instruction.text.split(None, 1)[-1].partition("=")
        defaults.setdefault(name.strip(), value.strip().strip("\"'"))
    stages: set[str] = set()
    images = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [word for word in instruction.text.split()[1:] if not word.startswith("--")]
            image = _substitute(words[0], defaults) if words else ""
            if image.lower() not in stages and image != "scratch":
                images.append(image)
            match words:
                case [_, keyword, alias] if keyword.lower() == "as":
                    stages.add(alias.lower())
    return images


def _read_instruction(lines: list[str], start: int) -> tuple[Instruction, int]:
    pieces = [lines[start].strip()]
    index = start
    while pieces[-1].endswith("\\") and index + 1 < len(lines):
        index += 1
        if not _is_blank_or_comment(lines[index]):  # comments inside an instruction are dropped
            pieces.append(lines[index].strip())
    text = " ".join(piece.removesuffix("\\").strip() for piece in pieces).strip()
    heredoc = HEREDOC.search(text)
    if heredoc and text.split(None, 1)[0].upper() in {"RUN", "COPY", "ADD"}:
        while index + 1 < len(lines) and lines[index + 1].strip() != heredoc.group(1):
            index += 1
        index += 1
    keyword = text.split(None, 1)[0]
    return Instruction(keyword.upper(), start + 1, index + 1, text), index + 1


def _check_keyword(instruction: Instruction, display: str) -> None:
    if instruction.keyword in INSTRUCTIONS:
        return
    close = difflib.get_close_matches(instruction.keyword, INSTRUCTIONS, n=1)
    hint = f"did you mean {close[0]}?" if close else "see the Dockerfile reference"
    raise DockerfileError(
        f"{display}:{instruction.first}: unknown instruction "
        f"'{instruction.text.split(None, 1)[0]}'; {hint}"
    )


def _check_order(instructions: list[Instruction], display: str) -> None:
    first_from = next((i for i in instructions if i.keyword == "FROM"), None)
    if first_from is None:
        raise DockerfileError(
            f"{display}: no FROM instruction; start it with "
            "`ARG BASE_IMAGE` and `FROM ${BASE_IMAGE}` as the template does"
        )
    for instruction in instructions:
        if instruction is first_from:
            return
        if instruction.keyword != "ARG":
            raise DockerfileError(
                f"{display}:{instruction.first}: {instruction.keyword} before the first FROM; "
                "only ARG may come before it"
            )


def _drop_cache_mounts(line: str, display: str, number: int) -> str:
    def replace(match: re.Match[str]) -> str:
        options = dict(part.partition("=")[::2] for part in match.group(1).split(","))
        if options.get("type") == "cache":
            return ""
        raise DockerfileError(
            f"{display}:{number}: `--mount={match.group(1)}` needs BuildKit, which this Docker "
            "client cannot run; install the buildx plugin"
        )

    return MOUNT.sub(replace, line)


def _substitute(word: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda match: values.get(match.group(1), match.group(0)), word)


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")
