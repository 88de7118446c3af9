"""Imports declared in the pipeline's own pyproject.toml (deptry), and the lock in sync."""

from __future__ import annotations

import pytest
from lint_corpus import FOLDER, NAME, Case, Repo, add_pipeline, assert_caught, cases, relock


@pytest.mark.parametrize("case", cases("DEPTRY-", "LOCK"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_a_declared_workspace_pipeline_may_be_imported(lint_repo: Repo) -> None:
    add_pipeline("rj_teste__base")(lint_repo)
    lint_repo.replace(
        f"{FOLDER}/pyproject.toml",
        '    "prefect>=3.4,<4",\n]',
        '    "prefect>=3.4,<4",\n    "rj_teste__base",\n]\n\n[tool.uv.sources]\n'
        "rj_teste__base = { workspace = true }",
    )
    lint_repo.replace(
        f"{FOLDER}/flow.py",
        "from prefect import flow\n",
        "from prefect import flow\n\nfrom rj_teste__base.flow import rj_teste__base\n",
    )
    relock(lint_repo.root)

    run = lint_repo.lint()

    assert not run.lines_with("DEPTRY-DEP001"), run.out
    assert not run.lines_with("LOCK001"), run.out


def test_an_undeclared_workspace_pipeline_is_caught(lint_repo: Repo) -> None:
    add_pipeline("rj_teste__base")(lint_repo)
    lint_repo.replace(
        f"{FOLDER}/flow.py",
        "from prefect import flow\n",
        "from prefect import flow\n\nfrom rj_teste__base.flow import rj_teste__base\n",
    )
    relock(lint_repo.root)

    [line] = lint_repo.lint().lines_with("DEPTRY-DEP001")

    assert f"{FOLDER}/pyproject.toml" in line
    assert "rj_teste__base" in line


def test_the_pipelines_own_package_and_tests_are_not_dependencies(lint_repo: Repo) -> None:
    lint_repo.write(f"{FOLDER}/helpers.py", '"""Helpers."""\n\nLIMIT = 10\n')
    lint_repo.replace(
        f"{FOLDER}/flow.py",
        "from prefect import flow\n",
        f"from prefect import flow\n\nfrom {NAME}.helpers import LIMIT\n",
    )
    lint_repo.replace(f"{FOLDER}/flow.py", "    return limit\n", "    return min(limit, LIMIT)\n")

    run = lint_repo.lint()

    assert not [line for line in run.out.splitlines() if "DEPTRY" in line], run.out
