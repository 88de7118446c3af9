"""Fixtures shared by the library's tests: copies of this repository and real servers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def repository_files(root: Path = ROOT) -> list[str]:
    """Files git tracks or would track (untracked but not ignored) under `root`."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
        env={key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
    ).stdout.decode()
    return sorted({name for name in listing.split("\0") if name and (root / name).is_file()})


def copy_repository(destination: Path, root: Path = ROOT) -> Path:
    """Copy the repository's files (not its environments or state) into `destination`."""
    for name in repository_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return destination


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and no inherited GIT_* variables."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    environ.update(
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    completed = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=environ
    )
    return completed.stdout


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of this repository in a fresh git repository with one commit."""
    repo = copy_repository(tmp_path / "repo")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "copy of the repository")
    return repo
