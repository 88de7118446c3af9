"""Changed files between two git revisions, and the pipelines they affect, each with its reasons.

A pipeline is affected when, between the base and the head revision:
- a file in its folder changed, at any depth, except its inert files (setting `inert_files`,
  e.g. its README) and, for deploys, the files only its checks read (`check_only_files`, its
  tests), which affect it for checks only;
- a pipeline it depends on changed, transitively: workspace sources of its pyproject.toml and
  `import rj_x__y` / `from rj_x__y... import` of another pipeline's package in its code;
- a repo-wide input changed (`repo_wide_inputs`: the root pyproject.toml and Dockerfile, the
  shared runtime package...), which affects every pipeline; except uv.lock, where both
  revisions of the lock are read and only pipelines whose locked dependency set (name, version
  and source of every package they install, with the root project's that the base image
  carries; with their dev groups for checks) differs are affected;
- for checks only, an input of every check changed (`check_inputs`: the orchestration library,
  the noxfile).

Renames count as a deletion plus an addition. A pipeline whose pyproject.toml was deleted is
reported as deleted, with the deployments its last prefect.yaml declared. The files of the
head revision are read from the checkout, so the head should be the checked-out commit.

Missing history is fetched from the configured remote (`git_remote`) when it can be: a branch
that has no local copy, a shallow clone that stops before the base (deepened by `fetch_depth`
commits, then unshallowed). Git is run with inherited GIT_* variables cleared, every command
echoed on the reporter.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import subprocess
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from pipeline_tools.commands import clean_environ
from pipeline_tools.errors import ToolError
from pipeline_tools.lockfile import Lock, LockedPackage, LockError, parse_lock
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings
from pipeline_tools.workspace import Pipeline, Workspace, is_pipeline_name, normalize

Purpose = Literal["deploy", "check"]

LOCK_FILE = "uv.lock"
STATUSES = {"A": "added", "M": "modified", "D": "deleted", "T": "type changed"}
IMPORT_HINT = re.compile(r"^[ \t]*(?:from[ \t]+rj_|import[ \t][^\n]*\brj_)", re.MULTILINE)
HEX = re.compile(r"^[0-9a-f]{7,64}$")
REVISION_SYNTAX = re.compile(r"[~^:@{}]")
SKIPPED_FOLDERS = {"__pycache__", "node_modules"}
CREDENTIALS = re.compile(r"://[^/@\s]+@")  # user:token in a remote URL git may print


class GitError(ToolError):
    """A revision that does not exist, a folder outside git, or git itself failing."""


@dataclass(frozen=True)
class Reason:
    """Why one pipeline is affected.

    kind: `file` (its own file changed), `dependency` (a pipeline it depends on changed),
    `repo-wide` (an input of every pipeline changed), `lock` (its locked dependency set
    changed), `check-input` (an input of every check changed), `named` or `all` (chosen on
    the command line).
    """

    kind: str
    path: str = ""  # the changed file behind the reason, relative to the repository root
    status: str = ""  # added, modified, deleted or type changed
    via: tuple[str, ...] = ()  # dependency chain: its nearest dependency first, the changed last
    packages: tuple[str, ...] = ()  # for `lock`: "name old -> new", "+name version", "-name ..."

    def describe(self) -> str:
        """The reason as one line for people."""
        change = f"{self.path} {self.status}"
        texts = {
            "file": change,
            "dependency": f"depends on {', which depends on '.join(self.via)} ({change})",
            "repo-wide": f"{change} (an input of every pipeline)",
            "check-input": f"{change} (an input of every check)",
            "lock": f"{self.path}: {', '.join(self.packages)}",
            "named": "named on the command line",
            "all": "every pipeline (--all)",
        }
        return texts.get(self.kind, change)


@dataclass(frozen=True)
class AffectedPipeline:
    """One pipeline to act on, and every reason for it."""

    name: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ChangedFile:
    """One file that differs between the two revisions, relative to the repository root."""

    path: str
    status: str


@dataclass(frozen=True)
class BaseRef:
    """Where a comparison starts, and how it was chosen."""

    ref: str | None  # a git revision; None compares with the parent of the head
    source: str  # how it was chosen, for people: "--base main", "last deploy to prod"...
    merge_base: bool = True  # compare from the merge base of ref and head (git diff ref...head)
    branch: bool = False  # ref is a branch name: its remote-tracking branch is preferred
    parent_when_contained: bool = False  # head already contains ref: compare with head's parent


@dataclass(frozen=True)
class Changes:
    """What changed between two revisions and which pipelines that affects."""

    base: str
    head: str
    base_source: str
    files: tuple[ChangedFile, ...]
    affected: tuple[AffectedPipeline, ...]
    deleted: tuple[str, ...]
    # Deployment names that the base revision's prefect.yaml declared, for every deleted
    # pipeline and every pipeline whose prefect.yaml changed.
    previous_deployments: Mapping[str, tuple[str, ...]]


def find_changes(
    workspace: Workspace,
    base: BaseRef,
    head: str = "HEAD",
    *,
    purpose: Purpose = "deploy",
    reporter: Reporter,
) -> Changes:
    """Compare `base` with `head` and tell which pipelines the changes affect, and why."""
    git = _Git(workspace.settings, reporter)
    head_sha = git.resolve(head, "head")
    base_sha, source = _resolve_base(git, base, head_sha)

    files = _changed_files(git, base_sha, head_sha)
    deleted = _deleted_pipelines(workspace, files)
    affected = _affected(workspace, git, files, (base_sha, head_sha), purpose)

    previous = _previous_deployments(workspace, git, files, deleted, base_sha)
    return Changes(base_sha, head_sha, source, files, affected, deleted, previous)


def head_revision(settings: Settings, reporter: Reporter, head: str = "HEAD") -> str | None:
    """The commit `head` names, or None outside a git repository or before the first commit."""
    return _Git(settings, reporter).commit(head)


def dependency_graph(
    workspace: Workspace, purpose: Purpose = "deploy"
) -> dict[str, tuple[str, ...]]:
    """Every pipeline and the pipelines it depends on: workspace sources and imports.

    For deploys only the code an image runs counts; for checks, the tests' imports too.
    """
    by_project = {normalize(p.project_name or p.name): p.name for p in workspace.pipelines}
    check_only = () if purpose == "check" else workspace.settings.check_only_files
    return {
        pipeline.name: _dependencies_of(pipeline, by_project, check_only)
        for pipeline in workspace.pipelines
    }


# --- git --------------------------------------------------------------------------------------


class _Git:
    """Git commands in the repository root, echoed, with missing history fetched on demand."""

    def __init__(self, settings: Settings, reporter: Reporter) -> None:
        self.root = settings.root
        self.remote_name = settings.git_remote
        self.depth = settings.fetch_depth
        self.reporter = reporter
        self._remotes: list[str] | None = None

    def run(self, *args: str, check: bool = True) -> str | None:
        """Run git; its output, None when it fails and `check` is false."""
        argv = ["git", *args]
        self.reporter.command(argv)
        try:
            completed = subprocess.run(
                argv,
                cwd=self.root,
                env=clean_environ(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH; install git first") from None
        if completed.returncode == 0:
            return completed.stdout.decode("utf-8", errors="replace")
        if check:
            raise GitError(_git_failure(argv, completed.stderr, self.root))
        return None

    def commit(self, ref: str) -> str | None:
        """The full commit hash `ref` names, or None."""
        output = self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False
        )
        return output.strip() if output else None

    def shallow(self) -> bool:
        """Whether this clone stops before the root of its history."""
        return (
            self.run("rev-parse", "--is-shallow-repository", check=False) or ""
        ).strip() == "true"

    def remote(self) -> str | None:
        """The configured remote when the repository has it."""
        if self._remotes is None:
            self._remotes = (self.run("remote", check=False) or "").split()
        return self.remote_name if self.remote_name in self._remotes else None

    def fetch(self, *args: str) -> bool:
        """Fetch from the remote without tags; whether it worked."""
        return self.run("fetch", "--no-tags", "--quiet", *args, check=False) is not None

    def resolve(self, ref: str, role: str, *, branch: bool = False) -> str:
        """The commit of `ref`, fetching what is missing; a GitError saying what to fetch."""
        self._check_repository()
        candidates = self._candidates(ref, branch)
        found = self._first_commit(candidates)
        for fetch in self._fetches(ref) if found is None else []:
            if fetch() and (found := self._first_commit(candidates)):
                break
        if found is None:
            raise GitError(self._missing_message(ref, role))
        return found

    def deepen(self) -> bool:
        """Fetch `fetch_depth` more commits into a shallow clone; whether it did."""
        remote = self.remote()
        return bool(remote and self.shallow() and self.fetch(f"--deepen={self.depth}", remote))

    def unshallow(self) -> bool:
        """Fetch the whole history into a shallow clone; whether it did."""
        remote = self.remote()
        return bool(remote and self.shallow() and self.fetch("--unshallow", remote))

    def _check_repository(self) -> None:
        if self.run("rev-parse", "--git-dir", check=False) is None:
            raise GitError(
                f"{self.root} is not inside a git repository; run `git init` and commit, "
                "or name the pipelines to plan (or pass --all)"
            )

    def _candidates(self, ref: str, branch: bool) -> list[str]:
        """Names to try: a branch is looked up as the remote's copy too (first, for `branch`)."""
        remote = self.remote()
        if remote is None or REVISION_SYNTAX.search(ref):
            return [ref]
        tracking = f"refs/remotes/{remote}/{ref}"
        return [tracking, ref] if branch else [ref, tracking]

    def _first_commit(self, candidates: Sequence[str]) -> str | None:
        return next((sha for sha in map(self.commit, candidates) if sha), None)

    def _fetches(self, ref: str) -> list[Callable[[], bool]]:
        """Ways to bring a missing revision in, tried in order."""
        remote = self.remote()
        if remote is None:
            return []
        if HEX.match(ref):
            return [self.deepen, self.unshallow, lambda: self.fetch(remote, ref)]
        if REVISION_SYNTAX.search(ref):
            return [self.deepen, self.unshallow]
        return [lambda: self._fetch_branch(remote, ref.removeprefix(f"{remote}/"))]

    def _fetch_branch(self, remote: str, branch: str) -> bool:
        depth = [f"--depth={self.depth}"] if self.shallow() else []
        refspec = f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"
        return self.fetch(*depth, remote, refspec)

    def _missing_message(self, ref: str, role: str) -> str:
        where = f"the {role} revision '{ref}' is not a commit of the repository in {self.root}"
        if self.shallow():
            return f"{where}: it is a shallow clone; fetch the history (git fetch --unshallow)"
        remote = self.remote() or "origin"
        return f"{where}; check the name (git log --oneline) or fetch it (git fetch {remote} {ref})"


def _git_failure(argv: Sequence[str], stderr: bytes, root: Path) -> str:
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    detail = CREDENTIALS.sub("://***@", lines[-1]) if lines else "no message"
    return f"`{' '.join(argv)}` failed in {root}: {detail}; check the repository with git status"


def _resolve_base(git: _Git, base: BaseRef, head: str) -> tuple[str, str]:
    """The commit to compare with, and how it was chosen."""
    if base.ref is None:
        merge = " (the first parent of this merge)" if git.commit(f"{head}^2") else ""
        return _parent(git, head), base.source + merge
    commit = git.resolve(base.ref, "base", branch=base.branch)
    if not base.merge_base:
        return commit, base.source

    merge_base = _merge_base(git, commit, head)
    if merge_base is None:
        git.reporter.info(f"no common ancestor of {base.ref} and the head: comparing them directly")
        return commit, base.source
    if merge_base == head and base.parent_when_contained:
        return _parent(git, head), f"previous commit (the head is already in {base.ref})"
    return merge_base, f"merge base with {base.source}" if base.branch else base.source


def _merge_base(git: _Git, commit: str, head: str) -> str | None:
    """The best common ancestor, deepening a shallow clone until it shows up."""
    found = git.run("merge-base", commit, head, check=False)
    for fetch in (git.deepen, git.deepen, git.unshallow):
        if found:
            break
        if fetch():
            found = git.run("merge-base", commit, head, check=False)
    return found.strip() if found else None


def _parent(git: _Git, head: str) -> str:
    """The first parent of the head; the empty tree for a root commit."""
    parent = git.commit(f"{head}^")
    if parent is None and (git.deepen() or git.unshallow()):
        parent = git.commit(f"{head}^")
    if parent is not None:
        return parent
    if git.shallow():
        raise GitError(
            f"the parent of {head[:12]} is missing from this shallow clone in {git.root}; "
            "fetch more history (git fetch --deepen=1) or pass --base"
        )
    return (git.run("hash-object", "-t", "tree", "--stdin") or "").strip()


def _changed_files(git: _Git, base: str, head: str) -> tuple[ChangedFile, ...]:
    output = git.run(
        "diff", "--no-renames", "--no-ext-diff", "--name-status", "-z", "--relative", base, head
    )
    tokens = (output or "").split("\0")
    pairs = zip(tokens[0::2], tokens[1::2], strict=False)
    return tuple(
        ChangedFile(path, STATUSES.get(status[:1], "changed")) for status, path in pairs if path
    )


def _show(git: _Git, revision: str, path: str) -> str | None:
    """A file's text at a revision, None when it does not exist there."""
    return git.run("show", f"{revision}:./{path}", check=False)


# --- which pipelines ---------------------------------------------------------------------------


def _affected(
    workspace: Workspace,
    git: _Git,
    files: Sequence[ChangedFile],
    revisions: tuple[str, str],
    purpose: Purpose,
) -> tuple[AffectedPipeline, ...]:
    settings = workspace.settings
    reasons: dict[str, list[Reason]] = {name: [] for name in workspace.names}
    own, runtime = _own_file_reasons(settings, files, purpose)

    for name, found in own.items():
        reasons.get(name, []).extend(found)
    for name, found in _dependency_reasons(dependency_graph(workspace, purpose), runtime).items():
        reasons.get(name, []).extend(found)
    for name, found in _shared_reasons(workspace, git, files, revisions, purpose).items():
        reasons.get(name, []).extend(found)

    return tuple(
        AffectedPipeline(name, tuple(found)) for name, found in sorted(reasons.items()) if found
    )


def _pipeline_of(settings: Settings, path: str) -> tuple[str, str] | None:
    """(pipeline name, path inside its folder) for a path under the pipelines folder."""
    prefix = settings.pipelines_dir.strip("/") + "/"
    if not path.startswith(prefix):
        return None
    name, separator, inner = path.removeprefix(prefix).partition("/")
    return (name, inner) if separator else None


def _matches(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def _own_file_reasons(
    settings: Settings, files: Sequence[ChangedFile], purpose: Purpose
) -> tuple[dict[str, list[Reason]], dict[str, Reason]]:
    """Reasons from each pipeline's own files, and the first runtime change of each folder.

    The second mapping also holds folders that are no pipeline any more (deleted ones): what
    depends on them is affected too.
    """
    own: dict[str, list[Reason]] = {}
    runtime: dict[str, Reason] = {}
    for changed in files:
        located = _pipeline_of(settings, changed.path)
        if located is None or _matches(located[1], settings.inert_files):
            continue
        reason = Reason("file", changed.path, changed.status)
        check_only = _matches(located[1], settings.check_only_files)
        if purpose == "check" or not check_only:
            own.setdefault(located[0], []).append(reason)
        if not check_only:
            runtime.setdefault(located[0], reason)
    return own, runtime


def _dependency_reasons(
    graph: Mapping[str, Sequence[str]], changed: Mapping[str, Reason]
) -> dict[str, list[Reason]]:
    """For every pipeline that depends on a changed one, transitively, the shortest chain."""
    dependents: dict[str, list[str]] = {}
    for name, dependencies in graph.items():
        for dependency in dependencies:
            dependents.setdefault(dependency, []).append(name)
    found: dict[str, list[Reason]] = {}
    for origin, cause in sorted(changed.items()):
        for name, chain in _walk_dependents(origin, dependents):
            reason = Reason("dependency", cause.path, cause.status, via=chain)
            found.setdefault(name, []).append(reason)
    return found


def _walk_dependents(
    origin: str, dependents: Mapping[str, Sequence[str]]
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Breadth first from `origin`: each dependent once, with its chain down to `origin`."""
    seen = {origin}
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(origin, (origin,))])
    while queue:
        node, chain = queue.popleft()
        for dependent in sorted(dependents.get(node, ())):
            if dependent not in seen:
                seen.add(dependent)
                yield dependent, chain
                queue.append((dependent, (dependent, *chain)))


def _shared_reasons(
    workspace: Workspace,
    git: _Git,
    files: Sequence[ChangedFile],
    revisions: tuple[str, str],
    purpose: Purpose,
) -> dict[str, list[Reason]]:
    """Reasons from files outside the pipelines: repo-wide inputs, the lock, check inputs."""
    settings = workspace.settings
    everyone: list[Reason] = []
    found: dict[str, list[Reason]] = {}
    for changed in files:
        if changed.path == LOCK_FILE and _matches(LOCK_FILE, settings.repo_wide_inputs):
            found.update(_lock_reasons(workspace, git, changed, revisions, purpose))
        elif _pipeline_of(settings, changed.path) is None:
            everyone.extend(_repo_wide_reason(settings, changed, purpose))
    for name in workspace.names:
        found.setdefault(name, []).extend(everyone)
    return found


def _repo_wide_reason(settings: Settings, changed: ChangedFile, purpose: Purpose) -> list[Reason]:
    if _matches(changed.path, settings.repo_wide_inputs):
        return [Reason("repo-wide", changed.path, changed.status)]
    if purpose == "check" and _matches(changed.path, settings.check_inputs):
        return [Reason("check-input", changed.path, changed.status)]
    return []


def _deleted_pipelines(workspace: Workspace, files: Sequence[ChangedFile]) -> tuple[str, ...]:
    existing = set(workspace.names)
    deleted = set()
    for changed in files:
        located = _pipeline_of(workspace.settings, changed.path)
        if located and located[1] == "pyproject.toml" and changed.status == "deleted":
            deleted.add(located[0])
    return tuple(sorted(deleted - existing))


def _previous_deployments(
    workspace: Workspace,
    git: _Git,
    files: Sequence[ChangedFile],
    deleted: Sequence[str],
    base: str,
) -> dict[str, tuple[str, ...]]:
    names = set(deleted)
    for changed in files:
        located = _pipeline_of(workspace.settings, changed.path)
        if located and located[1] == "prefect.yaml" and changed.status != "added":
            names.add(located[0])
    names &= {*deleted, *workspace.names}
    folder = workspace.settings.pipelines_dir.strip("/")
    return {
        name: _deployment_names(_show(git, base, f"{folder}/{name}/prefect.yaml"))
        for name in sorted(names)
    }


def _deployment_names(text: str | None) -> tuple[str, ...]:
    """Names of the deployments a prefect.yaml text declares; none when it cannot be read."""
    try:
        document = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return ()
    entries = document.get("deployments") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return ()
    return tuple(
        str(entry["name"]) for entry in entries if isinstance(entry, dict) and entry.get("name")
    )


# --- imports between pipelines -----------------------------------------------------------------


def _dependencies_of(
    pipeline: Pipeline, by_project: Mapping[str, str], check_only: Sequence[str]
) -> tuple[str, ...]:
    declared = {by_project[name] for name in pipeline.workspace_dependencies if name in by_project}
    imported = _imported_pipelines(pipeline.path, check_only)
    return tuple(sorted((declared | imported) - {pipeline.name}))


def _imported_pipelines(folder: Path, check_only: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for path in _python_files(folder):
        if _matches(path.relative_to(folder).as_posix(), check_only):
            continue
        text = path.read_text("utf-8", errors="replace")
        if IMPORT_HINT.search(text):
            found |= _imported_names(text)
    return {name for name in found if is_pipeline_name(name)}


def _python_files(folder: Path) -> Iterator[Path]:
    for current, folders, names in os.walk(folder):
        folders[:] = [f for f in folders if not f.startswith(".") and f not in SKIPPED_FOLDERS]
        yield from (Path(current) / name for name in names if name.endswith(".py"))


def _imported_names(text: str) -> set[str]:
    """Top-level packages imported by absolute imports; every `rj_` word when it cannot parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set(re.findall(r"\b(rj_[a-z0-9_]+__[a-z0-9_]+)\b", text))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


# --- uv.lock -----------------------------------------------------------------------------------


def _lock_reasons(
    workspace: Workspace,
    git: _Git,
    changed: ChangedFile,
    revisions: tuple[str, str],
    purpose: Purpose,
) -> dict[str, list[Reason]]:
    """Pipelines whose locked set changed; all of them when the lock cannot be compared."""
    before, after = (_read_lock(git, revision) for revision in revisions)
    if isinstance(before, str) or isinstance(after, str):
        problem = (str(before if isinstance(before, str) else after),)
        reason = Reason("lock", changed.path, changed.status, packages=problem)
        return {name: [reason] for name in workspace.names}
    sets = [_locked_sets(lock, workspace.pipelines, purpose) for lock in (before, after)]
    found: dict[str, list[Reason]] = {}
    for pipeline in workspace.pipelines:
        old, new = (locked[pipeline.name] for locked in sets)
        if old != new:
            packages = _describe_difference(old, new)
            found[pipeline.name] = [Reason("lock", changed.path, changed.status, packages=packages)]
    return found


def _read_lock(git: _Git, revision: str) -> Lock | str:
    """The lock at `revision` (empty when it has none), or why it cannot be read."""
    try:
        return parse_lock(_show(git, revision, LOCK_FILE) or "")
    except LockError as error:
        return f"cannot compare per pipeline, {LOCK_FILE} at {revision[:12]} is invalid ({error})"


def _locked_sets(
    lock: Lock, pipelines: Iterable[Pipeline], purpose: Purpose
) -> dict[str, frozenset[str]]:
    """The keys of every locked package each pipeline installs, by pipeline name.

    For deploys with the root project's packages, which the base image installs; for checks
    with the pipeline's development groups.
    """
    root = lock.root_project() if purpose == "deploy" else None
    base = _keys(lock.closure(root.name)) if root else frozenset()
    with_dev = purpose == "check"
    return {
        pipeline.name: base | _keys(lock.closure(_project(pipeline), include_dev=with_dev))
        for pipeline in pipelines
    }


def _project(pipeline: Pipeline) -> str:
    return normalize(pipeline.project_name or pipeline.name)


def _keys(packages: Iterable[LockedPackage]) -> frozenset[str]:
    return frozenset(package.key for package in packages)


def _describe_difference(old: frozenset[str], new: frozenset[str]) -> tuple[str, ...]:
    """Changed packages as "name old -> new", "+name version" and "-name version"."""
    removed = _versions(old - new)
    added = _versions(new - old)
    lines = []
    for name in sorted(removed.keys() | added.keys()):
        before, after = removed.get(name), added.get(name)
        if before and after:
            lines.append(
                f"{name} {before} -> {after}"
                if before != after
                else f"{name} {after} (source changed)"
            )
        else:
            lines.append(f"+{name} {after}" if after else f"-{name} {before}")
    return tuple(lines)


def _versions(keys: Iterable[str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for key in sorted(keys):
        name, version, _ = key.split(" ", 2)
        versions[name] = f"{versions[name]}, {version}" if name in versions else version
    return versions
