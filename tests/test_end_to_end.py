"""A new user's first hour, in a fresh clone: new, lint, test, plan, build, deploy-local
with one run of the new pipeline, ending with a completed flow run on the local server.

Every step is the nox session the README names, run through `uv run` in the clone; a session
that is missing or fails makes the test fail with that session's output.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import copy_repository, git

PIPELINE = "rj_sme__primeiro_fluxo"
SESSION_SECONDS = 900


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Path]:
    """A `git clone` of a commit of this repository, as a new user gets it; its local Prefect
    server (if a step started one) is stopped afterwards."""
    origin = copy_repository(tmp_path / "origin")
    git(origin, "init", "--quiet", "--initial-branch=main")
    git(origin, "add", "--all")
    git(origin, "commit", "--quiet", "--message", "the repository")
    git(tmp_path, "clone", "--quiet", str(origin), "clone")
    checkout = tmp_path / "clone"
    try:
        yield checkout
    finally:
        if (checkout / ".state" / "prefect" / "server.json").exists():
            nox(checkout, "-s", "server", "--", "stop")


def nox(repo: Path, *arguments: str, env: dict[str, str] | None = None) -> str:
    """Run `uv run nox ...` in `repo`; fail the test with its output unless it succeeds."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PREFECT_API_URL", "PREFECT_API_KEY"}
        and not key.startswith("GIT_")
    }
    environ.update(env or {})
    done = subprocess.run(
        ["uv", "run", "--quiet", "nox", *arguments],
        cwd=repo,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=SESSION_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"nox {' '.join(arguments)} failed:\n{done.stdout}"
    return done.stdout


def test_a_new_pipeline_from_scaffold_to_a_completed_local_run(
    clone: Path, tmp_path: Path, docker_engine: str
) -> None:
    database = tmp_path / "source.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE alunos (id INTEGER, nome TEXT)")
        connection.executemany("INSERT INTO alunos VALUES (?, ?)", [(1, "Ana"), (2, "Rui")])
    source = {"RJ_SME__PRIMEIRO_FLUXO_DATABASE_URL": f"sqlite:///{database}"}

    nox(clone, "-s", "new", "--", "sme", "primeiro_fluxo")
    git(clone, "add", "--all")
    git(clone, "commit", "--quiet", "--message", f"add {PIPELINE}")
    nox(clone, "-s", "lint", "--", PIPELINE)
    tested = nox(clone, "-s", "test", "--", PIPELINE)
    planned = nox(clone, "-s", "plan", "--", "--env", "local")
    built = nox(clone, "-s", "build", "--", PIPELINE)
    ran = nox(
        clone,
        "-s",
        "deploy-local",
        "--",
        "--run",
        PIPELINE,
        "table=alunos",
        f"destination={tmp_path / 'saida'}",
        "batch_size=1",
        env=source,
    )

    assert "0 failed" in tested
    assert PIPELINE in planned
    assert PIPELINE in built
    assert "rj-sme--primeiro-fluxo--local" in ran
    assert "flow run Completed: http://127.0.0.1:" in ran
    assert "start a worker: PREFECT_API_URL=http://127.0.0.1:" in ran
    assert list((tmp_path / "saida").rglob("*.parquet"))
