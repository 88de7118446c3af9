"""ruff's lint and format check over the library and the pipelines, in one run each."""

from __future__ import annotations

import pytest
from lint_corpus import FOLDER, NAME, Case, Repo, assert_caught, cases


@pytest.mark.parametrize("case", cases("RUFF-"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_the_library_is_checked_with_the_whole_repository_only(lint_repo: Repo) -> None:
    lint_repo.write("src/prefect_rj_iplanrio/helpers.py", '"""Helpers."""\n\nimport os\n')

    whole = lint_repo.lint()
    one = lint_repo.lint(NAME)

    assert [line.split(":")[0] for line in whole.lines_with("RUFF-F401")] == [
        "src/prefect_rj_iplanrio/helpers.py"
    ]
    assert not one.lines_with("RUFF-F401")


def test_debugger_calls_are_reported_once(lint_repo: Repo) -> None:
    lint_repo.replace(
        f"{FOLDER}/flow.py", "    return limit\n", "    breakpoint()\n    return limit\n"
    )

    run = lint_repo.lint()

    assert len(run.lines_with("HYG001")) == 1
    assert not run.lines_with("RUFF-T100")


def test_noqa_still_silences_ruff(lint_repo: Repo) -> None:
    lint_repo.replace(
        f"{FOLDER}/flow.py",
        "from prefect import flow\n",
        "import json  # noqa: F401\nfrom prefect import flow\n",
    )

    assert not lint_repo.lint().lines_with("RUFF-F401")
