"""The end of a deploy: one line per deployment in a terminal table, the same as Markdown for
the GitHub Actions job summary (`$GITHUB_STEP_SUMMARY`), and the exit status.
"""

from __future__ import annotations

import enum
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_tools.errors import ExitCode
from pipeline_tools.reporter import Reporter

SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


class Status(enum.Enum):
    """What happened to one deployment."""

    REGISTERED = "registered"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """The result for one deployment: its status, why (changed fields or failure), how long."""

    deployment: str
    pipeline: str
    status: Status
    detail: str = ""
    seconds: float = 0.0


def summarize(
    title: str,
    outcomes: Sequence[Outcome],
    reporter: Reporter,
    environ: Mapping[str, str] | None = None,
) -> ExitCode:
    """Print the table, append the Markdown summary when running in CI, return the exit code."""
    environ = os.environ if environ is None else environ
    ordered = sorted(outcomes, key=lambda item: (item.pipeline, item.deployment))
    reporter.info("")
    reporter.table(["deployment", "pipeline", "result", "time", "detail"], _rows(ordered))
    reporter.info(f"{title}: {totals(ordered)}")
    target = environ.get(SUMMARY_VARIABLE)
    if target:
        _append(Path(target), _mask(markdown(title, ordered), reporter), reporter)
    return exit_code(ordered)


def exit_code(outcomes: Sequence[Outcome]) -> ExitCode:
    """FAILED when any deployment failed, OK otherwise."""
    failed = any(outcome.status is Status.FAILED for outcome in outcomes)
    return ExitCode.FAILED if failed else ExitCode.OK


def totals(outcomes: Sequence[Outcome]) -> str:
    """`3 registered, 1 unchanged, 0 failed` (removed only when there are any)."""
    counts = Counter(outcome.status for outcome in outcomes)
    parts = [
        f"{counts[status]} {status.value}" for status in Status if status is not Status.REMOVED
    ]
    if counts[Status.REMOVED]:
        parts.insert(2, f"{counts[Status.REMOVED]} removed")
    return ", ".join(parts)


def markdown(title: str, outcomes: Sequence[Outcome]) -> str:
    """The summary as a GitHub-flavoured Markdown section."""
    icon = {
        Status.REGISTERED: "✅",
        Status.UNCHANGED: "⚪",
        Status.REMOVED: "🗑️",
        Status.FAILED: "❌",
    }
    lines = [f"### {title}", "", f"**{totals(outcomes)}**", ""]
    if outcomes:
        lines += ["| deployment | pipeline | result | time | detail |", "|---|---|---|---|---|"]
    for outcome in outcomes:
        cells = [
            f"`{outcome.deployment}`",
            outcome.pipeline,
            f"{icon[outcome.status]} {outcome.status.value}",
            f"{outcome.seconds:.1f}s",
            _escape(outcome.detail),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    return [
        [
            outcome.deployment,
            outcome.pipeline,
            outcome.status.value.upper()
            if outcome.status is Status.FAILED
            else outcome.status.value,
            f"{outcome.seconds:.1f}s",
            outcome.detail,
        ]
        for outcome in outcomes
    ]


def _append(path: Path, text: str, reporter: Reporter) -> None:
    try:
        with path.open("a", encoding="utf-8") as summary:
            summary.write(text + "\n")
    except OSError as error:
        reporter.error(f"cannot write the job summary to {path}: {error.strerror}")


def _mask(text: str, reporter: Reporter) -> str:
    """Hide the reporter's secrets in text that is written straight to a file."""
    for secret in reporter.secrets:
        text = text.replace(secret, "***")
    return text


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
