"""Run a pipeline's flow once, locally, in the pipeline's own environment."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from pipeline_tools import environments, flowsource
from pipeline_tools.errors import ExitCode, ToolError
from pipeline_tools.reporter import Reporter
from pipeline_tools.workspace import Pipeline, Workspace

RUNNER = Path(__file__).with_name("_run_flow.py")


def run_pipeline(
    workspace: Workspace, name: str, assignments: Sequence[str], reporter: Reporter
) -> ExitCode:
    """Check the key=value parameters against the flow's signature, then run the flow once."""
    pipeline = workspace.get(name)
    check_parameters(pipeline, assignments)
    python = environments.sync(workspace.settings, pipeline, reporter)
    argv = [str(python), str(RUNNER), f"{pipeline.name}.flow", pipeline.name, *assignments]
    reporter.command(argv)
    prefect_home = workspace.settings.state_path / "prefect-run"
    completed = subprocess.run(
        argv,
        cwd=workspace.settings.root,
        env=environments.pipeline_environ(workspace.settings, {"PREFECT_HOME": str(prefect_home)}),
        check=False,
    )
    return ExitCode.OK if completed.returncode == 0 else ExitCode.FAILED


def check_parameters(pipeline: Pipeline, assignments: Sequence[str]) -> None:
    """Refuse words that are not key=value or name a parameter the flow does not take."""
    flow = flowsource.read_flows(pipeline.flow_file).get(pipeline.name)
    if flow is None:
        raise ToolError(
            f"{pipeline.flow_file} has no @flow function named {pipeline.name}; "
            "name the pipeline's flow function after its folder"
        )
    known = [parameter.name for parameter in flow.parameters]
    for word in assignments:
        key, equals, _ = word.partition("=")
        if not equals or not key:
            raise ToolError(f"'{word}' is not a parameter; write it as key=value")
        if key not in known and not flow.accepts_any_keyword:
            raise ToolError(
                f"the flow {pipeline.name} has no parameter '{key}'; "
                f"it takes: {', '.join(known) or 'no parameters'}"
            )
