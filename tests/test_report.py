"""The deploy summary: terminal table, Markdown job summary, exit status, secrets hidden."""

from __future__ import annotations

import io
from pathlib import Path

from pipeline_tools.errors import ExitCode
from pipeline_tools.report import Outcome, Status, markdown, summarize, totals
from pipeline_tools.reporter import Reporter

OUTCOMES = [
    Outcome("rj-b--y--prod", "rj_b__y", Status.UNCHANGED),
    Outcome("rj-a--x--prod", "rj_a__x", Status.REGISTERED, "changed: schedules", 0.25),
    Outcome("rj-c--z--prod", "rj_c__z", Status.FAILED, "HTTP 422: bad | input", 1.5),
]


def test_every_deployment_is_a_row_and_a_failure_fails_the_run(tmp_path: Path) -> None:
    output = io.StringIO()

    code = summarize("deploy to prod", OUTCOMES, Reporter(out=output, err=output), environ={})

    lines = output.getvalue().splitlines()
    assert code == ExitCode.FAILED
    assert lines[1].split() == ["deployment", "pipeline", "result", "time", "detail"]
    assert lines[3].split()[:4] == ["rj-a--x--prod", "rj_a__x", "registered", "0.2s"]
    assert lines[4].split()[:3] == ["rj-b--y--prod", "rj_b__y", "unchanged"]
    assert lines[5].split()[:3] == ["rj-c--z--prod", "rj_c__z", "FAILED"]
    assert lines[-1] == "deploy to prod: 1 registered, 1 unchanged, 1 failed"


def test_nothing_failed_is_ok() -> None:
    code = summarize("deploy", OUTCOMES[:2], Reporter(out=io.StringIO()), environ={})

    assert code == ExitCode.OK


def test_the_job_summary_is_appended_as_markdown_with_secrets_hidden(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    reporter = Reporter(out=io.StringIO(), err=io.StringIO())
    reporter.hide("bad")
    environ = {"GITHUB_STEP_SUMMARY": str(summary)}

    summarize("deploy to prod", OUTCOMES, reporter, environ=environ)

    text = summary.read_text()
    assert text.startswith("earlier step\n### deploy to prod\n")
    assert "| `rj-a--x--prod` | rj_a__x | ✅ registered | 0.2s | changed: schedules |" in text
    assert "| `rj-c--z--prod` | rj_c__z | ❌ failed | 1.5s | HTTP 422: *** \\| input |" in text
    assert "bad" not in text


def test_removed_deployments_are_counted_only_when_there_are_some() -> None:
    removed = Outcome("rj-d--w--prod", "rj_d__w", Status.REMOVED, "gone")

    assert totals(OUTCOMES) == "1 registered, 1 unchanged, 1 failed"
    assert totals([*OUTCOMES, removed]) == "1 registered, 1 unchanged, 1 removed, 1 failed"
    assert "🗑️ removed" in markdown("t", [removed])
