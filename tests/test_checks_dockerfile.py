"""The pipeline's Dockerfile: base image, what it copies and installs, and hadolint."""

from __future__ import annotations

import pytest
from lint_corpus import DOCKER, FOLDER, Case, Repo, add_pipeline, assert_caught, cases


@pytest.mark.parametrize("case", cases("DOCKER", "HADOLINT-"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_the_base_image_is_found_through_build_arguments(lint_repo: Repo) -> None:
    lint_repo.replace(
        DOCKER,
        "ARG BASE_IMAGE=prefect_rj_iplanrio-base:latest\nFROM ${BASE_IMAGE}",
        "ARG REGISTRY=registry.example:5000/dados\nFROM $REGISTRY/prefect_rj_iplanrio-base:abc123",
    )

    assert not lint_repo.lint("--no-external").lines_with("DOCKER002")


def test_the_folder_of_a_workspace_dependency_may_be_copied(lint_repo: Repo) -> None:
    add_pipeline("rj_teste__base")(lint_repo)
    lint_repo.replace(
        f"{FOLDER}/pyproject.toml",
        '    "prefect>=3.4,<4",\n]',
        '    "prefect>=3.4,<4",\n    "rj_teste__base",\n]\n\n[tool.uv.sources]\n'
        "rj_teste__base = { workspace = true }",
    )
    lint_repo.replace(
        DOCKER,
        f"COPY {FOLDER}/",
        f"COPY pipelines/rj_teste__base/ pipelines/rj_teste__base/\nCOPY {FOLDER}/",
    )

    run = lint_repo.lint("--no-external")

    assert not run.lines_with("NAME011")
    assert not run.lines_with("DOCKER003")


def test_a_silenced_hadolint_rule_is_not_reported(lint_repo: Repo) -> None:
    lint_repo.replace(
        DOCKER,
        "\nCOPY pyproject.toml",
        "\n# lint" + ": ignore[HADOLINT-DL3003] the marker must be written in /tmp\n"
        "RUN cd /tmp && touch marker\nCOPY pyproject.toml",
    )

    run = lint_repo.lint()

    assert not run.lines_with("HADOLINT-DL3003"), run.out
    assert run.code.value == 0, run.out
