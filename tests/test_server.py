"""The local Prefect server: started on 127.0.0.1 with SQLite under the state folder, reused,
described, stopped; a taken port is stepped around."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from conftest import free_port

from pipeline_tools import server
from pipeline_tools.errors import ExitCode, ToolError
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of an empty workspace in a temporary folder."""
    (tmp_path / "pyproject.toml").write_text("[tool.uv.workspace]\nmembers = []\n")
    return load_settings(tmp_path, environ={})


def test_starts_reuses_describes_and_stops(settings: Settings) -> None:
    output = io.StringIO()
    reporter = Reporter(out=output, err=output)
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", free_port()))
    taken.listen()
    busy = int(taken.getsockname()[1])
    settings = load_settings(settings.root, environ={"PIPELINES_LOCAL_SERVER_PORT": str(busy)})

    try:
        started = server.ensure_server(settings, reporter)
        reused = server.ensure_server(settings, reporter)
        described = server.server_session(settings, "status", reporter)
    finally:
        taken.close()
        stopped = server.stop_server(settings, reporter)

    assert started == reused
    assert started.port != busy
    assert (
        f"port {busy} is taken by another program; using port {started.port}" in output.getvalue()
    )
    assert (settings.state_path / "prefect" / "prefect.db").is_file()
    assert output.getvalue().count("starting the local Prefect server") == 1
    assert described == ExitCode.OK
    assert f"Prefect UI:  http://127.0.0.1:{started.port}" in output.getvalue()
    assert "start a worker: PREFECT_API_URL=" in output.getvalue()
    assert stopped
    assert not server.healthy(started.url)
    assert server.running_server(settings) is None
    assert not server.stop_server(settings, reporter)


def test_status_without_a_server_says_how_to_start_one(settings: Settings) -> None:
    output = io.StringIO()

    code = server.server_session(settings, "status", Reporter(out=output, err=output))

    assert code == ExitCode.OK
    assert "no local server is running; start it with: uv run nox -s server" in output.getvalue()
    assert not (settings.state_path / "prefect" / "prefect.db").exists()


def test_an_unknown_action_is_one_sentence(settings: Settings) -> None:
    with pytest.raises(ToolError, match="unknown server action 'restart'; use one of: start"):
        server.server_session(settings, "restart", Reporter())


def test_a_stale_state_file_is_not_trusted(settings: Settings) -> None:
    home = settings.state_path / "prefect"
    home.mkdir(parents=True)
    (home / "server.json").write_text('{"port": 1, "pid": 999999999}')

    assert server.running_server(settings) is None
    assert not server.stop_server(settings, Reporter(out=io.StringIO()))
    assert not (home / "server.json").exists()
