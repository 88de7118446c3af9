"""Every name of a pipeline derives from its folder: package, flow, entrypoint, deployments,
image, Dockerfile and run commands. A mismatch names both places."""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Iterator

from pipeline_tools.checks.core import (
    Check,
    Context,
    Finding,
    Place,
    define,
    deployment_base,
    key_path,
)
from pipeline_tools.checks.prefect_file import Document
from pipeline_tools.checks.sources import (
    Instruction,
    copy_arguments,
    option_value,
    shell_commands,
    uv_sync_options,
)
from pipeline_tools.flowsource import FlowFunction
from pipeline_tools.prefectyaml import Deployment
from pipeline_tools.workspace import Pipeline, is_pipeline_name, normalize

FOLDER = define(
    "NAME001", "the folder is not named rj_<secretaria>__<pipeline> (a-z, 0-9, single _)"
)
PROJECT = define("NAME002", "[project] name in pyproject.toml differs from the folder")
PACKAGE = define("NAME003", "[tool.setuptools] packages or package-dir differ from the folder")
FLOW = define("NAME004", "flow.py has no @flow function named after the folder")
FLOW_NAME = define("NAME005", "@flow(name=...) differs from the folder")
ENTRYPOINT = define(
    "NAME006", "an entrypoint is not <file>.py:<function> inside the pipeline's folder"
)
ENTRY_FLOW = define("NAME007", "an entrypoint's function is not a @flow function of its file")
FILE_NAME = define("NAME008", "prefect.yaml `name` differs from the folder")
DEPLOYMENT = define(
    "NAME009", "a deployment name does not start with the folder's name (_ written -)"
)
IMAGE = define("NAME010", 'a deployment\'s image is not "{{ $PIPELINE_IMAGE }}"')
COPY = define("NAME011", "a Dockerfile COPY names another pipeline's folder")
SYNC = define("NAME012", "a Dockerfile `uv sync --package` names another project")
RUN = define("NAME013", "a run command in README.md names another pipeline")

IMAGE_TEMPLATE = "{{ $PIPELINE_IMAGE }}"
NOX_COMMAND = re.compile(r"nox -s\s+\"?([\w-]+)(?:\(([^)\s]*)\))?\"?(?:\s+--\s+(\S+))?")


def check(context: Context) -> Iterator[Finding]:
    """Every rule of this family, for each pipeline under check."""
    for pipeline in context.pipelines:
        yield from _folder(context, pipeline)
        yield from _project(context, pipeline)
        yield from _flow(context, pipeline)
        yield from _prefect_file(context, pipeline)
        yield from _dockerfile(context, pipeline)
        yield from _readme(context, pipeline)


def _folder(context: Context, pipeline: Pipeline) -> Iterator[Finding]:
    if not is_pipeline_name(pipeline.name):
        message = (
            f"the folder name {pipeline.name!r} is not rj_<secretaria>__<pipeline> in lowercase "
            "letters, digits and single underscores; rename the folder (nox -s new makes one)"
        )
        yield FOLDER.at(context.folder(pipeline), 1, message, pipeline=pipeline.name)


def _project(context: Context, pipeline: Pipeline) -> Iterator[Finding]:
    project = context.sources.project(pipeline)
    place = context.place(pipeline, project.path)
    if project.name != pipeline.name:
        message = (
            f"[project] name is {project.name!r} but the folder is {context.folder(pipeline)}; "
            f'write name = "{pipeline.name}"'
        )
        yield place.at(PROJECT, project.name_line, message, needle="name")
    packages_ok = project.packages is None or list(project.packages) == [pipeline.name]
    folder_ok = project.package_dir is None or project.package_dir == {pipeline.name: "."}
    if not (packages_ok and folder_ok):
        message = (
            f"[tool.setuptools] must install the folder as the package {pipeline.name}: "
            f'packages = ["{pipeline.name}"] and package-dir = {{ "{pipeline.name}" = "." }}'
        )
        yield place.at(PACKAGE, project.setuptools_line, message)


def _flow(context: Context, pipeline: Pipeline) -> Iterator[Finding]:
    relative = context.sources.relative(pipeline.flow_file)
    place = context.place(pipeline, relative)
    source = context.sources.flows(relative)
    if source.problem is not None:
        message = f"{source.problem.message}; the flow {pipeline.name} cannot be read"
        yield place.at(FLOW, source.problem.line, message)
        return
    flow = source.flows.get(pipeline.name)
    if flow is None:
        yield place.at(FLOW, 1, _missing_flow(pipeline.name, relative, list(source.flows)))
    elif flow.flow_name not in (None, pipeline.name):
        message = (
            f"@flow(name={flow.flow_name!r}) differs from the folder {context.folder(pipeline)}; "
            f'write @flow(name="{pipeline.name}")'
        )
        yield place.at(FLOW_NAME, _decorator_line(place, flow.line), message, needle="name")


def _decorator_line(place: Place, definition: int) -> int:
    """The line of the `@flow(...)` above a function's `def` (decorators come first)."""
    for number in range(definition - 1, max(definition - 6, 0), -1):
        if place.lines[number - 1].lstrip().startswith("@") and "flow" in place.lines[number - 1]:
            return number
    return definition


def _missing_flow(name: str, relative: str, flows: list[str]) -> str:
    close = difflib.get_close_matches(name, flows, n=1)
    found = f"; it has {close[0]}: rename it to {name}" if close else ""
    return f"{relative} has no function {name} decorated with @flow{found}"


def _prefect_file(context: Context, pipeline: Pipeline) -> Iterator[Finding]:
    prefect = context.sources.prefect(pipeline).file
    if prefect is None:
        return
    document = Document(prefect, context.place(pipeline, context.sources.relative(prefect.path)))
    name = prefect.raw.get("name")
    if name != pipeline.name:
        message = (
            f"prefect.yaml name is {name!r} but the folder is {context.folder(pipeline)}; "
            f"write name: {pipeline.name}"
        )
        yield document.at(FILE_NAME, ("name",) if "name" in prefect.raw else (), message)
    base = deployment_base(pipeline.name)
    for deployment in prefect.deployments:
        path = ("deployments", deployment.index)
        if deployment.name and not deployment.name.startswith((f"{base}--", f"{base}-")):
            message = (
                f"deployment {deployment.name!r} does not start with {base!r}, the name of "
                f"the folder {context.folder(pipeline)} with - for _; rename it {base}--<env>"
            )
            yield document.at(DEPLOYMENT, (*path, "name"), message)
        yield from _entrypoint(context, pipeline, document, deployment)
        yield from _image(document, deployment.index, deployment.raw.get("work_pool"))


def _entrypoint(
    context: Context, pipeline: Pipeline, document: Document, deployment: Deployment
) -> Iterator[Finding]:
    path = ("deployments", deployment.index, "entrypoint")
    entrypoint = deployment.entrypoint
    if not entrypoint:
        return
    file, colon, function = entrypoint.rpartition(":")
    folder = context.folder(pipeline)
    normal = posixpath.normpath(file) if file else ""
    if not colon or not function or not file.endswith(".py"):
        message = (
            f"entrypoint {entrypoint!r} is not <file>.py:<function>; "
            f"write {folder}/flow.py:{pipeline.name}"
        )
        yield document.at(ENTRYPOINT, path, message)
    elif file.startswith("/") or not normal.startswith(f"{folder}/"):
        message = (
            f"entrypoint {entrypoint!r} points outside the pipeline's folder {folder}/; "
            f"write {folder}/flow.py:{pipeline.name}"
        )
        yield document.at(ENTRYPOINT, path, message)
    else:
        yield from _entry_flow(context, document, path, normal, function)


def _entry_flow(
    context: Context, document: Document, path: tuple[str | int, ...], file: str, function: str
) -> Iterator[Finding]:
    source = context.sources.flows(file)
    if source.problem is not None:
        message = f"entrypoint file {file}: {source.problem.message}"
        yield document.at(ENTRY_FLOW, path, message)
    elif function not in source.flows:
        close = difflib.get_close_matches(function, list(source.flows), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        message = f"{file} has no function {function} decorated with @flow{hint}"
        yield document.at(ENTRY_FLOW, path, message)


def _image(document: Document, index: int, pool: object) -> Iterator[Finding]:
    variables = pool.get("job_variables") if isinstance(pool, dict) else None
    image = variables.get("image") if isinstance(variables, dict) else None
    if image == IMAGE_TEMPLATE:
        return
    path: tuple[str | int, ...] = ("deployments", index, "work_pool", "job_variables", "image")
    where = key_path(path)
    what = f"is {image!r}" if image is not None else "is not set"
    message = (
        f'{where} {what}; write image: "{IMAGE_TEMPLATE}" so the deploy sets the image '
        "built for this pipeline"
    )
    yield document.at(IMAGE, path if image is not None else path[:3], message)


def _dockerfile(context: Context, pipeline: Pipeline) -> Iterator[Finding]:
    instructions = context.sources.dockerfile(pipeline)
    if instructions is None:
        return
    place = context.place(pipeline, context.sources.relative(pipeline.dockerfile))
    allowed = own_folders(context, pipeline)
    for instruction in instructions:
        if instruction.keyword in {"COPY", "ADD"}:
            yield from _copy(context, place, pipeline, instruction, allowed)
        elif instruction.keyword == "RUN":
            yield from _sync(place, pipeline, instruction)


def own_folders(context: Context, pipeline: Pipeline) -> frozenset[str]:
    """The folders an image of `pipeline` may copy: its own and its workspace dependencies'."""
    folders = context.project_folders
    dependencies = {
        folders[normalize(name)]
        for name in pipeline.workspace_dependencies
        if normalize(name) in folders
    }
    return frozenset({context.folder(pipeline), *dependencies})


def _copy(
    context: Context,
    place: Place,
    pipeline: Pipeline,
    instruction: Instruction,
    allowed: frozenset[str],
) -> Iterator[Finding]:
    sources, destination, from_stage = copy_arguments(instruction)
    paths = [destination] if from_stage else [*sources, destination]
    prefix = context.settings.pipelines_dir.strip("/") + "/"
    for path in paths:
        normal = posixpath.normpath(path.lstrip("/").removeprefix("app/"))
        if not normal.startswith(prefix):
            continue
        folder = prefix + normal[len(prefix) :].split("/", 1)[0]
        if folder not in allowed:
            message = (
                f"{instruction.keyword} names {folder}/ but this is the Dockerfile of "
                f"{context.folder(pipeline)}/; write {context.folder(pipeline)}/"
            )
            yield place.at(COPY, instruction.line, message, needle=path)


def _sync(place: Place, pipeline: Pipeline, instruction: Instruction) -> Iterator[Finding]:
    for command in shell_commands(instruction.value):
        options = uv_sync_options(command)
        package = option_value(options, "--package") if options is not None else None
        if package is not None and package != pipeline.name:
            message = (
                f"uv sync --package {package} installs another project than "
                f"{pipeline.name}, the project of this folder; write --package {pipeline.name}"
            )
            yield place.at(SYNC, instruction.line, message, needle=package)


def _readme(context: Context, pipeline: Pipeline) -> Iterator[Finding]:
    relative = f"{context.folder(pipeline)}/README.md"
    text = context.sources.text(relative)
    if not text or "nox -s" not in text:
        return
    place = context.place(pipeline, relative)
    for number, line in enumerate(place.lines, start=1):
        for match in NOX_COMMAND.finditer(line):
            named = match.group(2) or match.group(3) or ""
            if named.startswith("rj_") and named != pipeline.name:
                message = (
                    f"`nox -s {match.group(1)}` names {named}, not this pipeline; "
                    f"write {pipeline.name}"
                )
                yield place.at(RUN, number, message, needle=named)


CHECK = Check("names", check)


def entry_flow(context: Context, pipeline: Pipeline, entrypoint: object) -> FlowFunction | None:
    """The @flow function an entrypoint names, when it is a valid one inside the folder."""
    if not isinstance(entrypoint, str):
        return None
    file, colon, function = entrypoint.rpartition(":")
    normal = posixpath.normpath(file) if file else ""
    if not colon or file.startswith("/") or not normal.startswith(f"{context.folder(pipeline)}/"):
        return None
    return context.sources.flows(normal).flows.get(function)
