"""The Prefect server of environment `local`: SQLite under the state folder, on 127.0.0.1.

`ensure_server` reuses the server this checkout already runs (recorded in
`.state/prefect/server.json`, answered by `/api/health`) or starts one in the background, its
own process group, its log in `.state/prefect/server.log`; a lock file keeps two sessions from
starting two servers. `worker` runs a process worker on the local work pool for as long as a
`with` block lasts. Only processes this module started, named by the id it recorded, are ever
stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline_tools import commands
from pipeline_tools.errors import ExitCode, ToolError
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings

HOST = "127.0.0.1"
HTTP_OK = 200
ACTIONS = ("start", "status", "stop")


@dataclass(frozen=True)
class LocalServer:
    """A running local Prefect server started by this module."""

    port: int
    pid: int
    home: Path

    @property
    def url(self) -> str:
        """The API address clients and workers use."""
        return f"http://{HOST}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        """The address of the web interface."""
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        """The server's output."""
        return self.home / "server.log"


def prefect_home(settings: Settings) -> Path:
    """The folder of the local server: its SQLite database, log and state file."""
    return settings.state_path / "prefect"


def server_session(settings: Settings, action: str, reporter: Reporter) -> ExitCode:
    """`nox -s server`: start (or reuse) and describe the server, show its status, or stop it."""
    if action not in ACTIONS:
        raise ToolError(f"unknown server action '{action}'; use one of: {', '.join(ACTIONS)}")
    if action == "stop":
        stopped = stop_server(settings, reporter)
        reporter.info("local Prefect server stopped" if stopped else "no local server is running")
        return ExitCode.OK
    server = ensure_server(settings, reporter) if action == "start" else running_server(settings)
    if server is None:
        reporter.info("no local server is running; start it with: uv run nox -s server")
        return ExitCode.OK
    describe(settings, server, reporter)
    return ExitCode.OK


def describe(settings: Settings, server: LocalServer, reporter: Reporter) -> None:
    """Print where the server answers and how to start a worker for its local pool."""
    reporter.info(f"Prefect UI:  {server.ui_url}")
    reporter.info(f"Prefect API: {server.url} (pid {server.pid}, log {server.log})")
    reporter.info(f"start a worker: {worker_command(settings, server)}")
    reporter.info("stop the server: uv run nox -s server -- stop")


def worker_command(settings: Settings, server: LocalServer) -> str:
    """The command a user runs to start a worker on the local work pool."""
    pool = shlex.quote(settings.local_work_pool)
    return f"PREFECT_API_URL={server.url} uv run prefect worker start --pool {pool}"


def running_server(settings: Settings) -> LocalServer | None:
    """The server recorded in the state file, if it still answers."""
    server = _read_state(prefect_home(settings))
    if server is None or not _process_alive(server.pid) or not healthy(server.url):
        return None
    return server


def ensure_server(settings: Settings, reporter: Reporter) -> LocalServer:
    """Reuse the running local server or start one and wait until it answers."""
    home = prefect_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home / "server.lock"):
        server = running_server(settings)
        if server is not None:
            return server
        return _start(settings, home, reporter)


def stop_server(settings: Settings, reporter: Reporter) -> bool:
    """Stop the recorded server (its process group); False when none was running."""
    home = prefect_home(settings)
    server = _read_state(home)
    (home / "server.json").unlink(missing_ok=True)
    if server is None or not _process_alive(server.pid):
        return False
    reporter.info(f"stopping the local Prefect server (pid {server.pid})")
    _terminate(server.pid)
    return True


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API at `url` answers its health check."""
    try:
        # The URL is the local server's own http address on 127.0.0.1, never a user's file.
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:  # noqa: S310
            return bool(response.status == HTTP_OK)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class Worker:
    """A process worker this module started, and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the worker to exit; whether it did."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


@contextlib.contextmanager
def worker(settings: Settings, api_url: str, reporter: Reporter) -> Iterator[Worker]:
    """A process worker on the local work pool that polls once, runs what it found, and exits.

    Leaving the block stops it if it is still running.
    """
    log = prefect_home(settings) / "worker.log"
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool"]
    argv += [settings.local_work_pool, "--type", "process", "--run-once"]
    process = _spawn(argv, {"PREFECT_API_URL": api_url}, log, reporter)
    try:
        yield Worker(process, log)
    finally:
        if process.poll() is None:
            _terminate(process.pid)


def _start(settings: Settings, home: Path, reporter: Reporter) -> LocalServer:
    port = _choose_port(settings.local_server_port, reporter)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port)]
    environ = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
    }
    reporter.info(f"starting the local Prefect server on {HOST}:{port} (data in {home})")
    process = _spawn(argv, environ, home / "server.log", reporter)
    server = LocalServer(port=port, pid=process.pid, home=home)
    _wait_until_healthy(server, process, settings.server_start_timeout_seconds)
    (home / "server.json").write_text(json.dumps({"port": port, "pid": process.pid}), "utf-8")
    return server


def _spawn(
    argv: Sequence[str], environ: dict[str, str], log: Path, reporter: Reporter
) -> subprocess.Popen[bytes]:
    """Start a long-running process in its own session, its output appended to `log`."""
    reporter.command(argv)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=commands.clean_environ(environ),
            start_new_session=True,
        )


def _wait_until_healthy(
    server: LocalServer, process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(server.url):
            return
        if process.poll() is not None:
            raise ToolError(
                f"the local Prefect server exited with status {process.returncode} while "
                f"starting; read {server.log} for the reason"
            )
        time.sleep(0.3)
    _terminate(process.pid)
    raise ToolError(
        f"the local Prefect server did not answer within {timeout:.0f} s; read {server.log}, "
        "or raise PIPELINES_SERVER_START_TIMEOUT_SECONDS"
    )


def _choose_port(preferred: int, reporter: Reporter) -> int:
    """The configured port when it is free, otherwise any free port (said out loud)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex((HOST, preferred)) != 0:
            return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as free:
        free.bind((HOST, 0))
        port = int(free.getsockname()[1])
    reporter.info(f"port {preferred} is taken by another program; using port {port}")
    return port


def _read_state(home: Path) -> LocalServer | None:
    try:
        state = json.loads((home / "server.json").read_text("utf-8"))
        return LocalServer(port=int(state["port"]), pid=int(state["pid"]), home=home)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(pid: int, grace: float = 10.0) -> None:
    """Stop the process group led by `pid`: SIGTERM, then SIGKILL after `grace` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _process_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
