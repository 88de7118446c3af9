"""GitHub Actions workflows through actionlint and zizmor, offline."""

from __future__ import annotations

import pytest
from lint_corpus import Case, Repo, assert_caught, cases

CLEAN_WORKFLOW = """\
name: lint
on:
  pull_request:
permissions: {}
jobs:
  lint:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - run: echo checking
"""


@pytest.mark.parametrize("case", cases("ACTIONLINT-", "ZIZMOR-"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_a_clean_workflow_passes_both(lint_repo: Repo) -> None:
    lint_repo.write(".github/workflows/lint.yml", CLEAN_WORKFLOW)

    run = lint_repo.lint()

    assert run.code.value == 0, run.out
    assert "$ actionlint" in run.err
    assert "$ zizmor --offline" in run.err


def test_an_invalid_workflow_is_reported_once_by_actionlint(lint_repo: Repo) -> None:
    lint_repo.write(".github/workflows/lint.yml", CLEAN_WORKFLOW.replace("15", "soon"))

    run = lint_repo.lint()

    assert run.lines_with("ACTIONLINT-syntax-check")
    assert not run.lines_with("LINT003"), run.out
