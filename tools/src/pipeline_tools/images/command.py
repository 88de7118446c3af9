"""What the build sessions run: read their arguments, choose the images, build them."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline_tools.errors import ExitCode
from pipeline_tools.images.arguments import parse_build_arguments
from pipeline_tools.images.build import build_base, build_images
from pipeline_tools.plan import LastDeployed, make_plan
from pipeline_tools.reporter import Reporter
from pipeline_tools.workspace import Workspace


def build_command(
    workspace: Workspace,
    arguments: Sequence[str],
    reporter: Reporter,
    *,
    base: bool = False,
    last_deployed: LastDeployed | None = None,
) -> ExitCode:
    """Build the base image, the named images, or (with --env) those the plan calls affected."""
    request = parse_build_arguments(arguments, base=base)
    if base:
        return build_base(workspace, push=request.push, reporter=reporter).exit_code
    names = list(request.names)
    if request.environment:
        plan = make_plan(
            workspace,
            environment=request.environment,
            names=names,
            last_deployed=last_deployed,
            reporter=reporter,
        )
        names = [image.pipeline for image in plan.images]
        if not names:
            reporter.info(f"no image to build for {request.environment}: nothing affected")
            return ExitCode.OK
    return build_images(workspace, names, push=request.push, reporter=reporter).exit_code
