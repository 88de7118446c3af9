"""Silencing a finding, always with a reason.

- One line: a comment `# lint: ignore[RULE-ID] reason` at the end of the line, or alone on
  the line above it (Dockerfiles and continued lines take only the latter).
- One pipeline: `ignore = [{ rule = "RULE-ID", reason = "..." }]` in the `[tool.pipeline-tools]`
  table of the pipeline's pyproject.toml.

A silence without a reason silences nothing and is itself a finding (LINT001).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pipeline_tools.checks.core import (
    BAD_PIPELINE_TABLE,
    SILENCE_WITHOUT_REASON,
    UNKNOWN_SILENCED_RULE,
    Context,
    Finding,
    rule_of,
    silence_comments,
)
from pipeline_tools.checks.sources import Ignore

LINE_HOW = "# lint: ignore[ID] reason (on the line, or alone above it)"
PIPELINE_HOW = '[tool.pipeline-tools] ignore = [{ rule = "ID", reason = "..." }]'


@dataclass(frozen=True)
class LineSilence:
    """A silence comment and the lines it covers."""

    path: str
    line: int
    covers: tuple[int, ...]
    rules: tuple[str, ...]
    reason: str
    pipeline: str | None


def apply(findings: Sequence[Finding], context: Context) -> list[Finding]:
    """The findings no valid silence covers, plus the findings about the silences themselves."""
    comments = _comments(context, {finding.path for finding in findings})
    covering: dict[tuple[str, int], list[LineSilence]] = {}
    for comment in comments:
        for line in comment.covers:
            covering.setdefault((comment.path, line), []).append(comment)
    ignores = {p.name: context.sources.project(p).config.ignores for p in context.pipelines}
    kept = [f for f in findings if not _silenced(f, covering, ignores)]
    return [*kept, *_comment_problems(comments), *_ignore_problems(context, ignores)]


def _silenced(
    finding: Finding,
    covering: Mapping[tuple[str, int], list[LineSilence]],
    ignores: Mapping[str, tuple[Ignore, ...]],
) -> bool:
    rule = rule_of(finding.rule)
    if rule is None:
        return False
    if rule.line_silence and any(
        finding.rule in comment.rules and comment.reason
        for comment in covering.get((finding.path, finding.line), [])
    ):
        return True
    return bool(
        rule.pipeline_silence
        and finding.pipeline is not None
        and any(i.rule == finding.rule and i.reason for i in ignores.get(finding.pipeline, ()))
    )


def _comments(context: Context, paths: Iterable[str]) -> list[LineSilence]:
    """Silence comments in the files findings point into and the files the checks read."""
    comments = []
    for path in sorted({*paths, *context.sources.read_texts()}):
        text = context.sources.text(path) if context.in_scope(path) else None
        if not text or "lint:" not in text:
            continue
        lines = text.splitlines()
        for number, line, rules, reason in silence_comments(text, python=path.endswith(".py")):
            covers = (number, _next_code_line(lines, number)) if _alone(line) else (number,)
            comments.append(LineSilence(path, number, covers, rules, reason, context.owner(path)))
    return comments


def _alone(line: str) -> bool:
    return line.lstrip().startswith("#")


def _next_code_line(lines: Sequence[str], number: int) -> int:
    for index in range(number, len(lines)):
        stripped = lines[index].strip()
        if stripped and not stripped.startswith("#"):
            return index + 1
    return number


def _comment_problems(comments: Iterable[LineSilence]) -> Iterator[Finding]:
    for comment in comments:
        where = (comment.path, comment.line)
        if not comment.reason:
            message = (
                f"this silence of {', '.join(comment.rules) or 'no rule'} gives no reason, so "
                "it silences nothing; write why after the bracket: "
                f"# lint: ignore[{','.join(comment.rules) or 'ID'}] <reason>"
            )
            yield SILENCE_WITHOUT_REASON.at(*where, message, pipeline=comment.pipeline)
        for rule_id in comment.rules:
            problem = _rule_problem(rule_id, line=True)
            if problem:
                yield UNKNOWN_SILENCED_RULE.at(*where, problem, pipeline=comment.pipeline)


def _ignore_problems(
    context: Context, ignores: Mapping[str, tuple[Ignore, ...]]
) -> Iterator[Finding]:
    for pipeline in context.pipelines:
        project = context.sources.project(pipeline)
        for problem in project.config.problems:
            yield BAD_PIPELINE_TABLE.at(
                project.path, problem.line, problem.message, pipeline=pipeline.name
            )
        for ignore in ignores.get(pipeline.name, ()):
            if not ignore.reason:
                message = (
                    f"the ignore entry of {ignore.rule} gives no reason, so it silences "
                    f'nothing; add reason = "..." to it'
                )
                yield SILENCE_WITHOUT_REASON.at(
                    project.path, ignore.line, message, pipeline=pipeline.name
                )
            unusable = _rule_problem(ignore.rule, line=False)
            if unusable:
                yield UNKNOWN_SILENCED_RULE.at(
                    project.path, ignore.line, unusable, pipeline=pipeline.name
                )


def _rule_problem(rule_id: str, *, line: bool) -> str:
    rule = rule_of(rule_id)
    if rule is None or (rule_id == rule.id and rule.prefix):
        return f"{rule_id} is not a rule id; nox -s lint -- --rules lists them"
    if line and not rule.line_silence:
        return f"{rule_id} cannot be silenced on a line; use the pipeline's ignore list"
    if not line and not rule.pipeline_silence:
        return f"{rule_id} cannot be silenced for a pipeline; fix what it reports"
    return ""
