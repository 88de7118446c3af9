"""Findings, the rules that produce them, and the registry every rule is declared in."""

from __future__ import annotations

import difflib
import enum
import functools
import io
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from pipeline_tools.checks.sources import Sources
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings
from pipeline_tools.workspace import Pipeline, Workspace, normalize

# A silence is a comment `lint: ignore[RULE-ID, ...] reason`, after a hash sign.
SILENCE = re.compile(r"#\s*lint:\s*ignore\[(?P<rules>[^\]]*)\](?P<reason>.*)$")


class Severity(enum.Enum):
    """How much a finding matters: an error fails the session, a warning does not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem at one place: `path:line:column: RULE message`."""

    rule: str
    severity: Severity
    path: str
    line: int
    column: int
    message: str
    pipeline: str | None = None

    @property
    def sort_key(self) -> tuple[str, str, int, int, str, str]:
        """Pipeline (repository-wide findings last), file, position, rule, message."""
        group = self.pipeline if self.pipeline is not None else "\uffff"
        return (group, self.path, self.line, self.column, self.rule, self.message)


@dataclass(frozen=True)
class Rule:
    """A stable id, what it finds in one line, and how a finding of it may be silenced.

    A rule whose id ends in `-*` stands for every code of an external tool: its findings
    are `PREFIX-CODE`, e.g. `RUFF-E501` for the rule `RUFF-*`.
    """

    id: str
    summary: str
    severity: Severity = Severity.ERROR
    line_silence: bool = True
    pipeline_silence: bool = True

    @property
    def prefix(self) -> str | None:
        """`RUFF-` for the rule `RUFF-*`; None for a rule with a single id."""
        return self.id[:-1] if self.id.endswith("-*") else None

    def at(
        self,
        path: str,
        line: int,
        message: str,
        *,
        column: int = 1,
        pipeline: str | None = None,
        code: str = "",
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this rule; `code` completes the id of a tool rule (`RUFF-` + code)."""
        return Finding(
            rule=f"{self.prefix}{code}" if self.prefix else self.id,
            severity=severity or self.severity,
            path=path,
            line=max(line, 1),
            column=max(column, 1),
            message=message,
            pipeline=pipeline,
        )


RULES: dict[str, Rule] = {}


def define(
    rule_id: str,
    summary: str,
    *,
    severity: Severity = Severity.ERROR,
    line_silence: bool = True,
    pipeline_silence: bool = True,
) -> Rule:
    """Declare a rule once, at import time of its family's module."""
    if rule_id in RULES:
        raise ValueError(f"rule {rule_id} is declared twice")
    rule = Rule(rule_id, summary, severity, line_silence, pipeline_silence)
    RULES[rule_id] = rule
    return rule


def rule_of(finding_rule: str) -> Rule | None:
    """The declared rule behind a finding's id (`RUFF-E501` -> the rule `RUFF-*`)."""
    if finding_rule in RULES:
        return RULES[finding_rule]
    prefix, dash, code = finding_rule.partition("-")
    return RULES.get(f"{prefix}-*") if dash and code else None


def deployment_base(pipeline: str) -> str:
    """`rj-smtr--gps-onibus` for `rj_smtr__gps_onibus`: the stem of its deployment names."""
    return pipeline.replace("_", "-")


def column_of(text: str, needle: str) -> int:
    """The 1-based column of `needle` in one line of text, or 1 when it is not there."""
    index = text.find(needle)
    return index + 1 if index >= 0 else 1


def suggest(key: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest known key, or the list of known keys."""
    choices = sorted(known)
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; known keys: {', '.join(choices)}"


def key_path(path: Iterable[str | int]) -> str:
    """`deployments[0].schedules[1].cron` for a path of keys and list indexes."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def count(findings: Iterable[Finding]) -> Mapping[Severity, int]:
    """How many findings of each severity."""
    totals = dict.fromkeys(Severity, 0)
    for finding in findings:
        totals[finding.severity] += 1
    return totals


def silence_comments(
    text: str, *, python: bool = False
) -> Iterator[tuple[int, str, tuple[str, ...], str]]:
    """Every silence comment of a file: (line, line text, rule ids, reason).

    In Python only real comments count, not strings that show the syntax.
    """
    if "lint:" not in text:
        return
    lines = text.splitlines()
    for number, comment in _python_comments(text) if python else enumerate(lines, start=1):
        match = SILENCE.search(comment)
        if match:
            rules = tuple(part.strip() for part in match["rules"].split(",") if part.strip())
            yield number, lines[number - 1], rules, match["reason"].strip()


def _python_comments(text: str) -> list[tuple[int, str]]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return list(enumerate(text.splitlines(), start=1))
    return [(token.start[0], token.string) for token in tokens if token.type == tokenize.COMMENT]


@dataclass(frozen=True)
class Place:
    """A file that findings point into, with its lines for the columns."""

    path: str
    pipeline: str | None
    lines: tuple[str, ...]

    def at(
        self,
        rule: Rule,
        line: int,
        message: str,
        *,
        needle: str = "",
        code: str = "",
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of `rule` at `line`, its column where `needle` starts (or the text does)."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        column = column_of(text, needle) if needle else len(text) - len(text.lstrip()) + 1
        return rule.at(
            self.path,
            line,
            message,
            column=column,
            pipeline=self.pipeline,
            code=code,
            severity=severity,
        )


@dataclass(frozen=True)
class Context:
    """What every check reads: the workspace, the pipelines under check and their sources."""

    workspace: Workspace
    pipelines: tuple[Pipeline, ...]
    whole: bool
    sources: Sources
    reporter: Reporter

    @property
    def settings(self) -> Settings:
        """The repository's settings."""
        return self.workspace.settings

    def folder(self, pipeline: Pipeline) -> str:
        """`pipelines/<name>`: the pipeline's folder relative to the root."""
        return self.sources.relative(pipeline.path)

    def place(self, pipeline: Pipeline | None, relative: str) -> Place:
        """A file of `pipeline` (or of the repository) that findings point into."""
        text = self.sources.text(relative) or ""
        return Place(relative, pipeline.name if pipeline else None, tuple(text.splitlines()))

    def owner(self, relative: str) -> str | None:
        """The name of the pipeline whose folder holds the file, if any."""
        prefix = self.settings.pipelines_dir.strip("/") + "/"
        if not relative.startswith(prefix):
            return None
        name = relative[len(prefix) :].split("/", 1)[0]
        return name if name in self._every_name else None

    def in_scope(self, relative: str) -> bool:
        """Whether a file is under check (any file of the repository, or of a named pipeline)."""
        return self.whole or self.owner(relative) in self._checked_names

    @functools.cached_property
    def _every_name(self) -> frozenset[str]:
        return frozenset(self.workspace.names)

    @functools.cached_property
    def _checked_names(self) -> frozenset[str]:
        return frozenset(pipeline.name for pipeline in self.pipelines)

    @functools.cached_property
    def project_folders(self) -> Mapping[str, str]:
        """The folder of every pipeline, by its normalized project name."""
        return {normalize(p.project_name): self.folder(p) for p in self.workspace.pipelines}

    def scoped_files(self) -> list[str]:
        """The repository's files that are under check."""
        return [name for name in self.sources.files() if self.in_scope(name)]


@dataclass(frozen=True)
class Check:
    """One family of rules: a function from the context to findings.

    `tool` names the external program the check runs; checks without one are the
    repository-specific checks, run in this process.
    """

    name: str
    run: Callable[[Context], Iterable[Finding]]
    tool: str | None = None


SILENCE_WITHOUT_REASON = define(
    "LINT001",
    "a silence (comment or pipeline `ignore` entry) gives no reason",
    line_silence=False,
    pipeline_silence=False,
)
UNKNOWN_SILENCED_RULE = define(
    "LINT002",
    "a silence names a rule id that does not exist",
    line_silence=False,
    pipeline_silence=False,
)
TOOL_FAILED = define(
    "LINT003",
    "an external linter is missing or failed, so its rules were not checked",
    line_silence=False,
    pipeline_silence=False,
)
BAD_PIPELINE_TABLE = define(
    "LINT004",
    "a pipeline's [tool.pipeline-tools] table has an unknown key or a value of the wrong type",
    line_silence=False,
    pipeline_silence=False,
)
