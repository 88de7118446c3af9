"""The checks step: findings (file:line, rule, message) for some pipelines or the whole repo.

`run_checks` is the one entry point. Repository-specific checks run in this process and read
each file once (`Sources`); the external linters run as one process each, over every file
they accept, while the repository-specific checks run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from pipeline_tools.checks import (
    dependencies,
    dockerfile,
    environments,
    hygiene,
    parameters,
    prefect_file,
    silences,
    style,
    workflows,
)
from pipeline_tools.checks import names as naming
from pipeline_tools.checks.core import RULES, Check, Context, Finding, Rule, Severity
from pipeline_tools.checks.sources import Sources
from pipeline_tools.reporter import Reporter
from pipeline_tools.workspace import Workspace

__all__ = ["CHECKS", "RULES", "TOOL_CHECKS", "Finding", "Rule", "Severity", "run_checks"]

CHECKS: tuple[Check, ...] = (
    prefect_file.CHECK,
    environments.CHECK,
    naming.CHECK,
    parameters.CHECK,
    dockerfile.CHECK,
    hygiene.CHECK,
)
TOOL_CHECKS: tuple[Check, ...] = (
    style.LINT_CHECK,
    style.FORMAT_CHECK,
    dependencies.DEPTRY_CHECK,
    dependencies.LOCK_CHECK,
    dockerfile.HADOLINT_CHECK,
    hygiene.SECRETS_CHECK,
    workflows.ACTIONLINT_CHECK,
    workflows.ZIZMOR_CHECK,
)
TOOLS = tuple(check.tool for check in TOOL_CHECKS if check.tool)


def run_checks(
    workspace: Workspace,
    names: Sequence[str] = (),
    *,
    tools: Collection[str] | None = None,
    builtin: bool = True,
    reporter: Reporter | None = None,
) -> list[Finding]:
    """Findings for the named pipelines (every pipeline and the repository when none is named),
    silenced ones removed, sorted by pipeline, file and line.

    `tools` picks the external linters to run (all by default, none with an empty list);
    `builtin=False` skips the repository-specific checks.
    """
    context = Context(
        workspace=workspace,
        pipelines=tuple(workspace.select(names)),
        whole=not names,
        sources=Sources(workspace.settings.root),
        reporter=reporter or Reporter(),
    )
    context.sources.files()  # listed once, before the threads read it
    external = [check for check in TOOL_CHECKS if tools is None or check.tool in tools]
    with ThreadPoolExecutor(max_workers=max(len(external), 1)) as pool:
        running = [pool.submit(_collect, check, context) for check in external]
        findings = [f for check in (CHECKS if builtin else ()) for f in check.run(context)]
        for future in running:
            findings.extend(future.result())
    kept = silences.apply(findings, context)
    return sorted(_unique(kept), key=lambda finding: finding.sort_key)


def _collect(check: Check, context: Context) -> list[Finding]:
    return list(check.run(context))


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
