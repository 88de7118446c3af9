"""Debugger calls, secrets, .env files and huge files never reach a commit."""

from __future__ import annotations

import pytest
from lint_corpus import FOLDER, KEY_HEADER, NAME, Case, Repo, assert_caught, cases


@pytest.mark.parametrize("case", cases("HYG", "SECRETS-"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_a_secret_value_never_appears_in_the_output(lint_repo: Repo) -> None:
    value = "Zq8" + "vL2nW4xR7tY1"
    lint_repo.write(f"{FOLDER}/settings.py", f'"""Settings."""\n\nAPI_KEY = "{value}"\n')
    lint_repo.write(f"{FOLDER}/id_rsa", f"{KEY_HEADER}\nMIIEpAIBAAKCAQEAwhatever{value}\n")

    run = lint_repo.lint()

    assert run.lines_with("SECRETS-SecretKeyword")
    assert run.lines_with("SECRETS-PrivateKey")
    assert value not in run.out + run.err


def test_secretaria_is_not_a_secret_keyword(lint_repo: Repo) -> None:
    source = '"""Offices."""\n\n' + 'secretaria = "smtr"\n'
    lint_repo.write(f"{FOLDER}/offices.py", source)

    assert not [line for line in lint_repo.lint().out.splitlines() if "SECRETS" in line]


def test_debugger_words_in_strings_are_not_calls(lint_repo: Repo) -> None:
    text = (
        '"""Mentions breakpoint() and pdb.set_trace() in a docstring."""\n\nHINT = "import pdb"\n'
    )
    lint_repo.write(f"{FOLDER}/notes.py", text)

    assert not lint_repo.lint("--no-external").lines_with("HYG001")


def test_an_ignored_env_file_is_fine(lint_repo: Repo) -> None:
    lint_repo.write(f"{FOLDER}/.env", "DATABASE_URL=postgresql://localhost/dados\n")

    assert not lint_repo.lint("--no-external").lines_with("HYG002")


def test_the_size_limit_is_a_setting(lint_repo: Repo) -> None:
    lint_repo.write(f"{FOLDER}/data/sample.csv", "id\n" + "1\n" * 1500)
    lint_repo.environ["PIPELINES_MAX_FILE_KB"] = "2"

    [line] = lint_repo.lint(NAME, "--no-external").lines_with("HYG003")

    assert line.startswith(f"{FOLDER}/data/sample.csv:1:1: HYG003 ")
    assert "max_file_kb = 2" in line
