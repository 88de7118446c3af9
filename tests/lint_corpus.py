"""Workspaces for the lint tests, and the corpus of broken inputs each lint rule must catch.

A corpus workspace is a real uv workspace in a git repository: the root pyproject.toml of
this repository, stand-ins for tools/ and src/, and one clean pipeline, `rj_teste__corpus`,
written here (not rendered from the template, so that the expected lines do not move when
the template changes). Each `Case` breaks it in one way and names the rule, file and line
that lint must report.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conftest import ROOT, git

from pipeline_tools import lint
from pipeline_tools.checks import Finding, run_checks
from pipeline_tools.errors import ExitCode
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import Workspace, discover

NAME = "rj_teste__corpus"
FOLDER = f"pipelines/{NAME}"

PREFECT_YAML = f"""\
# Deployments of {NAME}, one per environment.
name: {NAME}
prefect-version: 3.4.0

pull:
  - prefect.deployments.steps.set_working_directory:
      directory: /app

deployments:
  - name: rj-teste--corpus--staging
    entrypoint: {FOLDER}/flow.py:{NAME}
    parameters:
      table: example
    work_pool:
      name: staging-pool
      job_variables:
        image: "{{{{ $PIPELINE_IMAGE }}}}"
    schedules: []

  - name: rj-teste--corpus--prod
    entrypoint: {FOLDER}/flow.py:{NAME}
    parameters:
      table: example
    work_pool:
      name: prod-pool
      job_variables:
        image: "{{{{ $PIPELINE_IMAGE }}}}"
    schedules:
      - cron: "0 3 * * *"
        timezone: America/Sao_Paulo
        slug: daily
        active: true
"""

FLOW_PY = f'''\
"""Count the rows of a table: the flow of the lint corpus."""

from __future__ import annotations

from prefect import flow


@flow(name="{NAME}", log_prints=True)
def {NAME}(table: str, limit: int = 10) -> int:
    """Print how many rows of `table` would be read, at most `limit`."""
    print(f"{{table}}: at most {{limit}} rows")
    return limit
'''

PYPROJECT = f"""\
[project]
name = "{NAME}"
version = "0.1.0"
description = "Pipeline {NAME}: the lint corpus."
requires-python = ">=3.11,<3.14"
dependencies = [
    "prefect>=3.4,<4",
]

[dependency-groups]
dev = [
    "pytest>=8",
]

[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[tool.setuptools]
packages = ["{NAME}"]
package-dir = {{ "{NAME}" = "." }}
"""

DOCKERFILE = f"""\
# Image of {NAME}, on the base image.
ARG BASE_IMAGE=prefect_rj_iplanrio-base:latest
FROM ${{BASE_IMAGE}}

COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-workspace --package {NAME}

COPY {FOLDER}/ {FOLDER}/
"""

README = f"""\
# {NAME}

```bash
uv run nox -s run -- {NAME} table=exemplo
uv run nox -s "lint({NAME})"
```
"""

TEST_FLOW = f'''\
"""The corpus flow, called without Prefect's engine."""

from {NAME}.flow import {NAME}


def test_flow_returns_the_limit() -> None:
    assert {NAME}.fn(table="exemplo", limit=3) == 3
'''

PIPELINE_FILES = {
    "prefect.yaml": PREFECT_YAML,
    "flow.py": FLOW_PY,
    "pyproject.toml": PYPROJECT,
    "Dockerfile": DOCKERFILE,
    "README.md": README,
    "__init__.py": f'"""Pipeline {NAME}."""\n',
    "tests/test_flow.py": TEST_FLOW,
}

TOOLS_STAND_IN = '[project]\nname = "pipeline-tools"\nversion = "0.1.0"\n'
SRC_STAND_IN = '"""Shared runtime helpers (a stand-in)."""\n'


def write_pipeline(root: Path, name: str = NAME) -> Path:
    """Write the corpus pipeline under `name` (every `rj_teste__corpus` renamed)."""
    folder = root / "pipelines" / name
    for relative, text in PIPELINE_FILES.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        renamed = text.replace(NAME, name).replace("rj-teste--corpus", name.replace("_", "-"))
        target.write_text(renamed, "utf-8")
    return folder


def build_workspace(root: Path, add_pipelines: Callable[[Path], object]) -> Path:
    """A uv workspace in a git repository with one commit: root files, stand-ins, pipelines."""
    root.mkdir(parents=True)
    for name in ("pyproject.toml", ".gitignore", "uv.lock"):
        shutil.copy2(ROOT / name, root / name)
    (root / "tools").mkdir()
    (root / "tools" / "pyproject.toml").write_text(TOOLS_STAND_IN, "utf-8")
    (root / "src" / "prefect_rj_iplanrio").mkdir(parents=True)
    (root / "src" / "prefect_rj_iplanrio" / "__init__.py").write_text(SRC_STAND_IN, "utf-8")
    add_pipelines(root)
    relock(root)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "workspace for lint tests")
    return root


def relock(root: Path) -> None:
    """Bring uv.lock in line with the workspace, from uv's cache (the network if needed)."""
    argv = ["uv", "lock", "--quiet", "--offline"]
    if subprocess.run(argv, cwd=root, capture_output=True, check=False).returncode != 0:
        subprocess.run(argv[:-1], cwd=root, capture_output=True, check=True)


@dataclass
class LintRun:
    """How one lint session ended and what it printed."""

    code: ExitCode
    out: str
    err: str

    def lines_with(self, rule: str) -> list[str]:
        """The finding lines of `rule`."""
        return [line for line in self.out.splitlines() if f": {rule} " in line]


@dataclass
class Repo:
    """A workspace copy that a test may break."""

    root: Path
    environ: dict[str, str] = field(default_factory=dict)

    def path(self, relative: str) -> Path:
        """A file of the workspace; `{p}` stands for the corpus pipeline's folder."""
        return self.root / relative.format(p=FOLDER)

    def text(self, relative: str) -> str:
        """The text of a file."""
        return self.path(relative).read_text("utf-8")

    def write(self, relative: str, text: str) -> None:
        """Create or replace a file."""
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")

    def replace(self, relative: str, old: str, new: str) -> None:
        """Replace the one occurrence of `old` in a file."""
        text = self.text(relative)
        assert text.count(old) == 1, f"{old!r} is not once in {relative}"
        self.write(relative, text.replace(old, new))

    def workspace(self) -> Workspace:
        """The workspace as the sessions discover it, with this repo's overrides only."""
        return discover(load_settings(self.root, environ=self.environ))

    def findings(self, names: tuple[str, ...] = (), tools: tuple[str, ...] = ()) -> list[Finding]:
        """Findings of the repository-specific checks and the named external tools."""
        return run_checks(self.workspace(), names, tools=tools, reporter=Reporter(io.StringIO()))

    def lint(self, *arguments: str, environ: Mapping[str, str] | None = None) -> LintRun:
        """Run the lint session's library entry point as the nox session does."""
        out, err = io.StringIO(), io.StringIO()
        reporter = Reporter(out=out, err=err)
        code = lint.main(self.workspace(), list(arguments), reporter, environ=environ or {})
        return LintRun(code, out.getvalue(), err.getvalue())


def line_of(text: str, marker: str | None, occurrence: int = 1) -> int:
    """The line of the `occurrence`-th line containing `marker` (ending with it, when the
    marker ends in a newline), or line 1 without a marker."""
    if marker is None:
        return 1
    lines = text.splitlines()
    if marker.endswith("\n"):  # a marker that ends a line
        hits = [n for n, line in enumerate(lines, 1) if line.endswith(marker[:-1])]
    else:
        hits = [n for n, line in enumerate(lines, 1) if marker in line]
    assert len(hits) >= occurrence, f"{marker!r} is not in the file"
    return hits[occurrence - 1]


Change = Callable[[Repo], None]


@dataclass(frozen=True)
class Case:
    """One broken input: how to break the corpus, and the finding lint must print."""

    id: str
    rule: str
    file: str
    marker: str | None
    change: Change
    external: bool = False
    occurrence: int = 1

    def expected_line(self, repo: Repo) -> int:
        """The line the finding must point at, found in the broken file."""
        path = repo.path(self.file)
        text = path.read_bytes().decode("utf-8", "replace") if path.is_file() else ""
        return line_of(text, self.marker, self.occurrence)


def replace(relative: str, old: str, new: str) -> Change:
    """A change that replaces text once in a file."""
    return lambda repo: repo.replace(relative, old, new)


def write(relative: str, text: str) -> Change:
    """A change that writes a file."""
    return lambda repo: repo.write(relative, text)


def write_bytes(relative: str, content: bytes) -> Change:
    """A change that writes a file that may not be UTF-8 text."""

    def apply(repo: Repo) -> None:
        repo.path(relative).write_bytes(content)

    return apply


def delete(relative: str) -> Change:
    """A change that removes a file."""
    return lambda repo: repo.path(relative).unlink()


def chain(*changes: Change) -> Change:
    """Several changes, in order."""

    def apply(repo: Repo) -> None:
        for change in changes:
            change(repo)

    return apply


def add_pipeline(name: str, *, rename: bool = True) -> Change:
    """A change that adds a second pipeline: a copy of the corpus one in the folder `name`,
    its files renamed too unless `rename` is false."""

    def apply(repo: Repo) -> None:
        if rename:
            write_pipeline(repo.root, name)
        else:
            shutil.copytree(repo.path(FOLDER), repo.root / "pipelines" / name)

    return apply


PREFECT = "{p}/prefect.yaml"
PROD_SCHEDULE = '      - cron: "0 3 * * *"\n        timezone: America/Sao_Paulo\n'
DOCKER = "{p}/Dockerfile"
FLOW = "{p}/flow.py"
PIPELINE_PYPROJECT = "{p}/pyproject.toml"
STAGING_POOL = "      name: staging-pool\n"
PROD_POOL = "      name: prod-pool\n"
PROD_ENTRY = "  - name: rj-teste--corpus--prod\n"
# Fake credentials are put together at run time, so that this file holds none.
KEY_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"
AWS_KEY = "AKIA" + "IOSFODNN7" + "REALKEY9"
PASSWORD_LINE = "      pass" + "word: Tr0ub4dor-and-3\n"


def in_staging(old: str, new: str) -> Change:
    """A change that replaces text once in the staging deployment of prefect.yaml."""

    def apply(repo: Repo) -> None:
        staging, separator, prod = repo.text(PREFECT).partition(PROD_ENTRY)
        assert old in staging, f"{old!r} is not in the staging deployment"
        repo.write(PREFECT, staging.replace(old, new, 1) + separator + prod)

    return apply


def in_prod(old: str, new: str) -> Change:
    """A change that replaces text once in the prod deployment of prefect.yaml."""

    def apply(repo: Repo) -> None:
        staging, separator, prod = repo.text(PREFECT).partition(PROD_ENTRY)
        assert old in prod, f"{old!r} is not in the prod deployment"
        repo.write(PREFECT, staging + separator + prod.replace(old, new, 1))

    return apply


def pipeline_table(body: str) -> Change:
    """A change that gives the corpus pipeline a [tool.pipeline-tools] table."""
    return replace(
        PIPELINE_PYPROJECT, "[build-system]", f"[tool.pipeline-tools]\n{body}\n\n[build-system]"
    )


ENTRY = f"    entrypoint: {FOLDER}/flow.py:{NAME}\n"
WORKFLOW_HEAD = "on: push\npermissions: {}\njobs:\n  job:\n    runs-on: ubuntu-latest\n"

IMAGE = '        image: "{{ $PIPELINE_IMAGE }}"\n'
SCHEDULE = '      - cron: "0 3 * * *"\n'

PREFECT_CASES = [
    Case(
        "yaml-syntax-tab-indentation",
        "PF002",
        PREFECT,
        "\tschedules",
        in_staging("    schedules: []\n", "\tschedules: []\n"),
    ),
    Case(
        "yaml-syntax-unquoted-colon",
        "PF002",
        PREFECT,
        "description:",
        in_staging(ENTRY, ENTRY + "    description: Staging: rows of a table\n"),
    ),
    Case(
        "yaml-not-utf-8",
        "PF002",
        PREFECT,
        None,
        write_bytes(PREFECT, b"name: rj_teste__corpus\n# \xff\xfe\n"),
    ),
    Case(
        "yaml-nested-too-deeply",
        "PF002",
        PREFECT,
        None,
        write(PREFECT, "deployments: " + "[" * 5000 + "]" * 5000 + "\n"),
    ),
    Case(
        "not-a-mapping",
        "PF003",
        PREFECT,
        None,
        write(PREFECT, "- name: rj-teste--corpus--prod\n- name: rj-teste--corpus--staging\n"),
    ),
    Case(
        "unknown-top-level-key",
        "PF003",
        PREFECT,
        "deployment:",
        replace(PREFECT, "\ndeployments:\n", "\ndeployment:\n"),
    ),
    Case(
        "schedule-instead-of-schedules",
        "PF006",
        PREFECT,
        "schedule:",
        in_prod("    schedules:\n", "    schedule:\n"),
    ),
    Case(
        "unknown-key-in-work-pool",
        "PF007",
        PREFECT,
        "job_variable:",
        in_prod("      job_variables:\n", "      job_variable:\n"),
    ),
    Case(
        "flow-run-name-inside-schedule",
        "PF008",
        PREFECT,
        "flow_run_name",
        in_prod("        slug: daily\n", "        slug: daily\n        flow_run_name: nightly\n"),
    ),
    Case(
        "deployment-without-entrypoint",
        "PF005",
        PREFECT,
        "- name: rj-teste--corpus--staging",
        in_staging(ENTRY, ""),
    ),
    Case(
        "deployment-without-work-pool",
        "PF005",
        PREFECT,
        "- name: rj-teste--corpus--prod",
        in_prod("    work_pool:\n      name: prod-pool\n      job_variables:\n" + IMAGE, ""),
    ),
    Case(
        "interval-as-a-string",
        "PF010",
        PREFECT,
        "interval:",
        in_prod(SCHEDULE, '      - interval: "86400"\n'),
    ),
    Case(
        "cron-with-hour-25",
        "PF011",
        PREFECT,
        "cron:",
        in_prod(SCHEDULE, '      - cron: "0 25 * * *"\n'),
    ),
    Case(
        "timezone-not-in-iana",
        "PF011",
        PREFECT,
        "timezone:",
        in_prod("America/Sao_Paulo", "America/Sao_Paolo"),
    ),
    Case(
        "anchor-date-with-cron",
        "PF012",
        PREFECT,
        "anchor_date",
        in_prod(
            "        slug: daily\n", '        slug: daily\n        anchor_date: "2024-01-01"\n'
        ),
    ),
    Case(
        "unquoted-anchor-date",
        "PF004",
        PREFECT,
        "anchor_date",
        in_prod(SCHEDULE, "      - interval: 600\n        anchor_date: 2024-01-01T00:00:00\n"),
    ),
    Case(
        "cron-and-interval-together",
        "PF009",
        PREFECT,
        '- cron: "0 3',
        in_prod(SCHEDULE, SCHEDULE + "        interval: 600\n"),
    ),
    Case(
        "schedule-without-slug",
        "PF013",
        PREFECT,
        '- cron: "0 3',
        in_prod("        slug: daily\n", ""),
    ),
    Case(
        "slug-used-twice",
        "PF014",
        PREFECT,
        "slug: daily",
        in_prod(
            "        active: true\n",
            '        active: true\n      - cron: "0 15 * * *"\n        slug: daily\n',
        ),
        occurrence=2,
    ),
    Case(
        "unknown-step-function",
        "PF015",
        PREFECT,
        "set_working_dir:",
        replace(PREFECT, "steps.set_working_directory:", "steps.set_working_dir:"),
    ),
    Case(
        "step-of-a-missing-package",
        "PF015",
        PREFECT,
        "prefect_docker",
        replace(
            PREFECT,
            "\ndeployments:\n",
            "\nbuild:\n  - prefect_docker.deployments.steps.build_docker_image:\n"
            "      id: build_image\n\ndeployments:\n",
        ),
    ),
    Case(
        "template-of-an-undefined-step",
        "PF016",
        PREFECT,
        "build_image.image",
        in_prod(IMAGE, '        image: "{{ build_image.image }}"\n'),
    ),
    Case(
        "step-that-is-a-string",
        "PF017",
        PREFECT,
        "- just_a_string",
        replace(PREFECT, "pull:\n", "pull:\n  - just_a_string\n"),
    ),
    Case(
        "parameters-as-a-list",
        "PF004",
        PREFECT,
        "parameters: [table]",
        in_prod("    parameters:\n      table: example\n", "    parameters: [table]\n"),
    ),
    Case(
        "schedules-as-a-mapping",
        "PF004",
        PREFECT,
        "schedules: {}",
        in_staging("    schedules: []\n", "    schedules: {}\n"),
    ),
]

ENVIRONMENT_CASES = [
    Case(
        "no-prod-deployment",
        "ENV001",
        PREFECT,
        "deployments:",
        lambda repo: repo.write(PREFECT, repo.text(PREFECT).partition("\n" + PROD_ENTRY)[0]),
    ),
    Case(
        "undeclared-variant",
        "ENV002",
        PREFECT,
        "rj-teste--corpus-extra--prod",
        replace(PREFECT, PROD_ENTRY, "  - name: rj-teste--corpus-extra--prod\n"),
    ),
    Case(
        "name-without-environment",
        "ENV003",
        PREFECT,
        "rj-teste--corpus--producao",
        replace(PREFECT, PROD_ENTRY, "  - name: rj-teste--corpus--producao\n"),
    ),
    Case(
        "deployment-of-an-omitted-environment",
        "ENV004",
        PREFECT,
        "rj-teste--corpus--staging",
        pipeline_table('environments = ["prod"]'),
    ),
    Case(
        "name-used-by-another-pipeline",
        "ENV005",
        PREFECT,
        "rj-teste--corpus--prod",
        chain(
            add_pipeline("rj_teste__copia"),
            replace(
                "pipelines/rj_teste__copia/prefect.yaml",
                "  - name: rj-teste--copia--prod\n",
                PROD_ENTRY,
            ),
        ),
    ),
    Case(
        "active-schedule-in-staging",
        "ENV006",
        PREFECT,
        '- cron: "0 6',
        in_staging(
            "    schedules: []\n",
            '    schedules:\n      - cron: "0 6 * * *"\n        slug: morning\n',
        ),
    ),
    Case(
        "prod-on-the-staging-pool",
        "ENV007",
        PREFECT,
        "staging-pool",
        in_prod("name: prod-pool", "name: staging-pool"),
        occurrence=2,
    ),
    Case(
        "staging-reads-a-prod-secret",
        "ENV008",
        PREFECT,
        "prefect.blocks.secret",
        in_staging(
            "      table: example\n",
            '      table: example\n      connection: "{{ prefect.blocks.secret.database-prod }}"\n',
        ),
    ),
    Case(
        "unknown-environment-declared",
        "ENV009",
        PIPELINE_PYPROJECT,
        '"homolog"',
        pipeline_table('environments = ["prod", "homolog"]'),
    ),
]

NAME_CASES = [
    Case(
        "folder-with-a-space",
        "NAME001",
        "pipelines/rj_teste__com espaco",
        None,
        add_pipeline("rj_teste__com espaco", rename=False),
    ),
    Case(
        "folder-with-quotes",
        "NAME001",
        "pipelines/rj_teste__\"aspas'",
        None,
        add_pipeline("rj_teste__\"aspas'", rename=False),
    ),
    Case(
        "folder-with-command-substitution",
        "NAME001",
        "pipelines/rj_$(touch pwned)__x",
        None,
        add_pipeline("rj_$(touch pwned)__x", rename=False),
    ),
    Case(
        "entrypoint-climbing-out-of-the-folder",
        "NAME006",
        PREFECT,
        "../../",
        in_prod(ENTRY, f"    entrypoint: {FOLDER}/../../etc/passwd.py:{NAME}\n"),
    ),
    Case(
        "entrypoint-without-function",
        "NAME006",
        PREFECT,
        "flow.py\n",
        in_prod(ENTRY, f"    entrypoint: {FOLDER}/flow.py\n"),
    ),
    Case(
        "project-name-differs",
        "NAME002",
        PIPELINE_PYPROJECT,
        'name = "rj_teste__corpos"',
        replace(PIPELINE_PYPROJECT, f'name = "{NAME}"', 'name = "rj_teste__corpos"'),
    ),
    Case(
        "setuptools-package-differs",
        "NAME003",
        PIPELINE_PYPROJECT,
        "[tool.setuptools]",
        replace(PIPELINE_PYPROJECT, f'packages = ["{NAME}"]', 'packages = ["corpus"]'),
    ),
    Case(
        "flow-function-renamed",
        "NAME004",
        FLOW,
        None,
        replace(FLOW, f"def {NAME}(", "def rj_teste__corpos("),
    ),
    Case(
        "flow-file-with-syntax-error",
        "NAME004",
        FLOW,
        "return limit +",
        replace(FLOW, "    return limit\n", "    return limit +\n"),
    ),
    Case(
        "flow-file-with-a-null-byte",
        "NAME004",
        FLOW,
        None,
        replace(FLOW, "    return limit\n", "    return limit\n\x00\n"),
    ),
    Case(
        "flow-name-differs",
        "NAME005",
        FLOW,
        "@flow(",
        replace(FLOW, f'@flow(name="{NAME}"', '@flow(name="corpus"'),
    ),
    Case(
        "entrypoint-function-typo",
        "NAME007",
        PREFECT,
        "flow.py:rj_teste__corpo\n",
        in_prod(ENTRY, f"    entrypoint: {FOLDER}/flow.py:rj_teste__corpo\n"),
    ),
    Case(
        "prefect-yaml-name-differs",
        "NAME008",
        PREFECT,
        "name: rj_teste__corpo\n",
        replace(PREFECT, f"name: {NAME}\n", "name: rj_teste__corpo\n"),
    ),
    Case(
        "deployment-name-not-derived",
        "NAME009",
        PREFECT,
        "rj-teste--corpo--prod",
        replace(PREFECT, PROD_ENTRY, "  - name: rj-teste--corpo--prod\n"),
    ),
    Case(
        "image-hard-coded",
        "NAME010",
        PREFECT,
        "registry.example",
        in_prod(IMAGE, "        image: registry.example/rj_teste__outro:latest\n"),
    ),
    Case(
        "dockerfile-copies-another-pipeline",
        "NAME011",
        DOCKER,
        "rj_teste__outro",
        replace(DOCKER, f"COPY {FOLDER}/ {FOLDER}/", f"COPY pipelines/rj_teste__outro/ {FOLDER}/"),
    ),
    Case(
        "dockerfile-syncs-another-project",
        "NAME012",
        DOCKER,
        "--package rj_teste__outro",
        replace(DOCKER, f"--package {NAME}", "--package rj_teste__outro"),
    ),
    Case(
        "readme-runs-another-pipeline",
        "NAME013",
        "{p}/README.md",
        "nox -s run",
        replace("{p}/README.md", f"nox -s run -- {NAME}", "nox -s run -- rj_teste__outro"),
    ),
]

PARAMETER_CASES = [
    Case(
        "deployment-parameter-misspelled",
        "PARAM001",
        PREFECT,
        "tabel:",
        in_prod("      table: example\n", "      table: example\n      tabel: example\n"),
    ),
    Case(
        "schedule-parameter-unknown",
        "PARAM001",
        PREFECT,
        "destination:",
        in_prod(
            "        active: true\n",
            "        active: true\n        parameters:\n          destination: /tmp\n",
        ),
    ),
    Case(
        "required-parameter-not-given",
        "PARAM002",
        PREFECT,
        "- name: rj-teste--corpus--staging",
        in_staging("    parameters:\n      table: example\n", ""),
    ),
]

DOCKERFILE_CASES = [
    Case("no-dockerfile", "DOCKER001", DOCKER, None, delete(DOCKER)),
    Case(
        "from-a-public-image",
        "DOCKER002",
        DOCKER,
        "FROM python",
        replace(DOCKER, "FROM ${BASE_IMAGE}", "FROM python:3.13-slim"),
    ),
    Case(
        "copies-the-whole-repository",
        "DOCKER003",
        DOCKER,
        "COPY . .",
        replace(DOCKER, f"COPY {FOLDER}/ {FOLDER}/", "COPY . ."),
    ),
    Case(
        "installs-without-the-pipeline",
        "DOCKER004",
        DOCKER,
        f"COPY {FOLDER}/",
        replace(DOCKER, f" --package {NAME}", ""),
    ),
    Case(
        "sync-without-frozen",
        "DOCKER005",
        DOCKER,
        "RUN uv sync",
        replace(DOCKER, "uv sync --frozen", "uv sync --locked"),
    ),
    Case(
        "pip-install",
        "DOCKER006",
        DOCKER,
        "pip install",
        replace(
            DOCKER,
            "\nCOPY pyproject.toml",
            "\nRUN pip install openpyxl==3.1.5\nCOPY pyproject.toml",
        ),
    ),
    Case(
        "hadolint-cd-in-run",
        "HADOLINT-DL3003",
        DOCKER,
        "cd /tmp",
        replace(
            DOCKER, "\nCOPY pyproject.toml", "\nRUN cd /tmp && touch marker\nCOPY pyproject.toml"
        ),
        external=True,
    ),
]

HYGIENE_CASES = [
    Case(
        "breakpoint-left-in-the-flow",
        "HYG001",
        FLOW,
        "breakpoint()",
        replace(FLOW, "    return limit\n", "    breakpoint()\n    return limit\n"),
    ),
    Case(
        "pdb-imported",
        "HYG001",
        FLOW,
        "import pdb",
        replace(FLOW, "from prefect import flow\n", "from prefect import flow\nimport pdb\n"),
    ),
    Case(
        "env-file-not-ignored",
        "HYG002",
        "{p}/.env",
        None,
        chain(write("{p}/.gitignore", "!.env\n"), write("{p}/.env", "DATABASE_URL=sqlite://\n")),
    ),
    Case(
        "file-over-the-size-limit",
        "HYG003",
        "{p}/data/big.csv",
        None,
        write("{p}/data/big.csv", "id,name\n" + "1,abcdefgh\n" * 120_000),
    ),
    Case(
        "private-key-committed",
        "SECRETS-PrivateKey",
        "{p}/deploy_key.pem",
        "BEGIN",
        write("{p}/deploy_key.pem", f"{KEY_HEADER}\nMIIEowIBAAKCAQEA7V\n"),
        external=True,
    ),
    Case(
        "password-in-prefect-yaml",
        "SECRETS-SecretKeyword",
        PREFECT,
        "password:",
        in_prod("      table: example\n", "      table: example\n" + PASSWORD_LINE),
        external=True,
    ),
    Case(
        "aws-key-in-code",
        "SECRETS-AWSAccessKey",
        FLOW,
        "ACCESS_KEY",
        replace(
            FLOW,
            "from prefect import flow\n",
            f'from prefect import flow\n\nACCESS_KEY = "{AWS_KEY}"\n',
        ),
        external=True,
    ),
]

EXTERNAL_CASES = [
    Case(
        "ruff-unused-import",
        "RUFF-F401",
        FLOW,
        "import json",
        replace(FLOW, "from prefect import flow\n", "import json\n\nfrom prefect import flow\n"),
        external=True,
    ),
    Case(
        "ruff-format",
        "RUFF-FORMAT",
        FLOW,
        "return  limit",
        replace(FLOW, "    return limit\n", "    return  limit\n"),
        external=True,
    ),
    Case(
        "deptry-undeclared-import",
        "DEPTRY-DEP001",
        FLOW,
        "import geopandas",
        replace(FLOW, "from prefect import flow\n", "import geopandas\nfrom prefect import flow\n"),
        external=True,
    ),
    Case(
        "lock-out-of-date",
        "LOCK001",
        "uv.lock",
        None,
        replace(
            PIPELINE_PYPROJECT, '    "prefect>=3.4,<4",\n', '    "prefect>=3.4,<4",\n    "httpx",\n'
        ),
        external=True,
    ),
    Case(
        "workflow-syntax",
        "ACTIONLINT-syntax-check",
        ".github/workflows/lint.yml",
        "timeout-minutes",
        write(
            ".github/workflows/lint.yml",
            "name: lint\n" + WORKFLOW_HEAD + "    timeout-minutes: soon\n    steps:\n"
            "      - run: uv run nox -s lint\n",
        ),
        external=True,
    ),
    Case(
        "workflow-template-injection",
        "ZIZMOR-template-injection",
        ".github/workflows/greet.yml",
        "github.event",
        write(
            ".github/workflows/greet.yml",
            "name: greet\n" + WORKFLOW_HEAD.replace("on: push", "on: issues") + "    steps:\n"
            '      - run: echo "${{ github.event.issue.title }}"\n',
        ),
        external=True,
    ),
]

SILENCE_CASES = [
    Case(
        "silence-without-a-reason",
        "LINT001",
        FLOW,
        "breakpoint()",
        replace(
            FLOW,
            "    return limit\n",
            "    breakpoint()  # lint" + ": ignore[HYG001]\n    return limit\n",
        ),
    ),
    Case(
        "silence-of-an-unknown-rule",
        "LINT002",
        DOCKER,
        "DOCKER999",
        replace(
            DOCKER,
            "FROM ${BASE_IMAGE}\n",
            "FROM ${BASE_IMAGE}\n# lint" + ": ignore[DOCKER999] no\n",
        ),
    ),
    Case(
        "pipeline-ignore-without-a-reason",
        "LINT001",
        PIPELINE_PYPROJECT,
        '"HYG001"',
        pipeline_table('ignore = [{ rule = "HYG001" }]'),
    ),
    Case(
        "pipeline-table-unknown-key",
        "LINT004",
        PIPELINE_PYPROJECT,
        "enviroments",
        pipeline_table('enviroments = ["prod"]'),
    ),
]

CASES = [
    *PREFECT_CASES,
    *ENVIRONMENT_CASES,
    *NAME_CASES,
    *PARAMETER_CASES,
    *DOCKERFILE_CASES,
    *HYGIENE_CASES,
    *EXTERNAL_CASES,
    *SILENCE_CASES,
]


def cases(*prefixes: str) -> list[Case]:
    """The corpus cases whose rule starts with one of `prefixes`."""
    return [case for case in CASES if case.rule.startswith(prefixes)]


def assert_caught(repo: Repo, case: Case) -> LintRun:
    """Break the workspace as `case` says; lint must print its finding and exit 1, calmly."""
    case.change(repo)
    run = repo.lint() if case.external else repo.lint("--no-external")
    where = f"{case.file.format(p=FOLDER)}:{case.expected_line(repo)}:"
    assert any(line.startswith(where) for line in run.lines_with(case.rule)), (
        f"no {case.rule} at {where} in:\n{run.out}"
    )
    assert run.code is ExitCode.FAILED
    assert "Traceback" not in run.out + run.err
    return run
