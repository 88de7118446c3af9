"""Settings from the root pyproject table and PIPELINES_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_tools.errors import ConfigError
from pipeline_tools.settings import find_root, load_settings


def write_root(tmp_path: Path, table: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.uv.workspace]\nmembers = ["pipelines/*"]\n\n[tool.pipeline-tools]\n{table}'
    )
    return tmp_path


def test_defaults_when_the_table_is_empty(tmp_path: Path) -> None:
    settings = load_settings(write_root(tmp_path), environ={})

    assert settings.pipelines_path == tmp_path / "pipelines"
    assert settings.environments == ("staging", "prod")
    assert settings.locked is False


def test_table_values_then_environment_overrides(tmp_path: Path) -> None:
    root = write_root(tmp_path, 'registry = "registry.example:5000/rj"\nbuild_concurrency = 3\n')

    from_table = load_settings(root, environ={})
    overridden = load_settings(
        root, environ={"PIPELINES_REGISTRY": "127.0.0.1:5000", "PIPELINES_ENVIRONMENTS": "a, b"}
    )

    assert (from_table.registry, from_table.build_concurrency) == ("registry.example:5000/rj", 3)
    assert overridden.registry == "127.0.0.1:5000"
    assert overridden.environments == ("a", "b")
    assert overridden.build_concurrency == 3


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    root = write_root(tmp_path, 'registy = "x"\n')

    with pytest.raises(ConfigError, match=r"unknown key 'registy'.*did you mean 'registry'"):
        load_settings(root, environ={})


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    root = write_root(tmp_path, 'build_concurrency = "two"\n')

    with pytest.raises(ConfigError, match="build_concurrency must be of type int"):
        load_settings(root, environ={})


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PIPELINES_BUILD_CONCURRENCY='many'"):
        load_settings(write_root(tmp_path), environ={"PIPELINES_BUILD_CONCURRENCY": "many"})


def test_ci_variable_makes_syncs_locked_unless_overridden(tmp_path: Path) -> None:
    root = write_root(tmp_path)

    assert load_settings(root, environ={"CI": "true"}).locked is True
    assert load_settings(root, environ={"CI": "true", "PIPELINES_LOCKED": "0"}).locked is False


def test_find_root_walks_up_to_the_workspace(tmp_path: Path) -> None:
    root = write_root(tmp_path)
    nested = root / "pipelines" / "rj_a__b" / "tests"
    nested.mkdir(parents=True)

    assert find_root(nested) == root
    with pytest.raises(ConfigError, match=r"no pyproject\.toml"):
        find_root(Path("/"))
