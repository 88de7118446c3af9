"""Parameters against the flow's signature, read from source."""

from __future__ import annotations

import pytest
from lint_corpus import FOLDER, Case, Repo, assert_caught, cases, in_prod


@pytest.mark.parametrize("case", cases("PARAM"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_a_misspelled_parameter_gets_the_closest_name(lint_repo: Repo) -> None:
    in_prod("      table: example\n", "      table: example\n      limt: 5\n")(lint_repo)

    [line] = lint_repo.lint("--no-external").lines_with("PARAM001")

    assert "has no parameter 'limt'; did you mean limit?" in line


def test_a_flow_taking_any_keyword_accepts_any_parameter(lint_repo: Repo) -> None:
    lint_repo.replace(f"{FOLDER}/flow.py", "limit: int = 10)", "limit: int = 10, **options: str)")
    in_prod("      table: example\n", "      table: example\n      anything: 5\n")(lint_repo)

    assert not lint_repo.lint("--no-external").lines_with("PARAM001")


def test_a_required_parameter_given_by_every_schedule_is_enough(lint_repo: Repo) -> None:
    in_prod("    parameters:\n      table: example\n", "")(lint_repo)
    in_prod(
        "        active: true\n", "        active: true\n        parameters:\n          table: t\n"
    )(lint_repo)

    assert not lint_repo.lint("--no-external").lines_with("PARAM002")


def test_the_flow_module_is_never_imported(lint_repo: Repo) -> None:
    flow = lint_repo.path(f"{FOLDER}/flow.py")
    flow.write_text("import this_module_does_not_exist\n" + flow.read_text("utf-8"), "utf-8")
    in_prod("      table: example\n", "      table: example\n      tabel: x\n")(lint_repo)

    run = lint_repo.lint("--no-external")

    assert len(run.lines_with("PARAM001")) == 1
    assert "Traceback" not in run.out + run.err
