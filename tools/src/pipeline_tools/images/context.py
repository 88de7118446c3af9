"""The build context of an image: exactly the files it needs, never a secret or another pipeline.

The library, not Docker, chooses what is sent. A pipeline image receives the root
pyproject.toml and uv.lock, its own folder and the folders of the pipelines it depends on
(workspace sources, transitively), each folder filtered through its own .dockerignore. The base
image receives the root pyproject.toml, uv.lock and src/. Whatever a .dockerignore says, the
names of `DENIED` never enter a context: environment files, credentials, version control and
virtual environments, caches.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_tools.errors import ConfigError
from pipeline_tools.workspace import Pipeline, Workspace, normalize

# Names (of a file or of any folder above it) that never enter a build context.
DENIED = (
    ".env",
    ".env.*",
    "*.env",
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".state",
    ".nox",
    "credentials.json",
    "*credentials*.json",
    "service-account*.json",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_ed25519*",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".ssh",
    ".aws",
    ".docker",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)
IGNORE_FILE = ".dockerignore"  # read by the library, never sent
ROOT_FILES = ("pyproject.toml", "uv.lock")
LOCK_FILE = "uv.lock"


@dataclass(frozen=True)
class ContextFile:
    """One file of a build context: where it is read from and its path inside the context."""

    source: Path
    target: str  # relative, with forward slashes


@dataclass(frozen=True)
class BuildContext:
    """The files of one image's context and the sensitive ones that were left out."""

    files: tuple[ContextFile, ...]
    denied: tuple[str, ...]  # paths relative to the repository root, for the build log

    @property
    def targets(self) -> list[str]:
        """Paths inside the context, sorted."""
        return sorted(file.target for file in self.files)


@dataclass(frozen=True)
class IgnoreRule:
    """One line of a .dockerignore: a pattern, and whether it re-includes (`!`)."""

    pattern: re.Pattern[str]
    include: bool


def pipeline_context(workspace: Workspace, pipeline: Pipeline) -> BuildContext:
    """The context of a pipeline image: root project files, its folder and its dependencies'."""
    root = workspace.settings.root
    files = [ContextFile(root / name, name) for name in ROOT_FILES]
    denied: list[str] = []
    for member in [pipeline, *workspace_dependencies(workspace, pipeline)]:
        selected, left_out = _folder_files(root, member.path, read_ignore_rules(member.path))
        files.extend(selected)
        denied.extend(left_out)
    return BuildContext(tuple(sorted(files, key=lambda f: f.target)), tuple(denied))


def base_context(root: Path) -> BuildContext:
    """The context of the base image: root pyproject.toml, uv.lock and the shared src/ folder."""
    files = [ContextFile(root / name, name) for name in ROOT_FILES]
    selected, denied = _folder_files(root, root / "src", ())
    files.extend(selected)
    return BuildContext(tuple(sorted(files, key=lambda f: f.target)), tuple(denied))


def workspace_dependencies(workspace: Workspace, pipeline: Pipeline) -> list[Pipeline]:
    """Pipelines that `pipeline` depends on through workspace sources, transitively, by name."""
    by_project = {
        normalize(member.project_name or member.name): member for member in workspace.pipelines
    }
    found: dict[str, Pipeline] = {}
    pending = list(pipeline.workspace_dependencies)
    while pending:
        member = by_project.get(pending.pop())
        if member is not None and member.name not in found and member.name != pipeline.name:
            found[member.name] = member
            pending.extend(member.workspace_dependencies)
    return sorted(found.values(), key=lambda member: member.name)


def read_ignore_rules(folder: Path) -> tuple[IgnoreRule, ...]:
    """The rules of `folder`/.dockerignore (none when it has no such file), relative to it."""
    path = folder / IGNORE_FILE
    if not path.is_file():
        return ()
    rules = []
    for line in path.read_text("utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        include = text.startswith("!")
        rules.append(IgnoreRule(_pattern_regex(text.lstrip("!").strip()), include))
    return tuple(rules)


def ignored(relative: str, rules: Sequence[IgnoreRule]) -> bool:
    """Whether a path (relative to the .dockerignore's folder) is excluded; the last rule wins.

    As in Docker, a pattern that matches a folder excludes everything under it.
    """
    candidates = list(_self_and_parents(relative))
    excluded = False
    for rule in rules:
        if any(rule.pattern.fullmatch(candidate) for candidate in candidates):
            excluded = not rule.include
    return excluded


def is_denied(relative: str) -> bool:
    """Whether a path has a name (of the file or of a folder above it) in the deny list."""
    return any(
        fnmatch.fnmatchcase(part, pattern) for part in relative.split("/") for pattern in DENIED
    )


def materialize(context: BuildContext, folder: Path) -> Path:
    """Copy the context's files into `folder` (created) and return it, ready to send."""
    for file in context.files:
        target = folder / file.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file.source, target)
        shutil.copymode(file.source, target)
    return folder


def _folder_files(
    root: Path, folder: Path, rules: Sequence[IgnoreRule]
) -> tuple[list[ContextFile], list[str]]:
    if not folder.is_dir():
        raise ConfigError(f"{folder}: folder missing; the build context needs it")
    selected: list[ContextFile] = []
    denied: list[str] = []
    for path in _walk(folder):
        relative = path.relative_to(folder).as_posix()
        in_repository = path.relative_to(root).as_posix()
        if relative == IGNORE_FILE:
            continue
        if is_denied(relative):
            denied.append(in_repository)
        elif not ignored(relative, rules):
            selected.append(ContextFile(path, in_repository))
    return selected, denied


def _walk(folder: Path) -> Iterator[Path]:
    for current, folders, names in os.walk(folder):
        folders.sort()
        for name in sorted(names):
            yield Path(current) / name


def _self_and_parents(relative: str) -> Iterable[str]:
    parts = relative.split("/")
    return ("/".join(parts[:end]) for end in range(len(parts), 0, -1))


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression over slash-separated relative paths."""
    cleaned = posixpath.normpath(pattern.strip("/")) if pattern.strip("/") else "."
    pieces: list[str] = []
    index = 0
    while index < len(cleaned):
        if cleaned.startswith("**/", index):
            pieces.append("(?:.*/)?")
            index += 3
        elif cleaned.startswith("**", index):
            pieces.append(".*")
            index += 2
        else:
            pieces.append(_glob_piece(cleaned[index]))
            index += 1
    return re.compile("".join(pieces))


def _glob_piece(character: str) -> str:
    if character == "*":
        return "[^/]*"
    if character == "?":
        return "[^/]"
    return re.escape(character)
