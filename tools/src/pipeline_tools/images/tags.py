"""Content tags: a digest of everything that decides what an image holds.

A content tag covers the files of the build context (path, executable bit and bytes), the
Dockerfile as written, the build arguments, the digest of the image it is built on, and, in
place of the bytes of uv.lock, the locked entries of every package the image installs (name,
version, source and artifact hashes, following extras). So a change to another pipeline's
dependencies, which rewrites uv.lock, leaves the tag of this one alone, while any change to a
package this image installs gives it a new tag. The tag does not depend on the builder: the
Dockerfile the legacy builder receives is derived from the same text (see `dockerfile`).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_tools.commands import clean_environ
from pipeline_tools.errors import ConfigError
from pipeline_tools.images.context import LOCK_FILE, BuildContext
from pipeline_tools.lockfile import Lock, LockError, parse_lock

TAG_PREFIX = "content-"
TAG_HEX_DIGITS = 20
STATUS_WIDTH = 3  # `git status --porcelain` entries start with two status letters and a space


@dataclass(frozen=True)
class LockIndex:
    """uv.lock read once, as content tags see it."""

    lock: Lock

    def closure(self, project: str) -> list[str]:
        """Canonical entries of `project` and of every package it installs, sorted."""
        if not self.lock.get(project):
            raise ConfigError(
                f"{LOCK_FILE} has no package '{project}'; run `uv lock` and commit {LOCK_FILE}"
            )
        # A dependency reaches every locked version of its name: hashing only the one it names
        # would be narrower, but would change the tag of every image whose lock forks on markers.
        installed = self.lock.closure(project, every_version=True)
        return sorted({package.canonical for package in installed})


@dataclass(frozen=True)
class GitState:
    """The checked-out commit and the files that differ from it (none outside git)."""

    revision: str
    dirty: frozenset[str]

    @property
    def short(self) -> str:
        """The short commit hash users recognise, as in `git log --oneline`."""
        return self.revision[:7]

    def tag_for(self, paths: Iterable[str]) -> str | None:
        """The git tag of an image made of `paths`: the short hash, `-dirty` when one changed."""
        if not self.revision:
            return None
        changed = any(path in self.dirty for path in paths)
        return f"{self.short}-dirty" if changed else self.short


def read_lock(root: Path) -> LockIndex:
    """Index the [[package]] entries of `root`/uv.lock."""
    path = root / LOCK_FILE
    try:
        return LockIndex(parse_lock(path.read_text("utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; run `uv lock` to create it") from None
    except LockError as error:
        raise ConfigError(f"{path}: {error}; run `uv lock` to rewrite it") from None


def content_tag(
    context: BuildContext,
    dockerfile_text: str,
    locked: Sequence[str],
    build_args: Mapping[str, str],
    base_digest: str,
) -> str:
    """The content tag of an image, e.g. `content-3f9a0c...`, from everything it is made of."""
    digest = hashlib.sha256()
    for file in sorted(context.files, key=lambda f: f.target):
        if file.target == LOCK_FILE:
            continue
        digest.update(_file_record(file.source, file.target))
    digest.update(b"dockerfile\0" + dockerfile_text.encode())
    digest.update(b"locked\0" + "\n".join(locked).encode())
    digest.update(b"args\0" + json.dumps(dict(sorted(build_args.items()))).encode())
    digest.update(b"base\0" + base_digest.encode())
    return TAG_PREFIX + digest.hexdigest()[:TAG_HEX_DIGITS]


def git_state(root: Path) -> GitState:
    """The commit checked out in `root` and its changed files; empty outside a git repository."""
    revision = _git(root, "rev-parse", "--verify", "--quiet", "HEAD").strip()
    if not revision:
        return GitState("", frozenset())
    status = _git(root, "status", "--porcelain", "-z", "--untracked-files=all")
    dirty = {entry[STATUS_WIDTH:] for entry in status.split("\0") if len(entry) > STATUS_WIDTH}
    return GitState(revision, frozenset(dirty))


def source_url(root: Path) -> str:
    """Where the source lives, for the image's source label, without any credentials."""
    server, repository = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    if server and repository:
        return f"{server}/{repository}"
    url = _git(root, "remote", "get-url", "origin").strip()
    scheme, separator, rest = url.partition("://")
    if separator and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]  # https://user:token@host/... keeps only the host
    return f"{scheme}://{rest}" if separator else url


def _file_record(source: Path, target: str) -> bytes:
    mode = "x" if source.stat().st_mode & stat.S_IXUSR else "-"
    content = hashlib.sha256(source.read_bytes()).hexdigest()
    return f"file\0{target}\0{mode}\0{content}\n".encode()


def _git(root: Path, *args: str) -> str:
    """Output of a read-only git query; empty when git or the repository is missing."""
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=root,
            env=clean_environ(),
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return ""
    return completed.stdout if completed.returncode == 0 else ""
