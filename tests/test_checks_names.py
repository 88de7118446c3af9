"""Names derived from the folder: the corpus cases, and hostile names handled calmly."""

from __future__ import annotations

import pytest
from lint_corpus import FOLDER, PREFECT, Case, Repo, add_pipeline, assert_caught, cases, in_prod


@pytest.mark.parametrize("case", cases("NAME"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_a_hostile_folder_name_runs_nothing(lint_repo: Repo) -> None:
    add_pipeline("rj_$(touch pwned)__x", rename=False)(lint_repo)
    add_pipeline("rj_`touch pwned2`__y", rename=False)(lint_repo)

    run = lint_repo.lint()  # the external linters get the hostile paths too

    assert run.code.value == 1
    assert not list(lint_repo.root.rglob("pwned*"))
    assert "Traceback" not in run.out + run.err


def test_a_mismatch_names_both_places(lint_repo: Repo) -> None:
    lint_repo.replace(
        f"{FOLDER}/pyproject.toml", 'name = "rj_teste__corpus"', 'name = "rj_teste__x"'
    )

    [line] = lint_repo.lint("--no-external").lines_with("NAME002")

    assert "'rj_teste__x'" in line
    assert f"the folder is {FOLDER}" in line


def test_an_entrypoint_typo_suggests_the_flow(lint_repo: Repo) -> None:
    in_prod("flow.py:rj_teste__corpus\n", "flow.py:rj_teste__corpu\n")(lint_repo)

    [line] = lint_repo.lint("--no-external").lines_with("NAME007")

    assert "did you mean rj_teste__corpus?" in line


def test_an_entrypoint_to_a_second_flow_of_the_folder_passes(lint_repo: Repo) -> None:
    lint_repo.write(
        f"{FOLDER}/backfill.py",
        '"""A second flow."""\n\nfrom prefect import flow\n\n\n'
        '@flow\ndef backfill(table: str) -> None:\n    """Reload `table`."""\n',
    )
    in_prod("flow.py:rj_teste__corpus\n", "backfill.py:backfill\n")(lint_repo)

    run = lint_repo.lint("--no-external")

    assert run.out.splitlines()[-1].startswith("lint: no findings"), run.out


def test_the_flow_name_defaults_to_the_function(lint_repo: Repo) -> None:
    lint_repo.replace(
        f"{FOLDER}/flow.py", '@flow(name="rj_teste__corpus", log_prints=True)', "@flow"
    )

    assert not lint_repo.lint("--no-external").lines_with("NAME005")


def test_prefect_yaml_without_name(lint_repo: Repo) -> None:
    lint_repo.replace(PREFECT, "name: rj_teste__corpus\n", "")

    [line] = lint_repo.lint("--no-external").lines_with("NAME008")

    assert "write name: rj_teste__corpus" in line
