"""Deployments per environment: the corpus cases and what a pipeline may declare."""

from __future__ import annotations

import pytest
from lint_corpus import (
    PREFECT,
    PROD_ENTRY,
    Case,
    Repo,
    assert_caught,
    cases,
    in_staging,
    line_of,
    pipeline_table,
)


@pytest.mark.parametrize("case", cases("ENV"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def assert_clean(repo: Repo) -> None:
    run = repo.lint("--no-external")
    assert run.out.splitlines()[-1].startswith("lint: no findings"), run.out


def test_declared_variants_replace_the_single_deployment(lint_repo: Repo) -> None:
    text = lint_repo.text(PREFECT)
    staging, _, prod = text.partition(PROD_ENTRY)
    variants = staging.replace("corpus--staging", "corpus-sppo--staging") + staging.split(
        "deployments:\n", 1
    )[1].replace("corpus--staging", "corpus-brt--staging")
    prod_variants = (
        (PROD_ENTRY + prod).replace("corpus--prod", "corpus-sppo--prod")
        + "\n"
        + (PROD_ENTRY + prod)
        .replace("corpus--prod", "corpus-brt--prod")
        .replace("slug: daily", "slug: nightly")
    )
    lint_repo.write(PREFECT, variants + prod_variants)
    pipeline_table('variants = ["sppo", "brt"]')(lint_repo)

    assert_clean(lint_repo)


def test_a_missing_variant_is_named(lint_repo: Repo) -> None:
    pipeline_table('variants = ["sppo", "brt"]')(lint_repo)
    lint_repo.write(PREFECT, lint_repo.text(PREFECT).replace("corpus--", "corpus-sppo--"))

    run = lint_repo.lint("--no-external")

    assert [line.split(" ")[4] for line in run.lines_with("ENV001")] == [
        "rj-teste--corpus-brt--prod",
        "rj-teste--corpus-brt--staging",
    ]
    assert not run.lines_with("ENV002")


def test_a_prod_only_pipeline_needs_no_staging(lint_repo: Repo) -> None:
    text = lint_repo.text(PREFECT)
    head, _, rest = text.partition("  - name: rj-teste--corpus--staging\n")
    lint_repo.write(
        PREFECT,
        head + rest.partition("\n" + PROD_ENTRY)[1][1:] + rest.partition("\n" + PROD_ENTRY)[2],
    )
    pipeline_table('environments = ["prod"]')(lint_repo)

    assert_clean(lint_repo)


def test_staging_schedules_declared_on_purpose_pass(lint_repo: Repo) -> None:
    schedule = '    schedules:\n      - cron: "0 6 * * *"\n        slug: morning\n'
    in_staging("    schedules: []\n", schedule)(lint_repo)
    pipeline_table('scheduled-environments = ["staging"]')(lint_repo)

    assert_clean(lint_repo)


def test_inactive_staging_schedules_pass(lint_repo: Repo) -> None:
    schedule = (
        '    schedules:\n      - cron: "0 6 * * *"\n        slug: morning\n        active: false\n'
    )
    in_staging("    schedules: []\n", schedule)(lint_repo)

    assert_clean(lint_repo)


def test_work_pools_follow_the_settings(lint_repo: Repo) -> None:
    lint_repo.environ["PIPELINES_PROD_WORK_POOL"] = "k8s-prod"

    [line] = lint_repo.lint("--no-external").lines_with("ENV007")

    assert "'prod-pool'" in line
    assert "write name: k8s-prod" in line


def test_names_must_be_unique_within_one_file_too(lint_repo: Repo) -> None:
    lint_repo.replace(PREFECT, "  - name: rj-teste--corpus--staging\n", PROD_ENTRY)

    lines = lint_repo.lint("--no-external").lines_with("ENV005")

    expected = [line_of(lint_repo.text(PREFECT), PROD_ENTRY.strip(), n) for n in (1, 2)]
    assert [int(line.split(":")[1]) for line in lines] == expected
