"""Read each file the checks need once, into typed objects, remembering where things are.

`Sources` is the parser side of the checks: it caches what it reads, so every rule family
asks it for a pipeline's prefect.yaml, flows, Dockerfile or pyproject without reading or
parsing a file twice. Nothing here imports pipeline code.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from pipeline_tools import flowsource, prefectyaml
from pipeline_tools.commands import clean_environ
from pipeline_tools.errors import ConfigError
from pipeline_tools.flowsource import FlowFunction
from pipeline_tools.prefectyaml import PrefectFile
from pipeline_tools.workspace import Pipeline

# Folders never walked when the repository is not a git checkout.
UNTRACKED_FOLDERS = frozenset(
    {".git", ".venv", ".state", ".nox", "__pycache__", ".mypy_cache", ".ruff_cache"}
    | {".pytest_cache", "node_modules", "build", "dist"}
)
PIPELINE_TABLE = "pipeline-tools"
PIPELINE_KEYS = ("environments", "variants", "scheduled_environments", "ignore")
COPY_FLAGS = re.compile(r"^--(from|chown|chmod|link|parents|exclude|checksum|keep-git-dir)\b")


@dataclass(frozen=True)
class Problem:
    """A file that could not be read or parsed, and where."""

    line: int
    column: int
    message: str


@dataclass(frozen=True)
class Ignore:
    """One `ignore = [{ rule = ..., reason = ... }]` entry of a pipeline's settings table."""

    rule: str
    reason: str
    line: int


@dataclass(frozen=True)
class PipelineConfig:
    """A pipeline's own `[tool.pipeline-tools]` table: what it declares differently."""

    environments: tuple[str, ...] | None = None
    variants: tuple[str, ...] = ()
    scheduled_environments: tuple[str, ...] = ()
    ignores: tuple[Ignore, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class ProjectFile:
    """What the checks read from a pipeline's pyproject.toml, with the lines of the keys."""

    path: str
    name: str | None
    name_line: int
    build_backend: str | None
    packages: tuple[str, ...] | None
    package_dir: Mapping[str, str] | None
    setuptools_line: int
    config: PipelineConfig


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined, at the line it starts on."""

    keyword: str
    value: str
    line: int


@dataclass(frozen=True)
class FlowSource:
    """The `@flow` functions of one Python file, or why it could not be read."""

    flows: Mapping[str, FlowFunction]
    problem: Problem | None


@dataclass(frozen=True)
class PrefectSource:
    """A parsed prefect.yaml, or why it could not be read."""

    file: PrefectFile | None
    problem: Problem | None


class Sources:
    """Reads and parses files relative to the repository root, each at most once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._texts: dict[str, str | None] = {}
        self._flows: dict[str, FlowSource] = {}
        self._prefect: dict[str, PrefectSource] = {}
        self._projects: dict[str, ProjectFile] = {}
        self._dockerfiles: dict[str, tuple[Instruction, ...] | None] = {}
        self._files: tuple[tuple[str, ...], bool] | None = None

    def relative(self, path: Path) -> str:
        """`path` relative to the root, with forward slashes."""
        return path.relative_to(self.root).as_posix()

    def text(self, relative: str) -> str | None:
        """The text of a file, or None when it is missing or not UTF-8 text."""
        if relative not in self._texts:
            try:
                self._texts[relative] = (self.root / relative).read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                self._texts[relative] = None
        return self._texts[relative]

    def read_texts(self) -> Mapping[str, str | None]:
        """Every text read so far, by path."""
        return dict(self._texts)

    def files(self) -> tuple[str, ...]:
        """Files git tracks or would track (the walk of the tree outside a git checkout)."""
        return self._listing()[0]

    def in_git(self) -> bool:
        """Whether the root is inside a git checkout."""
        return self._listing()[1]

    def flows(self, relative: str) -> FlowSource:
        """The `@flow` functions of a Python file, read from its source."""
        if relative not in self._flows:
            self._flows[relative] = self._read_flows(relative)
        return self._flows[relative]

    def prefect(self, pipeline: Pipeline) -> PrefectSource:
        """The pipeline's prefect.yaml."""
        relative = self.relative(pipeline.prefect_yaml)
        if relative not in self._prefect:
            self._prefect[relative] = self._read_prefect(pipeline.prefect_yaml)
        return self._prefect[relative]

    def project(self, pipeline: Pipeline) -> ProjectFile:
        """The pipeline's pyproject.toml (discovery has already proved it parses)."""
        relative = self.relative(pipeline.path / "pyproject.toml")
        if relative not in self._projects:
            self._projects[relative] = read_project(relative, self.text(relative) or "")
        return self._projects[relative]

    def dockerfile(self, pipeline: Pipeline) -> tuple[Instruction, ...] | None:
        """The instructions of the pipeline's Dockerfile, or None when it has none."""
        relative = self.relative(pipeline.dockerfile)
        if relative not in self._dockerfiles:
            text = self.text(relative)
            self._dockerfiles[relative] = None if text is None else parse_dockerfile(text)
        return self._dockerfiles[relative]

    def _listing(self) -> tuple[tuple[str, ...], bool]:
        if self._files is None:
            listed = _git_files(self.root)
            self._files = (listed, True) if listed is not None else (_walk(self.root), False)
        return self._files

    def _read_flows(self, relative: str) -> FlowSource:
        path = self.root / relative
        if not path.is_file():
            return FlowSource({}, Problem(1, 1, f"{relative} does not exist"))
        try:
            return FlowSource(flowsource.read_flows(path), None)
        except (ConfigError, ValueError, RecursionError, UnicodeDecodeError):
            return FlowSource({}, _python_problem(self.text(relative), relative))

    def _read_prefect(self, path: Path) -> PrefectSource:
        if not path.is_file():
            return PrefectSource(None, Problem(1, 1, "prefect.yaml does not exist"))
        try:
            return PrefectSource(prefectyaml.load(path), None)
        except (ConfigError, UnicodeDecodeError, RecursionError):
            return PrefectSource(None, _yaml_problem(self.text(self.relative(path))))


def _git_files(root: Path) -> tuple[str, ...] | None:
    try:
        completed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            env=clean_environ(),
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if completed.returncode != 0:
        return None
    names = completed.stdout.decode("utf-8", "surrogateescape").split("\0")
    return tuple(sorted({name for name in names if name}))


def _walk(root: Path) -> tuple[str, ...]:
    found: list[str] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in UNTRACKED_FOLDERS]
        base = Path(folder).relative_to(root)
        found.extend((base / name).as_posix() for name in names)
    return tuple(sorted(found))


def _python_problem(text: str | None, relative: str) -> Problem:
    if text is None:
        return Problem(1, 1, "the file is not UTF-8 text")
    try:
        ast.parse(text, filename=relative)
    except SyntaxError as error:
        return Problem(error.lineno or 1, error.offset or 1, f"Python syntax error: {error.msg}")
    except (ValueError, RecursionError):
        pass
    return Problem(1, 1, "the file cannot be read as Python source (null bytes or deep nesting)")


def _yaml_problem(text: str | None) -> Problem:
    if text is None:
        return Problem(1, 1, "prefect.yaml is not UTF-8 text; save it as UTF-8")
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        context = error.context_mark
        started = (
            f" ({error.context} at line {context.line + 1})"
            if error.context and context and context.line + 1 != line
            else ""
        )
        return Problem(line, column, f"invalid YAML: {error.problem or error.context}{started}")
    except yaml.YAMLError as error:
        return Problem(1, 1, f"invalid YAML: {error}")
    except RecursionError:
        pass
    return Problem(1, 1, "prefect.yaml is nested too deeply to be read")


def toml_line(lines: Sequence[str], table: str, key: str | None = None) -> int:
    """The line of `key` in `[table]` (of the table header when key is None), or 1."""
    current = ""
    key_pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=") if key else None
    for number, line in enumerate(lines, start=1):
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", line)
        if header:
            current = header.group(1).replace('"', "").replace("'", "")
            if key_pattern is None and current == table:
                return number
        elif key_pattern is not None and current == table and key_pattern.match(line):
            return number
    return 1


def read_project(relative: str, text: str) -> ProjectFile:
    """Parse a pipeline's pyproject.toml into what the checks compare."""
    document = tomllib.loads(text)
    lines = text.splitlines()
    project = _table(document.get("project"))
    tool = _table(document.get("tool"))
    setuptools = _table(tool.get("setuptools"))
    packages = setuptools.get("packages")
    package_dir = setuptools.get("package-dir")
    name = project.get("name")
    return ProjectFile(
        path=relative,
        name=name if isinstance(name, str) else None,
        name_line=toml_line(lines, "project", "name"),
        build_backend=_text(_table(document.get("build-system")).get("build-backend")),
        packages=tuple(str(item) for item in packages) if isinstance(packages, list) else None,
        package_dir=(
            {str(k): str(v) for k, v in package_dir.items()}
            if isinstance(package_dir, dict)
            else None
        ),
        setuptools_line=toml_line(lines, "tool.setuptools"),
        config=_pipeline_config(_table(tool.get(PIPELINE_TABLE)), lines),
    )


def _pipeline_config(table: Mapping[str, Any], lines: Sequence[str]) -> PipelineConfig:
    values = {key.replace("-", "_"): value for key, value in table.items()}
    problems = [
        _config_problem(lines, key, f"unknown key '{key}'", PIPELINE_KEYS)
        for key in table
        if key.replace("-", "_") not in PIPELINE_KEYS
    ]
    lists = {}
    for key in ("environments", "variants", "scheduled_environments"):
        value = values.get(key)
        if value is not None and not _is_text_list(value):
            problems.append(_config_problem(lines, key, f"'{key}' must be a list of strings"))
        lists[key] = tuple(value) if _is_text_list(value) else None
    ignores, ignore_problems = _ignores(values.get("ignore"), lines)
    return PipelineConfig(
        environments=lists["environments"],
        variants=lists["variants"] or (),
        scheduled_environments=lists["scheduled_environments"] or (),
        ignores=ignores,
        problems=(*problems, *ignore_problems),
    )


def _ignores(value: Any, lines: Sequence[str]) -> tuple[tuple[Ignore, ...], list[Problem]]:
    if value is None:
        return (), []
    if not isinstance(value, list):
        return (), [_config_problem(lines, "ignore", "'ignore' must be a list of tables")]
    ignores, problems = [], []
    for entry in value:
        rule = entry.get("rule") if isinstance(entry, dict) else None
        if not isinstance(rule, str) or not rule:
            problems.append(
                _config_problem(lines, "ignore", "every 'ignore' entry needs a rule = \"ID\"")
            )
            continue
        reason = entry.get("reason")
        line = _line_mentioning(lines, f'"{rule}"', toml_line(lines, f"tool.{PIPELINE_TABLE}"))
        ignores.append(Ignore(rule, reason.strip() if isinstance(reason, str) else "", line))
    return tuple(ignores), problems


def _config_problem(
    lines: Sequence[str], key: str, what: str, known: Sequence[str] = ()
) -> Problem:
    line = toml_line(lines, f"tool.{PIPELINE_TABLE}", key)
    if line == 1:
        line = toml_line(lines, f"tool.{PIPELINE_TABLE}", key.replace("_", "-"))
    hint = f"; known keys: {', '.join(k.replace('_', '-') for k in known)}" if known else ""
    return Problem(line, 1, f"[tool.{PIPELINE_TABLE}] {what}{hint}")


def _line_mentioning(lines: Sequence[str], needle: str, start: int) -> int:
    for number in range(start, len(lines) + 1):
        if needle in lines[number - 1]:
            return number
    return start


def _is_text_list(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _table(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_dockerfile(text: str) -> tuple[Instruction, ...]:
    """Instructions with continuation lines joined; comment lines inside them dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        pending.append(stripped[:-1].strip() if stripped.endswith("\\") else stripped)
        if not stripped.endswith("\\"):
            instructions.append(_instruction(" ".join(pending), start))
            pending = []
    if pending:
        instructions.append(_instruction(" ".join(pending), start))
    return tuple(instructions)


def _instruction(joined: str, line: int) -> Instruction:
    keyword, _, value = joined.partition(" ")
    return Instruction(keyword.upper(), value.strip(), line)


def words(value: str) -> list[str]:
    """Shell-like words of an instruction's value; plain whitespace split when quotes are odd."""
    try:
        return shlex.split(value, comments=False, posix=True)
    except ValueError:
        return value.split()


def copy_arguments(instruction: Instruction) -> tuple[list[str], str, bool]:
    """(sources, destination, from another stage) of a COPY or ADD instruction."""
    if instruction.value.startswith("["):
        try:
            parts = [str(part) for part in json.loads(instruction.value)]
        except ValueError:
            parts = words(instruction.value)
        flags: list[str] = []
    else:
        tokens = words(instruction.value)
        flags = [token for token in tokens if COPY_FLAGS.match(token)]
        parts = [token for token in tokens if not COPY_FLAGS.match(token)]
    from_stage = any(flag.startswith("--from") for flag in flags)
    if len(parts) < 2:  # noqa: PLR2004 - a source and a destination
        return parts, "", from_stage
    return parts[:-1], parts[-1], from_stage


def shell_commands(value: str) -> list[list[str]]:
    """The simple commands of a RUN value, split at `&&`, `||`, `;` and `|`."""
    commands: list[list[str]] = [[]]
    for token in words(value.replace(";", " ; ")):
        if token in {"&&", "||", ";", "|"}:
            commands.append([])
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


def uv_sync_options(command: Sequence[str]) -> list[str] | None:
    """The options after `uv sync` in one simple command, or None when it is not one."""
    for index in range(len(command) - 1):
        if command[index].rsplit("/", 1)[-1] == "uv" and command[index + 1] == "sync":
            return list(command[index + 2 :])
    return None


def option_value(options: Sequence[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` among command options."""
    for index, option in enumerate(options):
        if option == name and index + 1 < len(options):
            return options[index + 1]
        if option.startswith(name + "="):
            return option.split("=", 1)[1]
    return None
