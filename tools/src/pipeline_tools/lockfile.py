"""uv.lock read into typed entries, and the closure of a package: everything installing it installs.

Both readers of the lock use this module: `changes` compares the locked set of every pipeline
between two revisions of the lock, `images.tags` hashes the entries an image installs into its
content tag. `parse_lock` checks the text once and keeps every [[package]] entry by normalized
name, with its dependencies as uv writes them (name, and version, source, extras and marker when
uv writes them), its optional dependencies, its development groups and a canonical text of the
entry for hashing. `Lock.closure` walks from a package through dependencies and the extras they
ask for; markers are not evaluated, so a dependency only some platforms install counts.
"""

from __future__ import annotations

import json
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pipeline_tools.errors import ConfigError
from pipeline_tools.workspace import normalize

# Parts of an entry that never reach an image: development groups and their declared ranges.
UNINSTALLED_KEYS = ("dev-dependencies",)
UNINSTALLED_METADATA_KEYS = ("requires-dev",)
NO_GROUPS: Mapping[str, tuple[Dependency, ...]] = MappingProxyType({})


class LockError(ConfigError):
    """A uv.lock text that is not TOML; the message is the TOML parser's, without a file name."""


@dataclass(frozen=True)
class Dependency:
    """One entry of a dependency list in uv.lock, as uv writes it.

    uv writes the version and the source only when the lock holds several of them for the name
    (a resolution forked by markers, or two indexes), to tell which one is meant.
    """

    name: str
    version: str | None = None
    source: str | None = None  # canonical JSON of the source table
    extras: tuple[str, ...] = ()
    marker: str | None = None

    def means(self, package: LockedPackage) -> bool:
        """Whether it can mean `package`: same name, and the version and source if it names them."""
        return (
            normalize(self.name) == normalize(package.name)
            and self.version in (None, package.version)
            and self.source in (None, package.source)
        )


@dataclass(frozen=True)
class LockedPackage:
    """One [[package]] entry of uv.lock.

    Two entries are equal when their canonical texts are: those hold the name, version, source,
    dependencies and extras, but not the development groups, which no image installs.
    """

    name: str
    version: str  # empty for a virtual project without one
    source: str  # canonical JSON of the source table
    canonical: str  # the entry as JSON with sorted keys, without what never reaches an image
    dependencies: tuple[Dependency, ...] = field(compare=False)
    optional_dependencies: Mapping[str, tuple[Dependency, ...]] = field(compare=False)
    dev_groups: Mapping[str, tuple[Dependency, ...]] = field(compare=False)

    @property
    def key(self) -> str:
        """What identifies what gets installed: name, version and source, as one line."""
        return f"{self.name} {self.version} {self.source}"

    @property
    def is_repository_root(self) -> bool:
        """Whether it is the project of the repository root: its source is the folder "."."""
        source = json.loads(self.source) if self.source.startswith("{") else {}
        return isinstance(source, dict) and "." in (source.get("editable"), source.get("virtual"))

    def requires(self, extra: str = "") -> tuple[Dependency, ...]:
        """What installing it installs: its dependencies, or what one of its extras adds."""
        return self.optional_dependencies.get(extra, ()) if extra else self.dependencies

    def dev_dependencies(self) -> tuple[Dependency, ...]:
        """The dependencies of all its development groups, group after group."""
        return tuple(dependency for group in self.dev_groups.values() for dependency in group)


@dataclass(frozen=True)
class Lock:
    """A uv.lock: every [[package]] entry by normalized name, several when versions fork."""

    packages: Mapping[str, tuple[LockedPackage, ...]]

    def get(self, name: str) -> tuple[LockedPackage, ...]:
        """The entries of a package, in the order of the lock; none when it is not locked."""
        return self.packages.get(normalize(name), ())

    def root_project(self) -> LockedPackage | None:
        """The project of the repository root, which the base image installs, if it is locked."""
        entries = (package for found in self.packages.values() for package in found)
        return next((package for package in entries if package.is_repository_root), None)

    def closure(
        self, project: str, *, include_dev: bool = False, every_version: bool = False
    ) -> frozenset[LockedPackage]:
        """`project` and every locked package installing it installs, following extras.

        Empty for a project the lock does not hold. `include_dev` adds the development groups
        of `project` itself (uv installs no group of a dependency). With `every_version`, a
        dependency reaches every locked entry of its name, not only the version it names.
        """
        start = self.get(project)
        first = [dependency for package in start for dependency in package.requires()]
        if include_dev:
            first.extend(dev for package in start for dev in package.dev_dependencies())
        reached = self._walk(first, {(package, "") for package in start}, every_version)
        return frozenset(package for package, _ in reached)

    def _walk(
        self, first: Iterable[Dependency], seen: set[tuple[LockedPackage, str]], every_version: bool
    ) -> set[tuple[LockedPackage, str]]:
        """Add to `seen` every (entry, extra) the dependencies reach, breadth first; return it."""
        pending = deque(first)
        while pending:
            dependency = pending.popleft()
            for package in self._candidates(dependency, every_version):
                for extra in ("", *dependency.extras):
                    if (package, extra) not in seen:
                        seen.add((package, extra))
                        pending.extend(package.requires(extra))
        return seen

    def _candidates(self, dependency: Dependency, every_version: bool) -> list[LockedPackage]:
        """The entries a dependency can mean: several when markers fork the resolution."""
        entries = self.get(dependency.name)
        return list(entries) if every_version else [p for p in entries if dependency.means(p)]


def parse_lock(text: str) -> Lock:
    """Read the text of a uv.lock; a LockError when it is not TOML.

    Entries that are no table or have no name are left out, and so are dependencies without a
    name: uv writes neither, and what is not in the lock is not installed from it.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LockError(str(error)) from None
    found: dict[str, list[LockedPackage]] = {}
    for entry in _entries(document.get("package")):
        package = _locked_package(entry)
        found.setdefault(normalize(package.name), []).append(package)
    return Lock(MappingProxyType({name: tuple(entries) for name, entries in found.items()}))


def _entries(value: object) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else []
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)]


def _locked_package(entry: dict[str, Any]) -> LockedPackage:
    return LockedPackage(
        name=entry["name"],
        version=str(entry.get("version", "")),
        source=_canonical(entry.get("source")),
        canonical=_canonical_entry(entry),
        dependencies=_dependencies(entry.get("dependencies")),
        optional_dependencies=_groups(entry.get("optional-dependencies")),
        dev_groups=_groups(entry.get("dev-dependencies")),
    )


def _groups(value: object) -> Mapping[str, tuple[Dependency, ...]]:
    """Named dependency lists: the extras or the development groups of an entry."""
    if not isinstance(value, dict):
        return NO_GROUPS
    return MappingProxyType({str(name): _dependencies(items) for name, items in value.items()})


def _dependencies(value: object) -> tuple[Dependency, ...]:
    items = value if isinstance(value, list) else []
    return tuple(_dependency(item) for item in items if isinstance(item, dict) and "name" in item)


def _dependency(item: dict[str, Any]) -> Dependency:
    return Dependency(
        name=str(item["name"]),
        version=str(item["version"]) if "version" in item else None,
        source=_canonical(item["source"]) if "source" in item else None,
        extras=tuple(str(extra) for extra in _listed(item.get("extra"))),
        marker=str(item["marker"]) if "marker" in item else None,
    )


def _listed(value: object) -> Iterable[object]:
    return value if isinstance(value, list) else ()


def _canonical(value: object) -> str:
    """A table as JSON with sorted keys, anything else as text (empty for none)."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value or "")


def _canonical_entry(entry: dict[str, Any]) -> str:
    """The entry as JSON with sorted keys, without the parts that never reach an image."""
    kept = {key: value for key, value in entry.items() if key not in UNINSTALLED_KEYS}
    metadata = kept.get("metadata")
    if isinstance(metadata, dict):
        kept["metadata"] = {
            key: value for key, value in metadata.items() if key not in UNINSTALLED_METADATA_KEYS
        }
    return json.dumps(kept, sort_keys=True)
