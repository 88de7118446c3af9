"""Pipeline discovery on real folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from pipeline_tools.errors import UnknownPipelineError
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import discover, is_pipeline_name, normalize


def write_pipeline(root: Path, name: str, extra: str = "") -> Path:
    folder = root / "pipelines" / name
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\ndependencies = ["prefect>=3.4,<4"]\n{extra}'
    )
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["pipelines/*"]\n')
    return tmp_path


def test_discovers_every_folder_with_a_pyproject_sorted(root: Path) -> None:
    write_pipeline(root, "rj_sme__b")
    write_pipeline(root, "rj_sme__a")
    (root / "pipelines" / "not_a_project").mkdir()

    workspace = discover(load_settings(root, environ={}))

    assert workspace.names == ["rj_sme__a", "rj_sme__b"]
    assert workspace.get("rj_sme__a").dependencies == ("prefect>=3.4,<4",)


def test_reads_workspace_dependencies_in_normal_form(root: Path) -> None:
    write_pipeline(root, "rj_smtr__base")
    write_pipeline(
        root,
        "rj_smtr__report",
        '[tool.uv.sources]\nrj_smtr__base = { workspace = true }\nrequests = { index = "x" }\n',
    )

    pipeline = discover(load_settings(root, environ={})).get("rj_smtr__report")

    assert pipeline.workspace_dependencies == ("rj-smtr-base",)


def test_unknown_name_suggests_the_closest(root: Path) -> None:
    write_pipeline(root, "rj_smas__cadastro_unico")
    workspace = discover(load_settings(root, environ={}))

    with pytest.raises(UnknownPipelineError, match=r"close matches: rj_smas__cadastro_unico$"):
        workspace.select(["rj_smas__cadastro_unic"])


def test_unknown_name_in_an_empty_workspace_says_how_to_create_one(root: Path) -> None:
    workspace = discover(load_settings(root, environ={}))

    with pytest.raises(UnknownPipelineError, match="nox -s new"):
        workspace.get("rj_x__y")


def test_select_without_names_is_every_pipeline_and_keeps_given_order(root: Path) -> None:
    for name in ("rj_a__x", "rj_b__y"):
        write_pipeline(root, name)
    workspace = discover(load_settings(root, environ={}))

    assert [p.name for p in workspace.select([])] == ["rj_a__x", "rj_b__y"]
    assert [p.name for p in workspace.select(["rj_b__y", "rj_a__x", "rj_b__y"])] == [
        "rj_b__y",
        "rj_a__x",
    ]


def test_the_repository_pipelines_all_have_the_naming_shape() -> None:
    workspace = discover(load_settings(ROOT, environ={}))

    assert len(workspace.pipelines) >= 4
    assert all(is_pipeline_name(name) for name in workspace.names)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("rj_smas__x", True), ("rj_a_b__c_d", True), ("rj__x", False), ("smas__x", False)],
)
def test_pipeline_name_shape(name: str, expected: bool) -> None:
    assert is_pipeline_name(name) is expected


def test_normalize_follows_pep_503() -> None:
    assert normalize("rj_smtr__GPS.onibus") == "rj-smtr-gps-onibus"
