"""What must never be committed: debugger calls, secrets, unignored .env files, huge files."""

from __future__ import annotations

import ast
import os
import subprocess
from collections.abc import Iterator, Sequence

from pipeline_tools.checks.core import Check, Context, Finding, define
from pipeline_tools.checks.tools import json_output, run_tool, summarized
from pipeline_tools.commands import clean_environ

DEBUGGER = define("HYG001", "a breakpoint() call or a debugger import (pdb, ipdb, pudb) is left")
ENV_FILE = define("HYG002", "a .env file is not ignored by git, so it can be committed")
LARGE = define("HYG003", "a file is larger than the max_file_kb setting", line_silence=False)
SECRETS = define(
    "SECRETS-*",
    "detect-secrets: a private key, token or password (`# pragma: allowlist secret` works too)",
)

DEBUGGERS = frozenset({"pdb", "ipdb", "pudb", "pdbpp", "wdb", "debugpy"})
TEMPLATE_ENV_FILES = frozenset({".env.example", ".env.sample", ".env.template"})


def check(context: Context) -> Iterator[Finding]:
    """The repository-specific rules, over the files under check."""
    files = context.scoped_files()
    for relative in files:
        if relative.endswith(".py"):
            yield from _debuggers(context, relative)
    yield from _env_files(context, files)
    yield from _large_files(context, files)


def _debuggers(context: Context, relative: str) -> Iterator[Finding]:
    text = context.sources.text(relative)
    if not text or ("breakpoint" not in text and "pdb" not in text and "set_trace" not in text):
        return
    try:
        tree = ast.parse(text, filename=relative)
    except (SyntaxError, ValueError, RecursionError):
        return  # ruff reports the syntax error; templates are not Python until rendered
    pipeline = context.owner(relative)
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt | ast.expr) and (what := _debugger(node)):
            message = f"{what} left in the code; remove it before committing"
            yield DEBUGGER.at(
                relative, node.lineno, message, column=node.col_offset + 1, pipeline=pipeline
            )


def _debugger(node: ast.stmt | ast.expr) -> str:
    if isinstance(node, ast.Import):
        names = [alias.name.split(".")[0] for alias in node.names]
        return next((f"import {name}" for name in names if name in DEBUGGERS), "")
    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in DEBUGGERS:
        return f"from {node.module} import"
    if isinstance(node, ast.Call):
        function = node.func
        if isinstance(function, ast.Name) and function.id == "breakpoint":
            return "breakpoint()"
        if isinstance(function, ast.Attribute) and function.attr in {"set_trace", "post_mortem"}:
            return f"{ast.unparse(function)}()"
    return ""


def _env_files(context: Context, files: Sequence[str]) -> Iterator[Finding]:
    for relative in files:
        name = relative.rsplit("/", 1)[-1]
        if (name == ".env" or name.startswith(".env.")) and name not in TEMPLATE_ENV_FILES:
            where = "git does not ignore it" if context.sources.in_git() else "nothing ignores it"
            message = f"{relative} holds environment values and {where}; add .env to .gitignore"
            yield ENV_FILE.at(relative, 1, message, pipeline=context.owner(relative))
    yield from _unignored_probes(context)


def _unignored_probes(context: Context) -> Iterator[Finding]:
    """A .env that does not exist yet, in each folder under check, would be ignored."""
    if not context.sources.in_git():
        return
    probes = [f"{context.folder(pipeline)}/.env" for pipeline in context.pipelines]
    probes += [".env"] if context.whole else []
    completed = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin", "-z"],
        cwd=context.settings.root,
        env=clean_environ(),
        input="\0".join(probes).encode(),
        capture_output=True,
        check=False,
    )
    ignored = set(completed.stdout.decode("utf-8", "surrogateescape").split("\0"))
    for probe in probes:
        if probe not in ignored and completed.returncode in (0, 1):
            message = f"a {probe} would not be ignored by git; add .env and .env.* to .gitignore"
            yield ENV_FILE.at(".gitignore", 1, message, pipeline=context.owner(probe))


def _large_files(context: Context, files: Sequence[str]) -> Iterator[Finding]:
    limit = context.settings.max_file_kb * 1024
    for relative in files:
        try:
            size = os.lstat(context.settings.root / relative).st_size
        except OSError:
            continue
        if size > limit:
            message = (
                f"{relative} has {size // 1024} KB, more than max_file_kb = "
                f"{context.settings.max_file_kb}; keep data out of git (object storage, a URL)"
            )
            yield LARGE.at(relative, 1, message, pipeline=context.owner(relative))


def secrets(context: Context) -> Iterator[Finding]:
    """detect-secrets over every file under check, in one run (it spreads the files over the
    processors itself), without network calls."""
    files = [name for name in context.scoped_files() if (context.settings.root / name).is_file()]
    if files:
        yield from _scan(context, files)


def _scan(context: Context, files: Sequence[str]) -> Iterator[Finding]:
    excluded = [f"--exclude-lines={line}" for line in context.settings.secret_scan_exclude_lines]
    argv = ["detect-secrets", "scan", "--no-verify", "--all-files", *excluded]
    result = run_tool(context, [*argv, *files], shown=summarized(argv, files))
    data, failed = json_output("detect-secrets", result)
    if failed is not None:
        yield failed
        return
    results = data.get("results", {}) if isinstance(data, dict) else {}
    for path, items in sorted(results.items()):
        for item in items if isinstance(items, list) else []:
            yield _secret(context, str(path), item)


def _secret(context: Context, path: str, item: dict[str, object]) -> Finding:
    kind = str(item.get("type", "secret"))
    line = item.get("line_number")
    message = (
        f"possible {kind} in a tracked file; remove it and rotate it, or mark a false "
        "positive with a `# pragma: allowlist secret` comment on its line"
    )
    return SECRETS.at(
        path,
        line if isinstance(line, int) else 1,
        message,
        pipeline=context.owner(path),
        code="".join(word[:1].upper() + word[1:] for word in kind.split() if word.isalnum()),
    )


CHECK = Check("hygiene", check)
SECRETS_CHECK = Check("detect-secrets", secrets, tool="detect-secrets")
