"""Build and push the base image and pipeline images, several at a time, each only when needed.

Every image gets a content tag (see `tags`) plus the short git hash (`-dirty` when one of its
files differs from the commit); the base image also gets `latest`. With `push`, an image whose
content tag the registry already holds is neither built nor pushed: the deploy uses that one.
Without `push`, an image already in the local store is not rebuilt.

The Dockerfiles are written for BuildKit: `RUN --mount=type=cache,target=/root/.cache/uv`
keeps uv's cache outside the image and reuses it across builds. The legacy builder rejects that
flag, so for it alone the library sends a derived Dockerfile (`dockerfile.for_legacy_builder`):
cache mounts dropped, `ARG UV_NO_CACHE=1` after each FROM so that uv leaves no cache in a layer.
A cache changes no file of the image, so both Dockerfiles give the same image and the same tag.

Images are built `build_concurrency` at a time. Each has a log file under the state folder
(`build-logs/<image>.log`) and progress lines on the reporter; one failing build does not stop
the others, and the report names each failure with its log. With `reclaim_disk`, images are
built in batches of `build_concurrency` and, between batches, the pipeline images just pushed,
dangling images and the build cache are removed; the base image never is.
"""

from __future__ import annotations

import enum
import os
import re
import tempfile
import threading
import time
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from python_on_whales.exceptions import DockerException

from pipeline_tools.errors import ConfigError, ExitCode, ToolError
from pipeline_tools.images import dockerfile
from pipeline_tools.images.context import BuildContext, base_context, materialize, pipeline_context
from pipeline_tools.images.engine import (
    Builder,
    BuildRequest,
    Engine,
    connect,
    explain_engine_error,
    is_insecure,
)
from pipeline_tools.images.tags import GitState, LockIndex, content_tag, git_state, read_lock
from pipeline_tools.images.tags import source_url as read_source_url
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings
from pipeline_tools.workspace import Pipeline, Workspace, normalize

# Environment variables holding the registry login (names only; the values are never shown).
LOGIN_VARIABLES = ("PIPELINES_REGISTRY_USERNAME", "PIPELINES_REGISTRY_PASSWORD")
LABEL = "org.opencontainers.image."
LOG_TAIL = 200  # lines of a build's output kept in memory to explain its failure
STEP_TEXT = 70
BUILDKIT_STEP = re.compile(r"^#\d+ \[(?:[\w.-]+ )?(\d+)/(\d+)\] (.+)$")
LEGACY_STEP = re.compile(r"^Step (\d+)/(\d+) : (.+)$")
# Output of a build whose FROM image cannot be had (legacy builder, engine BuildKit, buildx).
MISSING_IMAGE = (
    "pull access denied",
    "failed to resolve source metadata",
    "repository does not exist",
    "manifest unknown",
    "/v2/",
    "failed to create llb definition",
)
MISSING_FILE = ("not found in build context", "failed to compute cache key")
EXIT_CODE = re.compile(r"(?:non-zero code|exit code):? (\d+)")
STEP_FAILED = ("returned a non-zero code", "did not complete successfully", "executor failed")


class Status(enum.Enum):
    """What happened to one image."""

    BUILT = "built"
    BUILT_PUSHED = "built, pushed"
    PUSHED = "pushed"
    PRESENT = "present"
    FAILED = "failed"


@dataclass(frozen=True)
class ImageSpec:
    """Everything one image needs, known before any build starts."""

    name: str
    repository: str
    content_tag: str
    extra_tags: tuple[str, ...]
    context: BuildContext
    dockerfile: Path
    dockerfile_text: str
    build_args: Mapping[str, str]
    labels: Mapping[str, str]
    problem: str = ""  # a reason it cannot be built at all, found before building

    @property
    def reference(self) -> str:
        """The image by its content tag."""
        return f"{self.repository}:{self.content_tag}"

    @property
    def references(self) -> list[str]:
        """Every tag the image gets: the content tag first."""
        return [self.reference, *(f"{self.repository}:{tag}" for tag in self.extra_tags)]


@dataclass(frozen=True)
class ImageOutcome:
    """One image's result, its reference, duration and log file."""

    name: str
    reference: str
    status: Status
    seconds: float
    log: Path
    problem: str = ""


@dataclass(frozen=True)
class BuildReport:
    """Every image of a run, the base image first."""

    builder: str
    outcomes: tuple[ImageOutcome, ...]

    @property
    def failures(self) -> list[ImageOutcome]:
        """Images that failed."""
        return [outcome for outcome in self.outcomes if outcome.status is Status.FAILED]

    @property
    def exit_code(self) -> ExitCode:
        """FAILED when any image failed."""
        return ExitCode.FAILED if self.failures else ExitCode.OK

    def reference(self, name: str) -> str:
        """The content-tag reference of the image called `name` in this report."""
        for outcome in self.outcomes:
            if outcome.name == name:
                return outcome.reference
        raise KeyError(name)


@dataclass(frozen=True)
class BaseImage:
    """The base image pipeline images start from: its reference and image ID."""

    reference: str
    digest: str


@dataclass(frozen=True)
class _Run:
    """What every image of one run shares."""

    workspace: Workspace
    engine: Engine
    push: bool
    insecure: bool
    git: GitState
    lock: LockIndex
    source: str
    created: str
    progress: _Progress

    @property
    def settings(self) -> Settings:
        """The workspace's settings."""
        return self.workspace.settings

    @property
    def logs(self) -> Path:
        """Folder of the build logs."""
        return self.settings.state_path / "build-logs"


@dataclass
class _Progress:
    """Progress lines on the reporter, one writer at a time, the current step of each image."""

    reporter: Reporter
    steps: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, name: str, message: str) -> None:
        """A progress line about one image."""
        with self.lock:
            self.reporter.info(f"[{name}] {message}")

    def output(self, name: str, line: str) -> None:
        """Follow a build's output; report each step when it starts."""
        match = BUILDKIT_STEP.match(line) or LEGACY_STEP.match(line)
        if match is None:
            return
        number, total, text = match.groups()
        if text.startswith("LABEL " + LABEL):  # labels the legacy builder appends as steps
            return
        step = f"step {number}/{total}: {_shorten(text)}"
        with self.lock:
            if self.steps.get(name) == step:
                return
            self.steps[name] = step
            self.reporter.info(f"[{name}] {step}")


class _ImageFailure(Exception):
    """One image that cannot be built or pushed; the message says why and where to look."""


def build_images(
    workspace: Workspace, names: Sequence[str], *, push: bool, reporter: Reporter
) -> BuildReport:
    """Build the named pipelines' images (all when none is named) on the base image.

    The base image is built first when it is missing. With `push`, images go to the registry.
    """
    pipelines = workspace.select(names)
    run = _start(workspace, push, reporter)
    base_outcome, base = _ensure_base(run)
    if base is None:
        return _report(
            run, [base_outcome, *(_without_base(run, p, base_outcome) for p in pipelines)]
        )
    specs = [_pipeline_spec(run, pipeline, base) for pipeline in pipelines]
    return _report(run, [base_outcome, *_realize_all(run, specs)])


def build_base(workspace: Workspace, *, push: bool, reporter: Reporter) -> BuildReport:
    """Build the base image from the root Dockerfile (and with `push`, push it)."""
    run = _start(workspace, push, reporter)
    base_outcome, _ = _ensure_base(run)
    return _report(run, [base_outcome])


def image_references(
    workspace: Workspace, names: Sequence[str], reporter: Reporter
) -> dict[str, str]:
    """The image each named pipeline runs, by content tag, without building anything.

    The base image must exist locally or in the registry (`nox -s build-base`).
    """
    run = _start(workspace, False, reporter)
    spec = _base_spec(run)
    digest = run.engine.local_id(spec.reference) or _registry_id(run, spec.reference)
    if digest is None:
        raise ToolError(
            f"the base image {spec.reference} is neither in the local store nor in the "
            "registry; build it first: nox -s build-base -- --push"
        )
    base = BaseImage(spec.reference, digest)
    specs = [_pipeline_spec(run, pipeline, base) for pipeline in workspace.select(names)]
    return {spec.name: spec.reference for spec in specs}


def repository(settings: Settings, name: str) -> str:
    """The repository of an image: `<registry>/<name>`, or `<name>` without a registry."""
    registry = settings.registry.strip().rstrip("/")
    return f"{registry}/{name}" if registry else name


# --- a run ------------------------------------------------------------------------------------


def _start(workspace: Workspace, push: bool, reporter: Reporter) -> _Run:
    settings = workspace.settings
    if push and not settings.registry:
        raise ConfigError(
            "--push needs a registry; set registry in [tool.pipeline-tools] of pyproject.toml "
            "or PIPELINES_REGISTRY (host[:port]/namespace)"
        )
    engine = connect(settings)
    reporter.info(engine.describe())
    reporter.info(
        f"registry: {settings.registry or 'none (images stay local)'}; push: {push}; "
        f"concurrency: {settings.build_concurrency}; reclaim disk: {settings.reclaim_disk}"
    )
    insecure = bool(settings.registry) and is_insecure(engine, _registry_host(settings))
    run = _Run(
        workspace=workspace,
        engine=engine,
        push=push,
        insecure=insecure,
        git=git_state(settings.root),
        lock=read_lock(settings.root),
        source=read_source_url(settings.root),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        progress=_Progress(reporter),
    )
    _login(run, reporter)
    if push:
        _registry_id(run, repository(settings, settings.base_image_name) + ":latest")
    return run


def _login(run: _Run, reporter: Reporter) -> None:
    """Log in to the registry when credentials are in the environment; they are never shown."""
    user_variable, password_variable = LOGIN_VARIABLES
    username, password = os.environ.get(user_variable), os.environ.get(password_variable)
    if not run.settings.registry or not (username or password):
        return
    if not (username and password):
        raise ConfigError(f"set both {user_variable} and {password_variable}, or neither")
    reporter.hide(password)
    reporter.hide(username)
    host = _registry_host(run.settings)
    reporter.info(f"Logging in to {host} as ${user_variable}")
    try:
        run.engine.login(host, username, password)
    except DockerException as error:
        raise ToolError(
            f"docker login to {host} failed ({explain_engine_error(error)}); check "
            f"{user_variable} and {password_variable}"
        ) from None


def _registry_id(run: _Run, reference: str) -> str | None:
    if not run.settings.registry:
        return None
    return run.engine.registry_id(reference, insecure=run.insecure)


def _report(run: _Run, outcomes: Sequence[ImageOutcome]) -> BuildReport:
    reporter = run.progress.reporter
    rows = [
        [o.name, o.status.value, o.reference, f"{o.seconds:.1f}", _relative(run, o.log)]
        for o in outcomes
    ]
    reporter.table(["image", "result", "reference", "seconds", "log"], rows)
    for outcome in outcomes:
        if outcome.status is Status.FAILED:
            reporter.error(f"{outcome.name}: {outcome.problem}")
    failed = sum(outcome.status is Status.FAILED for outcome in outcomes)
    reporter.info(f"{len(outcomes)} images, {len(outcomes) - failed} ready, {failed} failed")
    return BuildReport(run.engine.builder.value, tuple(outcomes))


# --- specs ------------------------------------------------------------------------------------


def base_content_tag(workspace: Workspace, lock: LockIndex | None = None) -> str:
    """The content tag of the base image (root Dockerfile, project files, Python and uv images)."""
    return _base_inputs(workspace.settings, lock or read_lock(workspace.settings.root)).tag


def pipeline_content_tag(
    workspace: Workspace, name: str, base: BaseImage, lock: LockIndex | None = None
) -> str:
    """The content tag of a pipeline's image built on `base`, without building anything."""
    lock = lock or read_lock(workspace.settings.root)
    return _pipeline_inputs(workspace, workspace.get(name), lock, base).tag


@dataclass(frozen=True)
class _Inputs:
    """What an image is made of, and the content tag that sums it up."""

    context: BuildContext
    dockerfile_text: str
    build_args: Mapping[str, str]
    tag: str


def _base_inputs(settings: Settings, lock: LockIndex) -> _Inputs:
    text = _read_dockerfile(settings.root / "Dockerfile", settings.root)
    context = base_context(settings.root)
    build_args = {"PYTHON_IMAGE": settings.python_image, "UV_IMAGE": settings.uv_image}
    locked = lock.closure(_root_project(settings.root))
    return _Inputs(context, text, build_args, content_tag(context, text, locked, build_args, ""))


def _pipeline_inputs(
    workspace: Workspace, pipeline: Pipeline, lock: LockIndex, base: BaseImage
) -> _Inputs:
    """Raises ToolError for a missing or invalid Dockerfile and a package missing from the lock."""
    context = pipeline_context(workspace, pipeline)
    text = _read_dockerfile(pipeline.dockerfile, workspace.settings.root)
    locked = lock.closure(normalize(pipeline.project_name or pipeline.name))
    build_args = {"BASE_IMAGE": base.reference}
    tag = content_tag(context, text, locked, build_args, base.digest)
    return _Inputs(context, text, build_args, tag)


def _base_spec(run: _Run) -> ImageSpec:
    settings = run.settings
    inputs = _base_inputs(settings, run.lock)
    name = settings.base_image_name
    return ImageSpec(
        name=name,
        repository=repository(settings, name),
        content_tag=inputs.tag,
        extra_tags=(*_git_tags(run, [*inputs.context.targets, "Dockerfile"]), "latest"),
        context=inputs.context,
        dockerfile=settings.root / "Dockerfile",
        dockerfile_text=inputs.dockerfile_text,
        build_args=inputs.build_args,
        labels=_labels(run, name, inputs.tag, {"base.name": settings.python_image}),
    )


def _pipeline_spec(run: _Run, pipeline: Pipeline, base: BaseImage) -> ImageSpec:
    spec = ImageSpec(
        name=pipeline.name,
        repository=repository(run.settings, pipeline.name),
        content_tag="invalid",
        extra_tags=(),
        context=BuildContext((), ()),
        dockerfile=pipeline.dockerfile,
        dockerfile_text="",
        build_args={},
        labels={},
    )
    try:
        inputs = _pipeline_inputs(run.workspace, pipeline, run.lock, base)
    except ToolError as error:
        return replace(spec, problem=str(error))
    base_labels = {"base.name": base.reference, "base.digest": base.digest}
    return replace(
        spec,
        content_tag=inputs.tag,
        extra_tags=_git_tags(run, inputs.context.targets),
        context=inputs.context,
        dockerfile_text=inputs.dockerfile_text,
        build_args=inputs.build_args,
        labels=_labels(run, pipeline.name, inputs.tag, base_labels),
    )


def _read_dockerfile(path: Path, root: Path) -> str:
    display = _display(path, root)
    if not path.is_file():
        raise ConfigError(
            f"{display}: missing; copy the template's Dockerfile "
            "(templates/{{cookiecutter.__folder}}/Dockerfile) and put the pipeline's name in it"
        )
    text = path.read_text("utf-8")
    try:
        dockerfile.parse(text, display)
    except dockerfile.DockerfileError as error:
        raise ConfigError(str(error)) from None
    return text


def _root_project(root: Path) -> str:
    document = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    return normalize(str(document.get("project", {}).get("name", "")))


def _git_tags(run: _Run, paths: Iterable[str]) -> tuple[str, ...]:
    tag = run.git.tag_for(paths)
    return (tag,) if tag else ()


def _labels(run: _Run, title: str, tag: str, extra: Mapping[str, str]) -> dict[str, str]:
    values = {
        "title": title,
        "version": tag,
        "created": run.created,
        "revision": run.git.revision,
        "source": run.source,
        **extra,
    }
    return {LABEL + key: value for key, value in values.items() if value}


# --- building ---------------------------------------------------------------------------------


def _without_base(run: _Run, pipeline: Pipeline, base: ImageOutcome) -> ImageOutcome:
    """A pipeline image that cannot be built because its base image failed."""
    problem = f"not built: its base image failed ({_relative(run, base.log)})"
    reference = repository(run.settings, pipeline.name)
    return ImageOutcome(pipeline.name, reference, Status.FAILED, 0.0, base.log, problem)


def _ensure_base(run: _Run) -> tuple[ImageOutcome, BaseImage | None]:
    spec = _base_spec(run)
    outcome = _realize(run, spec)
    if outcome.status is Status.FAILED:
        return outcome, None
    digest = run.engine.local_id(spec.reference) or _registry_id(run, spec.reference)
    return outcome, BaseImage(spec.reference, digest or "")


def _realize_all(run: _Run, specs: Sequence[ImageSpec]) -> list[ImageOutcome]:
    size = max(1, run.settings.build_concurrency)
    batches = _batches(specs, size) if run.settings.reclaim_disk else [list(specs)]
    outcomes: list[ImageOutcome] = []
    with ThreadPoolExecutor(max_workers=size) as pool:
        for batch in batches:
            done = list(pool.map(lambda spec: _realize(run, spec), batch))
            outcomes.extend(done)
            if run.settings.reclaim_disk:
                _reclaim(run, done)
    return outcomes


def _batches(specs: Sequence[ImageSpec], size: int) -> list[list[ImageSpec]]:
    return [list(specs[start : start + size]) for start in range(0, len(specs), size)]


def _reclaim(run: _Run, done: Sequence[ImageOutcome]) -> None:
    """Remove what this batch pushed (never the base image), dangling images and build cache."""
    pushed = {o.name for o in done if o.status in (Status.PUSHED, Status.BUILT_PUSHED)}
    base = run.settings.base_image_name
    references = [o.reference for o in done if o.name in pushed and o.name != base]
    run.progress.say("disk", f"reclaiming: {len(references)} pushed images, unused build data")
    try:
        run.engine.reclaim(references)
    except DockerException as error:
        run.progress.say("disk", f"could not reclaim disk: {explain_engine_error(error)}")


def _realize(run: _Run, spec: ImageSpec) -> ImageOutcome:
    """Make one image available (locally, and in the registry with push), or say why not."""
    started = time.monotonic()
    log_path = run.logs / f"{spec.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        try:
            status, problem = _produce(run, spec, log, log_path), ""
        except (_ImageFailure, ToolError) as failure:
            status, problem = Status.FAILED, str(failure)
        except DockerException as error:  # the engine failing under us, e.g. stopped
            status, problem = Status.FAILED, f"Docker failed: {explain_engine_error(error)}"
        if problem:
            log.write(f"error: {problem}\n")
    outcome = ImageOutcome(
        spec.name, spec.reference, status, time.monotonic() - started, log_path, problem
    )
    run.progress.say(spec.name, f"{status.value} in {outcome.seconds:.1f}s")
    return outcome


def _produce(run: _Run, spec: ImageSpec, log: TextIO, log_path: Path) -> Status:
    if spec.problem:
        raise _ImageFailure(spec.problem)
    log.write(f"image {spec.reference}\ncontext files:\n")
    log.writelines(f"  {target}\n" for target in spec.context.targets)
    log.writelines(f"  left out (never sent): {path}\n" for path in spec.context.denied)
    if run.push and _in_registry(run, spec):
        log.write("the registry already holds this content tag: nothing to build or push\n")
        return Status.PRESENT
    built = run.engine.local_id(spec.reference) is None
    if built:
        _build(run, spec, log, log_path)
    else:
        _add_tags(run, spec)
    if run.push:
        _push(run, spec, log, log_path)
        return Status.BUILT_PUSHED if built else Status.PUSHED
    return Status.BUILT if built else Status.PRESENT


def _in_registry(run: _Run, spec: ImageSpec) -> bool:
    return _registry_id(run, spec.reference) is not None


def _add_tags(run: _Run, spec: ImageSpec) -> None:
    for reference in spec.references[1:]:
        run.engine.tag(spec.reference, reference)


def _build(run: _Run, spec: ImageSpec, log: TextIO, log_path: Path) -> None:
    run.progress.say(spec.name, f"building {spec.reference}")
    tail: deque[str] = deque(maxlen=LOG_TAIL)
    with tempfile.TemporaryDirectory(prefix="image-context-") as temporary:
        request = _prepare(run, spec, Path(temporary))
        log.write(f"builder: {run.engine.builder.value}\n")
        try:
            for line in run.engine.build(request):
                log.write(line + "\n")
                tail.append(line)
                run.progress.output(spec.name, line)
        except DockerException as error:
            tail.extend((error.stderr or "").splitlines())
            raise _ImageFailure(_explain_failure(run, spec, tail, log_path)) from None


def _prepare(run: _Run, spec: ImageSpec, folder: Path) -> BuildRequest:
    """Write the context and the Dockerfile the chosen builder understands into `folder`."""
    text = spec.dockerfile_text
    if run.engine.builder is Builder.LEGACY:
        try:
            text = dockerfile.for_legacy_builder(text, _display(spec.dockerfile, run.settings.root))
        except dockerfile.DockerfileError as error:
            raise _ImageFailure(str(error)) from None
    context = materialize(spec.context, folder / "context")
    path = folder / "Dockerfile"
    path.write_text(text, encoding="utf-8")
    return BuildRequest(context, path, spec.build_args, spec.labels, spec.references)


def _push(run: _Run, spec: ImageSpec, log: TextIO, log_path: Path) -> None:
    run.progress.say(spec.name, f"pushing {spec.reference}")
    try:
        for line in run.engine.push(spec.references):
            log.write(line + "\n")
    except DockerException as error:
        raise _ImageFailure(
            f"push to {_registry_host(run.settings)} failed ({explain_engine_error(error)}); "
            f"see {_relative(run, log_path)}"
        ) from None


def _explain_failure(run: _Run, spec: ImageSpec, tail: Iterable[str], log_path: Path) -> str:
    """One sentence for a failed build, from the end of its output."""
    lines = [line for line in tail if line.strip()]
    lowered = [line.lower() for line in lines]
    display = _display(spec.dockerfile, run.settings.root)
    log = _relative(run, log_path)
    if any(marker in line for line in lowered for marker in MISSING_IMAGE):
        named = _from_images(spec, display)
        images = ", ".join([i for i in named if any(i in line for line in lines)] or named)
        return (
            f"{display}: an image it starts FROM ({images}) cannot be found locally or pulled; "
            "build it, fix the FROM line, or point the settings at an image that exists "
            "(PIPELINES_PYTHON_IMAGE, PIPELINES_UV_IMAGE; see scripts/standin-images.sh); "
            f"see {log}"
        )
    if any(marker in line for line in lowered for marker in MISSING_FILE):
        return (
            f"{display}: a COPY names a file that is not in the build context (only pyproject.toml,"
            " uv.lock and the folders of the pipeline and of the pipelines it depends on are "
            f"sent, without .dockerignored or secret files); see {log}"
        )
    step = run.progress.steps.get(spec.name, "a step")
    failures = [line for line in lines if _is_failure_line(line)]
    reason = failures[-1] if failures else (lines[-1] if lines else "no output")
    code = EXIT_CODE.search(reason)
    what = f"exit code {code.group(1)}" if code else _shorten(reason)
    return f"{display}: {step} failed ({what}); see {log}"


def _from_images(spec: ImageSpec, display: str) -> list[str]:
    try:
        instructions = dockerfile.parse(spec.dockerfile_text, display)
    except dockerfile.DockerfileError:
        return ["?"]
    return dockerfile.from_images(instructions, dict(spec.build_args)) or ["?"]


def _is_failure_line(line: str) -> bool:
    return any(marker in line.lower() for marker in STEP_FAILED)


def _registry_host(settings: Settings) -> str:
    return settings.registry.strip().split("/", 1)[0]


def _display(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _relative(run: _Run, path: Path) -> str:
    return _display(path, run.settings.root)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= STEP_TEXT else text[: STEP_TEXT - 3] + "..."
