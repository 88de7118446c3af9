"""The new, test and run sessions, run through nox in a copy of the repository."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import git


def nox(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `uv run nox` in `repo` as a user would, output and errors together."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"} and not key.startswith("GIT_")
    }
    environ.update(env or {})
    return subprocess.run(
        ["uv", "run", "--quiet", "nox", *args],
        cwd=repo,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )


def test_new_pipeline_is_tested_and_run(repo_copy: Path, tmp_path: Path) -> None:
    created = nox(repo_copy, "-s", "new", "--", "sme", "teste_novo")
    folder = repo_copy / "pipelines" / "rj_sme__teste_novo"
    tested = nox(repo_copy, "-s", "test(rj_sme__teste_novo)")
    database = tmp_path / "source.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE pessoas (id INTEGER, nome TEXT)")
        connection.executemany("INSERT INTO pessoas VALUES (?, ?)", [(1, "Ana"), (2, "Rui")])
    ran = nox(
        repo_copy,
        "-s",
        "run",
        "--",
        "rj_sme__teste_novo",
        "table=pessoas",
        f"destination={tmp_path / 'dump'}",
        "batch_size=1",
        env={"RJ_SME__TESTE_NOVO_DATABASE_URL": f"sqlite:///{database}"},
    )

    assert created.returncode == 0, created.stdout
    assert sorted(p.name for p in folder.iterdir() if p.name != "rj_sme__teste_novo.egg-info") == [
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "__init__.py",
        "flow.py",
        "prefect.yaml",
        "pyproject.toml",
        "tests",
    ]
    assert 'name = "rj-sme-teste-novo"' in (repo_copy / "uv.lock").read_text()
    assert tested.returncode == 0, tested.stdout
    assert "pipelines: 2 passed, 0 failed, 0 skipped" in tested.stdout
    assert ran.returncode == 0, ran.stdout
    assert "2 rows in 2 files" in ran.stdout
    assert "flow run finished: Completed" in ran.stdout


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["SME", "x"], "the secretaria name 'SME' is not valid"),
        (["rj_sme", "x"], "must not start with 'rj_'"),
        (["sme", "a-b"], "the pipeline name 'a-b' is not valid"),
        (["a__b", "x"], "the secretaria name 'a__b' is not valid"),
        (["sme", "$(touch pwned)"], "is not valid"),
        (["../sme", "x"], "is not valid"),
        (["sme", ""], "the pipeline name is empty"),
        (["smas", "cadastro_unico"], "rj_smas__cadastro_unico already exists"),
        (["sme"], "usage: nox -s new"),
    ],
)
def test_new_refuses_bad_answers_and_writes_nothing(
    repo_copy: Path, answers: list[str], message: str
) -> None:
    result = nox(repo_copy, "-s", "new", "--", *answers)

    assert result.returncode == 1
    assert message in result.stdout
    assert "Traceback" not in result.stdout
    assert git(repo_copy, "status", "--porcelain", "--untracked-files=all") == ""


def test_unknown_pipeline_is_one_line_with_close_matches(repo_copy: Path) -> None:
    result = nox(repo_copy, "-s", "test", "--", "rj_smas__cadastro_unic")

    assert result.returncode == 1
    assert (
        "unknown pipeline 'rj_smas__cadastro_unic'; close matches: rj_smas__cadastro_unico."
        in result.stdout
    )
    assert "Traceback" not in result.stdout
    assert not (repo_copy / ".state" / "envs").exists()


def test_run_refuses_a_parameter_the_flow_does_not_take(repo_copy: Path) -> None:
    result = nox(repo_copy, "-s", "run", "--", "rj_smas__cadastro_unico", "tabel=x")

    assert result.returncode == 1
    assert "the flow rj_smas__cadastro_unico has no parameter 'tabel'" in result.stdout
    assert not (repo_copy / ".state" / "envs").exists()


def test_a_dependency_missing_from_pyproject_fails_the_pipeline_tests(repo_copy: Path) -> None:
    pyproject = repo_copy / "pipelines" / "rj_smas__cadastro_unico" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "prefect_rj_iplanrio",\n', ""))
    subprocess.run(["uv", "lock", "--quiet"], cwd=repo_copy, check=True)

    result = nox(repo_copy, "-s", "test", "--", "rj_smas__cadastro_unico")

    assert result.returncode == 1
    assert "No module named 'prefect_rj_iplanrio'" in result.stdout
    assert "rj_smas__cadastro_unico  FAILED" in result.stdout
