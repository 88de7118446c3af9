"""Sessions of the pipelines monorepo: parse arguments, call pipeline_tools, exit.

Run them through uv so that the orchestration library is installed: `uv run nox -s test`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import nox

try:
    from pipeline_tools import running, scaffold, testing
    from pipeline_tools.errors import ExitCode, ToolError
    from pipeline_tools.reporter import Reporter
    from pipeline_tools.settings import Settings, load_settings
    from pipeline_tools.workspace import Workspace, discover
except ImportError:  # nox installed on its own, outside the project environment
    sys.exit("error: run the sessions through uv so the tools are installed: uv run nox -s ...")

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "none"
nox.options.sessions = ["test"]

ROOT = Path(__file__).resolve().parent


def _settings() -> Settings:
    try:
        return load_settings(ROOT)
    except ToolError as error:
        sys.exit(f"error: {error}")


SETTINGS = _settings()
PIPELINES = [pipeline.name for pipeline in discover(SETTINGS).pipelines]


def _finish(session: nox.Session, step: Callable[[Workspace, Reporter], ExitCode]) -> None:
    """Run one library step; a user error ends the session with one sentence, no traceback."""
    try:
        code = step(discover(SETTINGS), Reporter())
    except ToolError as error:
        session.error(str(error))
    except KeyboardInterrupt:
        session.error("interrupted")
    if code != ExitCode.OK:
        session.error()


@nox.session(python=False)
def new(session: nox.Session) -> None:
    """Create a pipeline from the template: nox -s new -- <secretaria> <pipeline>."""
    if len(session.posargs) not in (0, 2):
        session.error("usage: nox -s new -- <secretaria> <pipeline> (or no arguments to be asked)")
    secretaria, pipeline = session.posargs if session.posargs else (None, None)

    def step(workspace: Workspace, reporter: Reporter) -> ExitCode:
        scaffold.new_pipeline(workspace.settings, secretaria, pipeline, reporter)
        return ExitCode.OK

    _finish(session, step)


@nox.session(python=False)
def test(session: nox.Session) -> None:
    """Test pipelines in their own environments: nox -s test -- [pipeline ...] [pytest args]."""
    names, pytest_args = testing.split_arguments(session.posargs)
    _finish(session, lambda ws, rep: testing.test_pipelines(ws, names, pytest_args, rep))


@nox.session(name="test-lib", python=False)
def test_lib(session: nox.Session) -> None:
    """Test the orchestration library and the shared runtime package (tests/)."""
    session.run("pytest", *session.posargs)


@nox.session(python=False)
def run(session: nox.Session) -> None:
    """Run a pipeline's flow once, locally: nox -s run -- <pipeline> [key=value ...]."""
    if not session.posargs:
        session.error("usage: nox -s run -- <pipeline> [key=value ...]")
    name, *assignments = session.posargs
    _finish(session, lambda ws, rep: running.run_pipeline(ws, name, assignments, rep))


def _per_pipeline(kind: str, summary: str, session_function: Callable[..., None]) -> None:
    """Register `kind(<pipeline>)` for every pipeline, calling `session_function(session, name)`.

    These sessions are what `nox -l --json` lists for a CI matrix; `nox -s kind -- <name>`
    does the same as `nox -s "kind(<name>)"`.
    """
    for name in PIPELINES:

        def one(session: nox.Session, name: str = name) -> None:
            session_function(session, name)

        one.__doc__ = f"{summary} {name}."
        nox.session(name=f"{kind}({name})", python=False, default=False)(one)


def _test_one(session: nox.Session, name: str) -> None:
    _finish(session, lambda ws, rep: testing.test_pipelines(ws, [name], session.posargs, rep))


_per_pipeline("test", "Test, in its own environment,", _test_one)
