"""The one place settings are read: the root pyproject table, then PIPELINES_* variables."""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from pipeline_tools.errors import ConfigError

TABLE = "pipeline-tools"
ENV_PREFIX = "PIPELINES_"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved settings of the repository; built by `load_settings` only."""

    root: Path
    pipelines_dir: str = "pipelines"
    state_dir: str = ".state"
    # Python and uv images the root Dockerfile starts from (build ARGs).
    python_image: str = "python:3.13-slim-bookworm"
    uv_image: str = "ghcr.io/astral-sh/uv:0.13.9"
    # Sync environments with `uv sync --locked` (fail when uv.lock is stale) instead of
    # updating the lock; defaults to true when the CI variable is set.
    locked: bool = False
    # Git branch that pull requests merge into; the default base of a change.
    default_branch: str = "main"
    # Environments a pipeline deploys to; a deployment belongs to the one its name ends with.
    environments: tuple[str, ...] = ("staging", "prod")
    staging_work_pool: str = "staging-pool"
    prod_work_pool: str = "prod-pool"
    local_work_pool: str = "local-pool"
    # Registry that images are pushed to (host[:port]/namespace); empty keeps images local.
    registry: str = ""
    base_image_name: str = "prefect_rj_iplanrio-base"
    # Docker client binary and the network builds use ("host" where there is no bridge).
    docker_binary: str = "docker"
    build_network: str = ""
    build_concurrency: int = 2
    reclaim_disk: bool = False
    # How images are built: "auto" (buildx where installed, else the engine's BuildKit with a
    # client older than 23, else the legacy builder), or one of "buildx", "buildkit", "legacy".
    builder: str = "auto"
    # Prefect API calls: concurrent registrations and retries of transient errors.
    deploy_concurrency: int = 4
    api_retries: int = 5
    api_backoff_seconds: float = 0.5
    # Concurrent registrations when the Prefect API is on this machine (127.0.0.1, localhost):
    # without network latency to hide, parallel writes only contend for its SQLite database,
    # and were measured slower there (benchmarks/bench_deploy.py).
    local_deploy_concurrency: int = 1
    # Seconds one Prefect API request may take before it counts as a transient failure.
    api_timeout_seconds: float = 30.0
    # The local Prefect server (environment `local`): its port on 127.0.0.1, how long its
    # first start (database migrations) may take, and how long `--run` waits for a flow run.
    local_server_port: int = 4200
    server_start_timeout_seconds: float = 120.0
    run_timeout_seconds: float = 900.0
    # Files whose change affects every pipeline (glob patterns relative to the root).
    repo_wide_inputs: tuple[str, ...] = (
        "pyproject.toml",
        "uv.lock",
        "Dockerfile",
        "src/**",
    )
    # Files inside a pipeline folder that cannot change its behaviour (glob patterns).
    inert_files: tuple[str, ...] = ("README.md", "*.md")
    # Files inside a pipeline folder that only its checks read (glob patterns relative to the
    # folder): a change re-lints and re-tests the pipeline but deploys nothing.
    check_only_files: tuple[str, ...] = ("tests/**",)
    # Files whose change re-checks every pipeline but deploys none (glob patterns).
    check_inputs: tuple[str, ...] = ("tools/**", "noxfile.py")
    # Git remote that missing history is fetched from, and commits fetched at a time when a
    # shallow clone stops before the revision a plan compares with.
    git_remote: str = "origin"
    fetch_depth: int = 50
    # Largest file that may be committed, in kilobytes.
    max_file_kb: int = 1024
    # Lint (`nox -s lint`): environments whose deployments may not have an active schedule
    # unless the pipeline lists them in its `scheduled-environments` (rule ENV006).
    unscheduled_environments: tuple[str, ...] = ("staging",)
    # Lint: a deployment of environment E reads only secret blocks named `<name>-E`, so that
    # staging never reads prod credentials (rule ENV008).
    secret_blocks_per_environment: bool = True
    # Lint: hadolint rules not applied. DL3045 (COPY to a relative path without WORKDIR)
    # cannot see the WORKDIR that the base image sets; DL3008 (pin apt package versions):
    # Debian's archive keeps only the latest version of a package, so a pinned version breaks
    # the build at the next point release (the base image pins the Debian release instead).
    hadolint_ignore: tuple[str, ...] = ("DL3045", "DL3008")
    # Lint: lines the secret scanner skips (regular expressions); "secretaria", a city hall
    # office, is not the keyword "secret".
    secret_scan_exclude_lines: tuple[str, ...] = (r"\bsecretarias?\b",)

    @property
    def pipelines_path(self) -> Path:
        """Folder that holds one subfolder per pipeline."""
        return self.root / self.pipelines_dir

    @property
    def state_path(self) -> Path:
        """Ignored folder for environments, logs and the local Prefect server."""
        return self.root / self.state_dir


def find_root(start: Path) -> Path:
    """Walk up from `start` to the folder whose pyproject.toml declares the uv workspace."""
    for folder in [start, *start.parents]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text("utf-8"):
            return folder
    raise ConfigError(
        f"no pyproject.toml with a [tool.uv.workspace] table in {start} or above it; "
        "run this from inside the pipelines repository"
    )


def load_settings(root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings table of `root`/pyproject.toml and apply PIPELINES_* overrides."""
    environ = os.environ if environ is None else environ
    table = _read_table(root / "pyproject.toml")
    values: dict[str, Any] = {}
    hints = get_type_hints(Settings)
    for field in dataclasses.fields(Settings):
        if field.name == "root":
            continue
        env_name = ENV_PREFIX + field.name.upper()
        if env_name in environ:
            values[field.name] = _parse_env(env_name, environ[env_name], hints[field.name])
        elif field.name in table:
            values[field.name] = _check_type(field.name, table[field.name], hints[field.name])
    if "locked" not in values and environ.get("CI", "").lower() in {"1", "true", "yes"}:
        values["locked"] = True
    return Settings(root=root, **values)


def _read_table(pyproject: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(pyproject.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{pyproject}: {error}; fix the TOML syntax") from None
    table: dict[str, Any] = document.get("tool", {}).get(TABLE, {})
    known = [f.name for f in dataclasses.fields(Settings) if f.name != "root"]
    for key in table:
        if key.replace("-", "_") not in known:
            raise ConfigError(
                f"{pyproject}: unknown key '{key}' in [tool.{TABLE}]{_suggest(key, known)}"
            )
    return {key.replace("-", "_"): value for key, value in table.items()}


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key.replace("-", "_"), known, n=1)
    return f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"


def _check_type(name: str, value: Any, hint: Any) -> Any:
    expected = _runtime_type(hint)
    if expected is tuple and isinstance(value, list):
        return tuple(value)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(
            f"pyproject.toml: [tool.{TABLE}] {name} must be of type {expected.__name__}, "
            f"not {value!r}"
        )
    return value


def _parse_env(env_name: str, raw: str, hint: Any) -> Any:
    expected = _runtime_type(hint)
    if expected is bool:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{env_name}={raw!r} is not a boolean; use true or false")
    if expected is tuple:
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    try:
        return expected(raw)
    except ValueError:
        raise ConfigError(f"{env_name}={raw!r} is not a valid {expected.__name__}") from None


def _runtime_type(hint: Any) -> type:
    origin = get_origin(hint)
    if origin is types.UnionType:
        return _runtime_type(next(arg for arg in get_args(hint) if arg is not type(None)))
    return origin if isinstance(origin, type) else hint
