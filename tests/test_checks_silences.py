"""Silencing one line or one pipeline, always with a reason."""

from __future__ import annotations

import pytest
from lint_corpus import (
    DOCKER,
    FOLDER,
    PREFECT,
    Case,
    Repo,
    assert_caught,
    cases,
    in_prod,
    pipeline_table,
)

SILENCE = "# lint" + ": ignore"  # kept apart so that this file silences nothing itself


@pytest.mark.parametrize("case", cases("LINT"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_a_comment_with_a_reason_silences_its_line(lint_repo: Repo) -> None:
    lint_repo.replace(
        f"{FOLDER}/flow.py",
        "    return limit\n",
        f"    breakpoint()  {SILENCE}[HYG001] kept during the migration\n    return limit\n",
    )

    run = lint_repo.lint("--no-external")

    assert run.code.value == 0, run.out
    assert not run.lines_with("HYG001")


def test_a_comment_alone_silences_the_next_line(lint_repo: Repo) -> None:
    lint_repo.replace(
        DOCKER,
        "RUN uv sync --frozen",
        f"{SILENCE}[DOCKER005] the lock is rewritten on purpose here\nRUN uv sync",
    )

    assert not lint_repo.lint("--no-external").lines_with("DOCKER005")


def test_a_yaml_comment_silences_a_key(lint_repo: Repo) -> None:
    in_prod(
        "        slug: daily\n",
        f"        slug: daily\n        flow_run_name: nightly  {SILENCE}[PF008] read by a plugin\n",
    )(lint_repo)

    assert lint_repo.lint("--no-external").code.value == 0


def test_a_silence_covers_only_the_rules_it_names(lint_repo: Repo) -> None:
    lint_repo.replace(
        f"{FOLDER}/flow.py",
        "    return limit\n",
        f"    breakpoint()  {SILENCE}[PF008] wrong rule\n    return limit\n",
    )

    assert lint_repo.lint("--no-external").lines_with("HYG001")


def test_a_pipeline_ignore_with_a_reason_silences_the_rule_there(lint_repo: Repo) -> None:
    in_prod("    schedules:\n", "    schedule:\n")(lint_repo)
    pipeline_table('ignore = [{ rule = "PF006", reason = "read by our own deploy plugin" }]')(
        lint_repo
    )

    run = lint_repo.lint("--no-external")

    assert not run.lines_with("PF006")


def test_some_rules_cannot_be_silenced_on_a_line(lint_repo: Repo) -> None:
    lint_repo.write(PREFECT, f"{SILENCE}[PF001] no file\n" + lint_repo.text(PREFECT))

    [line] = lint_repo.lint("--no-external").lines_with("LINT002")

    assert "PF001 cannot be silenced on a line" in line


def test_the_syntax_in_a_python_string_is_not_a_silence(lint_repo: Repo) -> None:
    lint_repo.write(f"{FOLDER}/docs.py", f'"""Write {SILENCE}[NOPE] to silence a line."""\n')

    assert lint_repo.lint("--no-external").code.value == 0
