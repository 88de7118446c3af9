"""Flow functions and parameters read from source, without importing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_tools.errors import ConfigError
from pipeline_tools.flowsource import read_flows

SOURCE = """\
import not_installed_anywhere
from prefect import flow
import prefect


@flow(name="rj_a__b", log_prints=True)
def rj_a__b(table: str, batch_size: int = 10, *, mode: str = "x", key: str, **extra):
    return table


@prefect.flow
async def other(a=1):
    pass


def helper(x):
    return x
"""


def test_reads_flow_functions_without_importing_them(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text(SOURCE)

    flows = read_flows(path)

    assert sorted(flows) == ["other", "rj_a__b"]
    main = flows["rj_a__b"]
    assert main.flow_name == "rj_a__b"
    assert main.line == 7
    assert [(p.name, p.required) for p in main.parameters] == [
        ("table", True),
        ("batch_size", False),
        ("mode", False),
        ("key", True),
    ]
    assert main.accepts_any_keyword is True
    assert flows["other"].flow_name is None


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text("def broken(:\n")

    with pytest.raises(ConfigError, match=r"flow.py:1: .*fix the Python syntax"):
        read_flows(path)
