"""The lint session: pick the pipelines, run the checks, print the findings, exit 1 on errors.

nox -s lint -- [pipeline ...] [--format text|json|github] [--no-external] [--rules]
"""

from __future__ import annotations

import difflib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from pipeline_tools.checks import RULES, TOOLS, Finding, Rule, Severity, run_checks
from pipeline_tools.checks.core import count
from pipeline_tools.checks.silences import LINE_HOW, PIPELINE_HOW
from pipeline_tools.errors import ExitCode, ToolError
from pipeline_tools.reporter import Reporter
from pipeline_tools.workspace import Workspace

FORMATS = ("text", "json", "github")
# A file name may hold a newline; a finding stays on one line.
CONTROL_CHARACTERS = {code: f"\\x{code:02x}" for code in (*range(32), 127)}
FLAGS = {"--no-external": "no-external", "--rules": "rules", "--help": "help", "-h": "help"}
OPTIONS = ("--format", *FLAGS)
USAGE = "usage: nox -s lint -- [pipeline ...] [--format text|json|github] [--no-external] [--rules]"


@dataclass(frozen=True)
class Options:
    """What the session was asked for."""

    names: tuple[str, ...] = ()
    output: str = "text"
    external: bool = True
    rules: bool = False
    help: bool = False


def main(
    workspace: Workspace,
    arguments: Sequence[str],
    reporter: Reporter,
    environ: Mapping[str, str] | None = None,
) -> ExitCode:
    """Lint the named pipelines (all, and the repository, when none is named)."""
    environ = os.environ if environ is None else environ
    options = parse_arguments(arguments)
    if options.help:
        _usage(reporter)
        return ExitCode.OK
    if options.rules:
        _rules(reporter)
        return ExitCode.OK
    progress = Reporter(out=reporter.err, err=reporter.err, secrets=reporter.secrets)
    started = time.monotonic()
    tools = None if options.external else ()
    findings = run_checks(workspace, options.names, tools=tools, reporter=progress)
    checked = len(workspace.select(options.names))
    summary = _summary(findings, checked, time.monotonic() - started, options.external)
    _write(reporter, findings, summary, options.output, environ)
    _job_summary(findings, summary, environ)
    failed = any(finding.severity is Severity.ERROR for finding in findings)
    return ExitCode.FAILED if failed else ExitCode.OK


def parse_arguments(arguments: Sequence[str]) -> Options:
    """Pipeline names and options; an unknown option is one sentence naming the closest."""
    names: list[str] = []
    flags: set[str] = set()
    output = "text"
    words = list(arguments)
    while words:
        word = words.pop(0)
        option, equals, value = word.partition("=")
        if not word.startswith("-"):
            names.append(word)
        elif option == "--format":
            output = _format(value if equals else (words.pop(0) if words else ""))
        elif word in FLAGS:
            flags.add(FLAGS[word])
        else:
            close = difflib.get_close_matches(option, OPTIONS, n=1)
            hint = f"did you mean {close[0]}?" if close else USAGE
            raise ToolError(f"unknown option {word!r} for the lint session; {hint}")
    return Options(
        names=tuple(names),
        output=output,
        external="no-external" not in flags,
        rules="rules" in flags,
        help="help" in flags,
    )


def _format(value: str) -> str:
    if value not in FORMATS:
        raise ToolError(f"--format takes one of {', '.join(FORMATS)}, not {value!r}")
    return value


def _usage(reporter: Reporter) -> None:
    reporter.info(USAGE)
    reporter.info("  --format      text (default), json, or github (workflow annotations)")
    reporter.info("  --no-external skip the external linters: " + ", ".join(TOOLS))
    reporter.info("  --rules       list every rule, its severity and how to silence it")


def _rules(reporter: Reporter) -> None:
    rows = [
        [rule.id, rule.severity.value, _silence(rule), rule.summary]
        for rule in sorted(RULES.values(), key=lambda rule: rule.id)
    ]
    reporter.table(["rule", "severity", "silence", "description"], rows)
    reporter.info("")
    reporter.info(f"silence a line:     {LINE_HOW}")
    reporter.info(f"silence a pipeline: {PIPELINE_HOW}, in its pyproject.toml")
    reporter.info("a silence without a reason silences nothing and is reported (LINT001)")


def _silence(rule: Rule) -> str:
    ways = [("line", rule.line_silence), ("pipeline", rule.pipeline_silence)]
    return ", ".join(way for way, allowed in ways if allowed) or "no"


@dataclass(frozen=True)
class Summary:
    """The closing count."""

    errors: int
    warnings: int
    pipelines_with_findings: int
    pipelines_checked: int
    seconds: float
    external: bool

    def line(self) -> str:
        """`lint: 2 errors, 1 warning in 1 of 4 pipelines (0.9 s)`."""
        skipped = "; external linters skipped" if not self.external else ""
        timing = f"({self.seconds:.1f} s{skipped})"
        if not self.errors and not self.warnings:
            return f"lint: no findings in {_plural(self.pipelines_checked, 'pipeline')} {timing}"
        counts = f"{_plural(self.errors, 'error')}, {_plural(self.warnings, 'warning')}"
        scope = f"{self.pipelines_with_findings} of {_plural(self.pipelines_checked, 'pipeline')}"
        return f"lint: {counts} in {scope} {timing}"


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _summary(findings: Sequence[Finding], checked: int, seconds: float, external: bool) -> Summary:
    totals = count(findings)
    with_findings = {finding.pipeline for finding in findings if finding.pipeline is not None}
    return Summary(
        errors=totals[Severity.ERROR],
        warnings=totals[Severity.WARNING],
        pipelines_with_findings=len(with_findings),
        pipelines_checked=checked,
        seconds=seconds,
        external=external,
    )


def _write(
    reporter: Reporter,
    findings: Sequence[Finding],
    summary: Summary,
    output: str,
    environ: Mapping[str, str],
) -> None:
    if output == "json":
        reporter.info(json.dumps(_as_json(findings, summary), indent=2))
        return
    if output == "text":
        for group, members in groupby(findings, key=lambda finding: finding.pipeline):
            reporter.info(f"--- {group or 'repository'}".translate(CONTROL_CHARACTERS))
            for finding in members:
                reporter.info(text_line(finding))
    if output == "github" or environ.get("GITHUB_ACTIONS") == "true":
        for finding in findings:
            reporter.info(annotation(finding))
    reporter.info(summary.line())


def text_line(finding: Finding) -> str:
    """`path:line:column: RULE message`, control characters (from file names) escaped."""
    line = f"{finding.path}:{finding.line}:{finding.column}: {finding.rule} {finding.message}"
    return line.translate(CONTROL_CHARACTERS)


def annotation(finding: Finding) -> str:
    """A GitHub Actions workflow command that annotates the file at the finding's line."""
    level = "error" if finding.severity is Severity.ERROR else "warning"
    properties = ",".join(
        f"{key}={_escape(str(value), property_value=True)}"
        for key, value in (
            ("file", finding.path),
            ("line", finding.line),
            ("col", finding.column),
            ("title", finding.rule),
        )
    )
    return f"::{level} {properties}::{_escape(finding.message)}"


def _escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def _as_json(findings: Sequence[Finding], summary: Summary) -> dict[str, object]:
    return {
        "findings": [
            {
                "rule": finding.rule,
                "severity": finding.severity.value,
                "path": finding.path,
                "line": finding.line,
                "column": finding.column,
                "message": finding.message,
                "pipeline": finding.pipeline,
            }
            for finding in findings
        ],
        "errors": summary.errors,
        "warnings": summary.warnings,
        "pipelines_checked": summary.pipelines_checked,
        "external": summary.external,
    }


def _job_summary(findings: Sequence[Finding], summary: Summary, environ: Mapping[str, str]) -> None:
    """Under GitHub Actions, a Markdown table of the findings per pipeline for the job page."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    lines = ["### lint", "", summary.line(), ""]
    if findings:
        lines += ["| pipeline | errors | warnings |", "| --- | ---: | ---: |"]
        for group, members in groupby(findings, key=lambda finding: finding.pipeline):
            totals = count(members)
            name = (group or "repository").replace("|", "\\|")
            lines.append(f"| {name} | {totals[Severity.ERROR]} | {totals[Severity.WARNING]} |")
    try:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    except OSError:
        pass  # the job summary is a convenience; the findings are already printed
