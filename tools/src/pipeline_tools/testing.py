"""Run each pipeline's tests in its own environment and sum up the results."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from pipeline_tools import environments
from pipeline_tools.errors import CommandError, ExitCode
from pipeline_tools.reporter import Reporter
from pipeline_tools.workspace import Pipeline, Workspace


@dataclass(frozen=True)
class TestOutcome:
    """What pytest reported for one pipeline."""

    pipeline: str
    passed: int
    failed: int
    skipped: int
    seconds: float
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Whether the pipeline's environment synced and every test passed."""
        return not self.problem and self.failed == 0


def test_pipelines(
    workspace: Workspace, names: Sequence[str], pytest_args: Sequence[str], reporter: Reporter
) -> ExitCode:
    """Test the named pipelines (all when none is named); one summary line per pipeline."""
    pipelines = workspace.select(names)
    outcomes = [_test_one(workspace, pipeline, pytest_args, reporter) for pipeline in pipelines]
    _report(outcomes, reporter)
    return ExitCode.OK if all(outcome.ok for outcome in outcomes) else ExitCode.FAILED


def split_arguments(posargs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split session arguments into pipeline names and the pytest arguments that follow them."""
    names: list[str] = []
    for index, argument in enumerate(posargs):
        if argument == "--":
            return names, list(posargs[index + 1 :])
        if argument.startswith("-"):
            return names, list(posargs[index:])
        names.append(argument)
    return names, []


def _test_one(
    workspace: Workspace, pipeline: Pipeline, pytest_args: Sequence[str], reporter: Reporter
) -> TestOutcome:
    reporter.info(f"--- {pipeline.name}")
    started = time.monotonic()
    if not pipeline.tests_path.is_dir():
        return TestOutcome(pipeline.name, 0, 0, 0, 0.0, "no tests/ folder")
    try:
        python = environments.sync(workspace.settings, pipeline, reporter)
    except CommandError as error:
        return TestOutcome(pipeline.name, 0, 0, 0, 0.0, f"uv sync failed ({error.returncode})")
    report = workspace.settings.state_path / "reports" / f"{pipeline.name}.xml"
    report.unlink(missing_ok=True)
    argv = [str(python), "-m", "pytest", "tests", f"--junitxml={report}", *pytest_args]
    reporter.command(argv)
    environ = environments.pipeline_environ(workspace.settings)
    completed = subprocess.run(argv, cwd=pipeline.path, env=environ, check=False)
    seconds = time.monotonic() - started
    return _read_report(pipeline.name, report, completed.returncode, seconds)


def _read_report(name: str, report: Path, returncode: int, seconds: float) -> TestOutcome:
    if not report.is_file():
        return TestOutcome(name, 0, 0, 0, seconds, f"pytest exited with status {returncode}")
    root = ElementTree.parse(report).getroot()  # noqa: S314 - written by our own pytest run
    suite = root.find("testsuite") if root.tag == "testsuites" else root
    if suite is None:
        return TestOutcome(name, 0, 0, 0, seconds, f"pytest exited with status {returncode}")
    total = int(suite.get("tests", "0"))
    failed = int(suite.get("failures", "0")) + int(suite.get("errors", "0"))
    skipped = int(suite.get("skipped", "0"))
    outcome = TestOutcome(name, total - failed - skipped, failed, skipped, seconds)
    if returncode not in (0, 1) or (returncode == 1 and failed == 0):
        return TestOutcome(name, *_counts(outcome), seconds, f"pytest exited with {returncode}")
    if total == 0:
        return TestOutcome(name, 0, 0, 0, seconds, "pytest collected no tests")
    return outcome


def _counts(outcome: TestOutcome) -> tuple[int, int, int]:
    return outcome.passed, outcome.failed, outcome.skipped


def _report(outcomes: Sequence[TestOutcome], reporter: Reporter) -> None:
    rows = [
        [
            outcome.pipeline,
            "ok" if outcome.ok else "FAILED",
            str(outcome.passed),
            str(outcome.failed),
            str(outcome.skipped),
            f"{outcome.seconds:.1f}s",
            outcome.problem,
        ]
        for outcome in outcomes
    ]
    reporter.info("")
    reporter.table(["pipeline", "result", "passed", "failed", "skipped", "time", "note"], rows)
    passed = sum(outcome.passed for outcome in outcomes)
    # A pipeline that could not run its tests counts as one failure unless pytest counted it.
    failed = sum(max(outcome.failed, 1 if outcome.problem else 0) for outcome in outcomes)
    skipped = sum(outcome.skipped for outcome in outcomes)
    reporter.info(f"pipelines: {passed} passed, {failed} failed, {skipped} skipped")
