"""The lenient prefect.yaml loader and the lines it keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_tools.errors import ConfigError
from pipeline_tools.prefectyaml import load

DOCUMENT = """\
name: rj_a__b
deployments:
  - name: rj-a--b--staging
    entrypoint: pipelines/rj_a__b/flow.py:rj_a__b
    work_pool:
      name: staging-pool
      job_variables:
        image: "{{ $PIPELINE_IMAGE }}"
  - name: rj-a--b--prod
    entrypoint: pipelines/rj_a__b/flow.py:rj_a__b
    parameters:
      table: example
    work_pool:
      name: prod-pool
    schedules:
      - interval: 600
        anchor_date: 2024-01-01T00:00:00
        timezone: America/Sao_Paulo
        slug: every-ten-minutes
      - cron: "0 3 * * *"
        active: false
  - name: rj-a--b--other
  - just a string
"""


@pytest.fixture
def prefect_file(tmp_path: Path) -> Path:
    path = tmp_path / "prefect.yaml"
    path.write_text(DOCUMENT)
    return path


def test_reads_deployments_with_their_lines(prefect_file: Path) -> None:
    loaded = load(prefect_file)

    assert [d.name for d in loaded.deployments] == [
        "rj-a--b--staging",
        "rj-a--b--prod",
        "rj-a--b--other",
    ]
    assert [d.line for d in loaded.deployments] == [3, 9, 22]
    assert loaded.deployments[0].job_variables == {"image": "{{ $PIPELINE_IMAGE }}"}


def test_reads_schedules_typed(prefect_file: Path) -> None:
    interval, cron = load(prefect_file).deployments[1].schedules

    assert (interval.interval, interval.timezone, interval.line) == (600.0, "America/Sao_Paulo", 16)
    assert interval.anchor_date == "2024-01-01T00:00:00"
    assert (cron.cron, cron.active, cron.interval) == ("0 3 * * *", False, None)


def test_groups_deployments_by_environment_suffix(prefect_file: Path) -> None:
    loaded = load(prefect_file)
    environments = ("staging", "prod")

    assert [d.name for d in loaded.for_environment("prod", environments)] == ["rj-a--b--prod"]
    assert loaded.deployments[2].environment(environments) is None


def test_line_of_falls_back_to_the_closest_parent(prefect_file: Path) -> None:
    loaded = load(prefect_file)

    assert loaded.line_of("deployments", 1, "schedules", 1, "cron") == 20
    assert loaded.line_of("deployments", 1, "nothing", "here") == 9


def test_string_interval_is_kept_out_of_the_model_but_in_raw(tmp_path: Path) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text('deployments:\n  - name: x\n    schedules:\n      - interval: "86400"\n')

    (schedule,) = load(path).deployments[0].schedules

    assert schedule.interval is None
    assert schedule.raw == {"interval": "86400"}


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text("name: x\ndeployments:\n  - name: [unclosed\n")

    with pytest.raises(ConfigError, match=r"prefect.yaml:\d+: invalid YAML"):
        load(path)


def test_wrong_shapes_do_not_raise(tmp_path: Path) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text("deployments: nope\n")

    assert load(path).deployments == ()
