"""prefect.yaml structure: the corpus cases and what Prefect's own models decide."""

from __future__ import annotations

import pytest
from lint_corpus import PREFECT, Case, Repo, assert_caught, cases, in_prod

from pipeline_tools.checks.prefect_file import resolve_step, schema


@pytest.mark.parametrize("case", cases("PF"), ids=lambda case: case.id)
def test_corpus_case_is_caught(lint_repo: Repo, case: Case) -> None:
    assert_caught(lint_repo, case)


def test_keys_come_from_prefects_models() -> None:
    keys = schema()

    assert {"schedules", "entrypoint", "work_pool", "parameters"} <= keys.deployment
    assert "schedule" not in keys.deployment
    assert {"cron", "interval", "rrule", "timezone", "anchor_date", "slug"} <= keys.schedule
    assert {"name", "work_queue_name", "job_variables"} == keys.work_pool
    assert {"prefect-version", "deployments", "pull"} <= keys.top_level


def test_unknown_keys_name_the_closest_known_key(lint_repo: Repo) -> None:
    in_prod("    schedules:\n", "    schedule:\n")(lint_repo)
    in_prod("      job_variables:\n", "      job_variable:\n")(lint_repo)

    run = lint_repo.lint("--no-external")

    assert "did you mean 'schedules'?" in run.lines_with("PF006")[0]
    assert "did you mean 'job_variables'?" in run.lines_with("PF007")[0]


def test_schedule_verdicts_are_prefects(lint_repo: Repo) -> None:
    in_prod('      - cron: "0 3 * * *"\n', '      - cron: "every day at 3"\n')(lint_repo)

    [line] = lint_repo.lint("--no-external").lines_with("PF011")

    assert 'Invalid cron string: "every day at 3"' in line


def test_a_string_interval_says_how_to_write_it(lint_repo: Repo) -> None:
    in_prod('      - cron: "0 3 * * *"\n', '      - interval: "86400"\n')(lint_repo)

    [line] = lint_repo.lint("--no-external").lines_with("PF010")

    assert "write the number of seconds unquoted" in line


def test_valid_interval_and_rrule_schedules_pass(lint_repo: Repo) -> None:
    schedules = (
        "      - interval: 600\n"
        '        anchor_date: "2024-01-01T00:00:00"\n'
        "        timezone: America/Sao_Paulo\n"
        "        slug: every-ten-minutes\n"
        "      - rrule: FREQ=WEEKLY;BYDAY=MO;BYHOUR=6\n"
        "        slug: mondays\n"
    )
    in_prod('      - cron: "0 3 * * *"\n        timezone: America/Sao_Paulo\n', schedules)(
        lint_repo
    )
    in_prod("        slug: daily\n        active: true\n", "")(lint_repo)

    run = lint_repo.lint("--no-external")

    assert run.out.splitlines()[-1].startswith("lint: no findings"), run.out


def test_steps_see_only_the_ids_defined_before_them(lint_repo: Repo) -> None:
    steps = (
        "build:\n"
        "  - prefect.deployments.steps.run_shell_script:\n"
        "      id: stamp\n"
        "      script: date +%s\n"
        "\n"
        "pull:\n"
        "  - prefect.deployments.steps.set_working_directory:\n"
        '      directory: "/app/{{ stamp.stdout }}/{{ later.stdout }}"\n'
        "  - prefect.deployments.steps.run_shell_script:\n"
        "      id: later\n"
        "      script: pwd\n"
    )
    text = lint_repo.text(PREFECT)
    lint_repo.write(PREFECT, text.replace("pull:\n", steps + "\nunused:\n", 1))
    lint_repo.replace(
        PREFECT,
        "\nunused:\n  - prefect.deployments.steps.set_working_directory:\n      directory: /app\n",
        "\n",
    )

    [line] = lint_repo.lint("--no-external").lines_with("PF016")

    assert "'later'" in line
    assert "stamp" in line  # listed among the ids defined before it


def test_step_names_are_resolved_without_importing_them() -> None:
    assert resolve_step("prefect.deployments.steps.git_clone") is None
    assert "did you mean 'git_clone'" in (resolve_step("prefect.deployments.steps.git_clon") or "")
    assert "no installed module" in (resolve_step("no_such_package.steps.build") or "")
    assert "not a dotted path" in (resolve_step("$(rm -rf ~).x") or "")


def test_a_whole_file_rejection_is_explained_at_its_key(lint_repo: Repo) -> None:
    lint_repo.replace(PREFECT, "prefect-version: 3.4.0\n", "prefect-version: [3, 4]\n")

    [line] = lint_repo.lint("--no-external").lines_with("PF004")

    assert line.startswith("pipelines/rj_teste__corpus/prefect.yaml:3:")
