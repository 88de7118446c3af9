"""The Docker engine and registry, through python-on-whales: one object, chosen once per run.

The builder is chosen once and logged: buildx where the plugin is installed (users' machines,
GitHub runners); otherwise, with a Docker client older than 23 (which still carries a BuildKit
client of its own), the engine's BuildKit through `DOCKER_BUILDKIT=1 docker build`; otherwise
the legacy builder. The `builder` setting forces one of them. python-on-whales runs the engine
builder's `docker build` only without a per-build environment and prints its output, so those
builds go through its command and streaming helpers with `DOCKER_BUILDKIT` set per command.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from python_on_whales import DockerClient
from python_on_whales.client_config import ClientNotFoundError
from python_on_whales.exceptions import DockerException, NoSuchImage
from python_on_whales.utils import run, stream_stdout_and_stderr

from pipeline_tools.errors import ConfigError, ToolError
from pipeline_tools.settings import Settings

FIRST_CLIENT_WITHOUT_BUILDKIT = 23  # from Docker 23 on, `docker build` hands BuildKit to buildx
REFUSED = ("unauthorized", "denied", "no basic auth credentials", "authentication required")
ABSENT_MANIFEST = ("no such manifest", "manifest unknown", "not found", "name unknown")
# python-on-whales logs every command it runs; the reporter and the build logs say what matters.
logging.getLogger("python_on_whales").setLevel(logging.WARNING)
ENGINE_FIX = "start it with scripts/docker-engine.sh (or Docker Desktop), or check DOCKER_HOST"


class Builder(enum.Enum):
    """How images are built."""

    BUILDX = "buildx"
    BUILDKIT = "buildkit"
    LEGACY = "legacy"


class RegistryError(ToolError):
    """A registry that does not answer or refuses access."""


@dataclass(frozen=True)
class BuildRequest:
    """One `docker build`: context folder, Dockerfile, arguments, labels and tags."""

    context: Path
    dockerfile: Path
    build_args: Mapping[str, str]
    labels: Mapping[str, str]
    tags: Sequence[str]


@dataclass(frozen=True)
class Engine:
    """A Docker engine that answered, the builder chosen for it and the build network."""

    client: DockerClient
    builder: Builder
    reason: str  # why this builder, for the log
    network: str | None
    server_version: str

    def describe(self) -> str:
        """One line for the start of a run."""
        network = self.network or "the engine's default"
        return (
            f"Docker engine {self.server_version}; builder: {self.builder.value} "
            f"({self.reason}); build network: {network}"
        )

    def local_id(self, reference: str) -> str | None:
        """The image ID (the digest of its config) of a local image, or None when absent."""
        try:
            return str(self.client.image.inspect(reference).id)
        except NoSuchImage:
            return None

    def registry_id(self, reference: str, *, insecure: bool) -> str | None:
        """The config digest (image ID) of an image in its registry, or None when absent."""
        manifest = self._manifest(reference, insecure=insecure)
        if manifest is None:
            return None
        if "manifests" in manifest:  # an index: the entry of this engine's platform
            digest = _platform_entry(manifest["manifests"])
            repository = reference.rsplit(":", 1)[0]
            manifest = self._manifest(f"{repository}@{digest}", insecure=insecure)
        config = (manifest or {}).get("config", {})
        return str(config["digest"]) if isinstance(config, dict) and "digest" in config else None

    def build(self, request: BuildRequest) -> Iterator[str]:
        """Build an image into the engine's store, yielding its output line by line."""
        if self.builder is Builder.BUILDX:
            return self._buildx(request)
        return self._engine_build(request)

    def push(self, references: Sequence[str]) -> Iterator[str]:
        """Push local tags to their registry, yielding progress lines."""
        for reference in references:
            yield f"$ docker push {reference}"
            for _, line in self.client.image.push(reference, stream_logs=True) or ():
                yield line.decode(errors="replace").rstrip()

    def tag(self, source: str, target: str) -> None:
        """Give a local image one more tag."""
        self.client.image.tag(source, target)

    def login(self, server: str, username: str, password: str) -> None:
        """Log in to a registry; the password goes to the client on its standard input."""
        self.client.login(server=server, username=username, password=password)

    def reclaim(self, references: Sequence[str]) -> None:
        """Free disk: remove the given images, then dangling images and unused build cache."""
        if references:
            self.client.image.remove(list(references), force=True, prune=True)
        self.client.image.prune()
        if self.builder is Builder.BUILDX:
            self.client.buildx.prune()
        elif self.builder is Builder.BUILDKIT:
            run([*self.client.client_config.docker_cmd, "builder", "prune", "--force"])

    def _buildx(self, request: BuildRequest) -> Iterator[str]:
        lines = self.client.buildx.build(
            request.context,
            file=request.dockerfile,
            build_args=dict(request.build_args),
            labels=dict(request.labels),
            tags=list(request.tags),
            network=self.network,
            allow=["network.host"] if self.network == "host" else [],
            load=True,
            provenance=False,
            progress="plain",
            stream_logs=True,
        )
        return cast(Iterator[str], lines)

    def _engine_build(self, request: BuildRequest) -> Iterator[str]:
        command = [*self.client.client_config.docker_cmd, "build"]
        command += ["--file", str(request.dockerfile)]
        if self.builder is Builder.BUILDKIT:
            command += ["--progress", "plain"]
        if self.network:
            command += ["--network", self.network]
        for flag, values in (("--build-arg", request.build_args), ("--label", request.labels)):
            for key, value in values.items():
                command += [flag, f"{key}={value}"]
        for tag in request.tags:
            command += ["--tag", tag]
        buildkit = "1" if self.builder is Builder.BUILDKIT else "0"
        command.append(str(request.context))
        for _, line in stream_stdout_and_stderr(command, env={"DOCKER_BUILDKIT": buildkit}):
            yield line.decode(errors="replace").rstrip()

    def _manifest(self, reference: str, *, insecure: bool) -> dict[str, object] | None:
        command = [*self.client.client_config.docker_cmd, "manifest", "inspect"]
        command += ["--insecure", reference] if insecure else [reference]
        try:
            output = str(run(command))
        except DockerException as error:
            detail = explain_engine_error(error)
            if any(marker in detail.lower() for marker in ABSENT_MANIFEST):
                return None
            raise RegistryError(_registry_problem(reference, detail)) from None
        return cast(dict[str, object], json.loads(output))


def connect(settings: Settings) -> Engine:
    """Reach the Docker engine and choose the builder and the build network, once."""
    client = DockerClient(client_call=[settings.docker_binary])
    server_version, client_version = _versions(client, settings.docker_binary)
    builder, reason = _choose_builder(client, settings.builder, client_version)
    network = settings.build_network or (None if _has_bridge(client) else "host")
    return Engine(client, builder, reason, network, server_version)


def is_insecure(engine: Engine, host: str) -> bool:
    """Whether the engine talks plain HTTP to `host`: loopback, or listed as insecure."""
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 else host.strip("[]")
    if name == "localhost" or _is_loopback(name):
        return True
    output = str(run([*engine.client.client_config.docker_cmd, "info", "--format", "{{json .}}"]))
    registry_config = json.loads(output).get("RegistryConfig") or {}
    index = (registry_config.get("IndexConfigs") or {}).get(host) or {}
    return index.get("Secure") is False


def explain_engine_error(error: DockerException) -> str:
    """One sentence for a Docker command that failed because of the engine or the client."""
    return _first_line(error.stderr or "") if error.stderr else f"exit status {error.return_code}"


def _versions(client: DockerClient, binary: str) -> tuple[str, str]:
    try:
        version = client.version()
    except DockerException as error:
        raise ToolError(
            f"the Docker engine does not answer ({explain_engine_error(error)}); {ENGINE_FIX}"
        ) from None
    except ClientNotFoundError:
        raise ToolError(
            f"the Docker client '{binary}' is not installed or not on PATH; install Docker, "
            "or set PIPELINES_DOCKER_BINARY to the client's path"
        ) from None
    server = version.server.version if version.server and version.server.version else "unknown"
    client_version = version.client.version if version.client and version.client.version else ""
    return server, client_version


def _choose_builder(client: DockerClient, wanted: str, client_version: str) -> tuple[Builder, str]:
    if wanted != "auto":
        try:
            return Builder(wanted), "set by the builder setting"
        except ValueError:
            choices = ", ".join(["auto", *(builder.value for builder in Builder)])
            raise ConfigError(
                f"builder = {wanted!r} ([tool.pipeline-tools] or PIPELINES_BUILDER) is not a "
                f"builder; use one of {choices}"
            ) from None
    try:
        return Builder.BUILDX, f"buildx {client.buildx.version().split()[1]}"
    except (DockerException, IndexError):
        pass
    major = int(client_version.split(".", maxsplit=1)[0]) if client_version[:1].isdigit() else 0
    if 0 < major < FIRST_CLIENT_WITHOUT_BUILDKIT:
        return Builder.BUILDKIT, f"no buildx; Docker client {client_version} runs BuildKit itself"
    return Builder.LEGACY, f"no buildx plugin for Docker client {client_version}"


def _has_bridge(client: DockerClient) -> bool:
    names = str(run([*client.client_config.docker_cmd, "network", "ls", "--format", "{{.Name}}"]))
    return "bridge" in names.split()


def _platform_entry(entries: object) -> str:
    candidates = (
        [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
    )
    for entry in candidates:
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") in {"amd64", "arm64"}:
            return str(entry["digest"])
    return str(candidates[0]["digest"]) if candidates else ""


def _registry_problem(reference: str, detail: str) -> str:
    registry = reference.split("/", 1)[0]
    lowered = detail.lower()
    if any(marker in lowered for marker in REFUSED):
        return (
            f"the registry {registry} refused access to {reference} ({detail}); set "
            "PIPELINES_REGISTRY_USERNAME and PIPELINES_REGISTRY_PASSWORD, or log in with docker"
        )
    return (
        f"the registry {registry} does not answer ({detail}); start it, or fix the registry "
        "setting (PIPELINES_REGISTRY)"
    )


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no output"
