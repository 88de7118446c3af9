"""uv.lock parsing and the closure walk, on small locks written as uv writes them.

The workspace of LOCK: the root project `monorepo` (virtual) depends on the member `prefect-rj`
(editable), which depends on numpy in two versions, one per Python fork. The member
`rj-sme-escolas` asks for requests with its `socks` extra, colorama on Windows only, and the
numpy of the older fork alone. A backslash ends the lines of long inline tables, which TOML wants
on one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest
from conftest import ROOT

from pipeline_tools.errors import ConfigError
from pipeline_tools.lockfile import Dependency, LockedPackage, LockError, parse_lock

PYPI = '{"registry": "https://pypi.org/simple"}'
OLD_PYTHON = "python_full_version < '3.12'"

LOCK = """\
version = 1
revision = 2
requires-python = ">=3.11"
resolution-markers = [
    "python_full_version >= '3.12'",
    "python_full_version < '3.12'",
]

[manifest]
members = ["monorepo", "prefect-rj", "rj-sme-escolas"]

[[package]]
name = "colorama"
version = "0.4.6"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "cryptography"
version = "44.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "idna"
version = "3.10"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.example/idna-3.10.tar.gz", hash = "sha256:12f6", size = 190490 }

[[package]]
name = "iniconfig"
version = "2.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "monorepo"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "prefect-rj" },
]

[package.dev-dependencies]
dev = [
    { name = "pytest" },
]

[package.metadata]
requires-dist = [{ name = "prefect-rj", editable = "src/prefect_rj" }]

[package.metadata.requires-dev]
dev = [{ name = "pytest" }]

[[package]]
name = "numpy"
version = "1.26.4"
source = { registry = "https://pypi.org/simple" }
resolution-markers = [
    "python_full_version < '3.12'",
]

[[package]]
name = "numpy"
version = "2.1.0"
source = { registry = "https://pypi.org/simple" }
resolution-markers = [
    "python_full_version >= '3.12'",
]
dependencies = [
    { name = "threadpoolctl" },
]

[[package]]
name = "prefect-rj"
version = "0.1.0"
source = { editable = "src/prefect_rj" }
dependencies = [
    { name = "numpy", version = "1.26.4", source = { registry = "https://pypi.org/simple" }, \
marker = "python_full_version < '3.12'" },
    { name = "numpy", version = "2.1.0", source = { registry = "https://pypi.org/simple" }, \
marker = "python_full_version >= '3.12'" },
]

[package.dev-dependencies]
lint = [
    { name = "ruff" },
]

[[package]]
name = "pysocks"
version = "1.7.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.3.5"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "iniconfig" },
]

[[package]]
name = "requests"
version = "2.32.3"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "idna" },
]

[package.optional-dependencies]
security = [
    { name = "cryptography" },
]
socks = [
    { name = "pysocks" },
]

[[package]]
name = "rj-sme-escolas"
version = "0.1.0"
source = { editable = "pipelines/rj_sme__escolas" }
dependencies = [
    { name = "colorama", marker = "sys_platform == 'win32'" },
    { name = "numpy", version = "1.26.4", source = { registry = "https://pypi.org/simple" }, \
marker = "python_full_version < '3.12'" },
    { name = "requests", extra = ["socks"] },
]

[package.dev-dependencies]
lint = [
    { name = "ruff" },
]
test = [
    { name = "pytest" },
]

[[package]]
name = "ruff"
version = "0.9.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "threadpoolctl"
version = "3.5.0"
source = { registry = "https://pypi.org/simple" }
"""

# An extra that asks for other extras of its own package, as `requests[all]` would.
SELF_EXTRAS_LOCK = """\
version = 1

[[package]]
name = "app"
version = "1.0"
source = { virtual = "." }
dependencies = [{ name = "client", extra = ["all"] }]

[[package]]
name = "client"
version = "2.0"
source = { registry = "https://pypi.org/simple" }

[package.optional-dependencies]
all = [{ name = "client", extra = ["fast", "secure"] }]
fast = [{ name = "speedups" }]
secure = [{ name = "certifi" }]
unused = [{ name = "never" }]

[[package]]
name = "speedups"
version = "0.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "certifi"
version = "2025.1.31"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "never"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
"""


def versions(packages: Iterable[LockedPackage]) -> set[str]:
    """`name version` of each package, the way tests compare closures."""
    return {f"{package.name} {package.version}" for package in packages}


# --- the parser -------------------------------------------------------------------------------


def test_entries_are_kept_by_normalized_name_with_their_dependencies_as_uv_writes_them() -> None:
    lock = parse_lock(LOCK)

    (escolas,) = lock.get("RJ_SME__Escolas")
    assert (escolas.name, escolas.version) == ("rj-sme-escolas", "0.1.0")
    assert escolas.source == '{"editable": "pipelines/rj_sme__escolas"}'
    assert escolas.dependencies == (
        Dependency("colorama", marker="sys_platform == 'win32'"),
        Dependency("numpy", version="1.26.4", source=PYPI, marker=OLD_PYTHON),
        Dependency("requests", extras=("socks",)),
    )
    assert dict(escolas.dev_groups) == {
        "lint": (Dependency("ruff"),),
        "test": (Dependency("pytest"),),
    }
    assert escolas.dev_dependencies() == (Dependency("ruff"), Dependency("pytest"))


def test_optional_dependencies_are_kept_per_extra() -> None:
    (requests,) = parse_lock(LOCK).get("requests")

    assert requests.key == f"requests 2.32.3 {PYPI}"
    assert requests.requires() == (Dependency("idna"),)
    assert requests.requires("socks") == (Dependency("pysocks"),)
    assert requests.requires("security") == (Dependency("cryptography"),)
    assert requests.requires("missing") == ()


def test_a_package_locked_in_two_versions_has_two_entries_in_the_order_of_the_lock() -> None:
    lock = parse_lock(LOCK)

    old, new = lock.get("numpy")
    assert (old.version, new.version) == ("1.26.4", "2.1.0")
    pinned = Dependency("numpy", version="1.26.4", source=PYPI)
    assert pinned.means(old)
    assert not pinned.means(new)
    assert Dependency("NumPy").means(new)


def test_the_canonical_text_keeps_the_entry_but_not_its_development_groups() -> None:
    lock = parse_lock(LOCK)
    (root,) = lock.get("monorepo")
    (idna,) = lock.get("idna")

    entry = json.loads(root.canonical)
    assert "dev-dependencies" not in entry
    assert entry["metadata"] == {
        "requires-dist": [{"name": "prefect-rj", "editable": "src/prefect_rj"}]
    }
    assert entry["dependencies"] == [{"name": "prefect-rj"}]
    assert json.loads(idna.canonical)["sdist"]["hash"] == "sha256:12f6"
    assert idna.canonical == json.dumps(json.loads(idna.canonical), sort_keys=True)


def test_entries_equal_in_what_reaches_an_image_are_equal() -> None:
    with_groups = parse_lock(LOCK).get("monorepo")[0]
    without = LOCK.replace('[package.dev-dependencies]\ndev = [\n    { name = "pytest" },\n]', "")

    assert parse_lock(without).get("monorepo")[0] == with_groups
    assert parse_lock(without).get("idna")[0] == parse_lock(LOCK).get("idna")[0]


def test_the_root_project_is_the_entry_whose_source_is_the_repository_folder() -> None:
    lock = parse_lock(LOCK)

    root = lock.root_project()
    assert root is not None
    assert root.name == "monorepo"
    assert not lock.get("prefect-rj")[0].is_repository_root
    virtual = '{ virtual = "." }'
    assert parse_lock(LOCK.replace(virtual, '{ editable = "." }')).root_project()
    assert parse_lock(LOCK.replace(virtual, '{ virtual = "app" }')).root_project() is None


def test_a_text_that_is_not_toml_is_a_lock_error_with_the_parsers_message() -> None:
    with pytest.raises(LockError, match=r"^Invalid statement \(at line 1, column 1\)$") as caught:
        parse_lock("<<<<<<< HEAD\n" + LOCK)

    assert isinstance(caught.value, ConfigError)


def test_an_empty_text_is_an_empty_lock() -> None:
    lock = parse_lock("")

    assert dict(lock.packages) == {}
    assert lock.root_project() is None
    assert lock.closure("monorepo") == frozenset()


# --- the closure ------------------------------------------------------------------------------


def test_the_closure_follows_the_extras_asked_for_and_ignores_markers() -> None:
    closure = parse_lock(LOCK).closure("rj_sme__escolas")

    assert versions(closure) == {
        "rj-sme-escolas 0.1.0",
        "colorama 0.4.6",  # Windows only, yet counted: markers are not evaluated
        "numpy 1.26.4",  # the version its dependency names, not the other one
        "requests 2.32.3",
        "idna 3.10",
        "pysocks 1.7.1",  # requests[socks]; requests[security] is not asked for
    }


def test_development_groups_count_only_when_asked_and_only_for_the_project_itself() -> None:
    lock = parse_lock(LOCK)
    with_dev = versions(lock.closure("rj-sme-escolas", include_dev=True))

    assert with_dev - versions(lock.closure("rj-sme-escolas")) == {
        "ruff 0.9.0",
        "pytest 8.3.5",
        "iniconfig 2.0.0",
    }
    # The root's group counts; that of the member it depends on (prefect-rj: ruff) does not.
    assert versions(lock.closure("monorepo", include_dev=True)) == {
        "monorepo 0.1.0",
        "prefect-rj 0.1.0",
        "numpy 1.26.4",
        "numpy 2.1.0",
        "threadpoolctl 3.5.0",
        "pytest 8.3.5",
        "iniconfig 2.0.0",
    }


def test_a_workspace_member_reaches_both_versions_its_markers_fork_into() -> None:
    closure = parse_lock(LOCK).closure("prefect-rj")

    assert versions(closure) == {
        "prefect-rj 0.1.0",
        "numpy 1.26.4",
        "numpy 2.1.0",
        "threadpoolctl 3.5.0",
    }


def test_every_version_reaches_all_entries_of_a_name_and_what_they_install() -> None:
    closure = parse_lock(LOCK).closure("rj-sme-escolas", every_version=True)

    added = versions(closure) - versions(parse_lock(LOCK).closure("rj-sme-escolas"))
    assert added == {"numpy 2.1.0", "threadpoolctl 3.5.0"}


def test_extras_asking_for_extras_of_their_own_package_are_followed_once() -> None:
    closure = parse_lock(SELF_EXTRAS_LOCK).closure("app")

    assert versions(closure) == {"app 1.0", "client 2.0", "speedups 0.1", "certifi 2025.1.31"}


def test_a_project_the_lock_does_not_hold_has_an_empty_closure() -> None:
    assert parse_lock(LOCK).closure("rj-sme-missing", include_dev=True) == frozenset()


def test_every_dependency_of_the_repository_lock_means_a_locked_entry() -> None:
    lock = parse_lock((ROOT / "uv.lock").read_text("utf-8"))
    entries = [package for found in lock.packages.values() for package in found]
    dependencies = [
        dependency
        for package in entries
        for dependency in (
            *package.requires(),
            *package.dev_dependencies(),
            *(d for extra in package.optional_dependencies for d in package.requires(extra)),
        )
    ]

    unmatched = [d for d in dependencies if not any(map(d.means, lock.get(d.name)))]
    assert dependencies
    assert unmatched == []
    root = lock.root_project()
    assert root is not None
    assert root in lock.closure(root.name)
