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
    from pipeline_tools.plan import show_plan
    from pipeline_tools.reporter import Reporter
    from pipeline_tools.settings import Settings, load_settings
    from pipeline_tools.workspace import Workspace, discover
except ImportError:  # nox installed on its own, outside the project environment
    sys.exit("error: run the sessions through uv so the tools are installed: uv run nox -s ...")

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "none"
# `nox` alone runs the per-pipeline sessions (lint, test and build of every pipeline), which
# is also what `nox -l --json` lists for a CI matrix; every other session is run by name.

ROOT = Path(__file__).resolve().parent


def _pipeline_names() -> tuple[Settings, list[str]]:
    """Settings and pipeline names, read once when nox loads this file."""
    try:
        settings = load_settings(ROOT)
        return settings, [pipeline.name for pipeline in discover(settings).pipelines]
    except ToolError as error:
        sys.exit(f"error: {error}")


SETTINGS, PIPELINES = _pipeline_names()


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


@nox.session(python=False, default=False)
def new(session: nox.Session) -> None:
    """Create a pipeline from the template: nox -s new -- <secretaria> <pipeline>."""
    if len(session.posargs) not in (0, 2):
        session.error("usage: nox -s new -- <secretaria> <pipeline> (or no arguments to be asked)")
    secretaria, pipeline = session.posargs if session.posargs else (None, None)

    def step(workspace: Workspace, reporter: Reporter) -> ExitCode:
        scaffold.new_pipeline(workspace.settings, secretaria, pipeline, reporter)
        return ExitCode.OK

    _finish(session, step)


@nox.session(python=False, default=False)
def test(session: nox.Session) -> None:
    """Test pipelines in their own environments: nox -s test -- [pipeline ...] [pytest args]."""
    names, pytest_args = testing.split_arguments(session.posargs)
    _finish(session, lambda ws, rep: testing.test_pipelines(ws, names, pytest_args, rep))


@nox.session(name="test-lib", python=False, default=False)
def test_lib(session: nox.Session) -> None:
    """Test the orchestration library and the shared runtime package (tests/)."""
    session.run("pytest", *session.posargs)


@nox.session(python=False, default=False)
def run(session: nox.Session) -> None:
    """Run a pipeline's flow once, locally: nox -s run -- <pipeline> [key=value ...]."""
    if not session.posargs:
        session.error("usage: nox -s run -- <pipeline> [key=value ...]")
    name, *assignments = session.posargs
    _finish(session, lambda ws, rep: running.run_pipeline(ws, name, assignments, rep))


@nox.session(python=False, default=False)
def lint(session: nox.Session) -> None:
    """Find broken pipelines: nox -s lint -- [pipeline ...] [--format json] [--rules] [--help]."""
    _finish(session, lambda ws, rep: _lint(ws, session.posargs, rep))


def _lint(workspace: Workspace, arguments: list[str], reporter: Reporter) -> ExitCode:
    from pipeline_tools import lint as linting  # noqa: PLC0415 - its rules cost 0.3 s to import

    return linting.main(workspace, arguments, reporter)


@nox.session(python=False, default=False)
def plan(session: nox.Session) -> None:
    """Affected pipelines, images, deployments: nox -s plan -- --env staging|prod|local [--help]."""
    _finish(session, lambda ws, rep: show_plan(ws, session.posargs, rep, _last_deployed))


def _last_deployed(settings: Settings, environment: str) -> str | None:
    """The revision `environment` runs, asked of the deploy step only when a plan needs it."""
    from pipeline_tools import deploy  # noqa: PLC0415 - Prefect's client is slow to import

    return deploy.last_deployed_revision(settings, environment)


@nox.session(python=False, default=False)
def build(session: nox.Session) -> None:
    """Build pipeline images: nox -s build -- [pipeline ...] [--env staging|prod] [--push]."""
    _finish(session, lambda ws, rep: _build(ws, rep, session.posargs))


@nox.session(name="build-base", python=False, default=False)
def build_base(session: nox.Session) -> None:
    """Build the base image from the root Dockerfile: nox -s build-base [-- --push]."""
    _finish(session, lambda ws, rep: _build(ws, rep, session.posargs, base=True))


def _build(
    workspace: Workspace, reporter: Reporter, posargs: list[str], *, base: bool = False
) -> ExitCode:
    from pipeline_tools import images  # noqa: PLC0415 - python-on-whales costs 0.5 s to import

    return images.build_command(
        workspace, posargs, reporter, base=base, last_deployed=_last_deployed
    )


@nox.session(name="deploy-staging", python=False, default=False)
def deploy_staging(session: nox.Session) -> None:
    """Build missing images, register staging deployments: nox -s deploy-staging -- [--help]."""
    _deploy(session, "staging")


@nox.session(name="deploy-prod", python=False, default=False)
def deploy_prod(session: nox.Session) -> None:
    """Build missing images, register prod deployments: nox -s deploy-prod -- [--help]."""
    _deploy(session, "prod")


@nox.session(name="deploy-local", python=False, default=False)
def deploy_local(session: nox.Session) -> None:
    """Register on the local server: nox -s deploy-local -- [--run <pipeline> [key=value ...]]."""
    _deploy(session, "local")


def _deploy(session: nox.Session, environment: str) -> None:
    from pipeline_tools import deploy  # noqa: PLC0415 - only deploy sessions pay for its imports

    def step(workspace: Workspace, reporter: Reporter) -> ExitCode:
        request = deploy.DeployRequest.from_arguments(environment, session.posargs)
        return deploy.deploy(workspace, request, reporter)

    _finish(session, step)


@nox.session(python=False, default=False)
def server(session: nox.Session) -> None:
    """Start (or reuse) and describe the local Prefect server: nox -s server [-- status|stop]."""
    from pipeline_tools import server as local  # noqa: PLC0415 - only this session needs it

    if len(session.posargs) > 1:
        session.error("usage: nox -s server [-- start|status|stop]")
    action = session.posargs[0] if session.posargs else "start"
    _finish(session, lambda ws, rep: local.server_session(ws.settings, action, rep))


def _per_pipeline(kind: str, summary: str, session_function: Callable[..., None]) -> None:
    """Register `kind(<pipeline>)` for every pipeline, calling `session_function(session, name)`.

    These are the default sessions, so `nox -l --json` lists them for a CI matrix, and
    `nox -t kind` selects all of one kind; `nox -s kind -- <name>` does the same as
    `nox -s "kind(<name>)"`.
    """
    for name in PIPELINES:

        def one(session: nox.Session, name: str = name) -> None:
            session_function(session, name)

        one.__doc__ = f"{summary} {name}."
        nox.session(name=f"{kind}({name})", python=False, tags=[kind, "pipeline"])(one)


def _test_one(session: nox.Session, name: str) -> None:
    _finish(session, lambda ws, rep: testing.test_pipelines(ws, [name], session.posargs, rep))


_per_pipeline("test", "Test, in its own environment,", _test_one)


def _lint_one(session: nox.Session, name: str) -> None:
    _finish(session, lambda ws, rep: _lint(ws, [name, *session.posargs], rep))


_per_pipeline("lint", "Lint", _lint_one)


def _build_one(session: nox.Session, name: str) -> None:
    if any(not argument.startswith("-") for argument in session.posargs):
        session.error(f'usage: nox -s "build({name})" [-- --push]')
    _finish(session, lambda ws, rep: _build(ws, rep, [name, *session.posargs]))


_per_pipeline("build", "Build the image of", _build_one)
