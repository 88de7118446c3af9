"""Run the flow of {{ cookiecutter.__folder }} for real on a sample database."""

import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.__folder }}.flow import DATABASE_URL_VARIABLE, {{ cookiecutter.__folder }}


@pytest.fixture
def source_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite database with 1,000 rows in table `example`, named by the URL variable."""
    path = tmp_path / "source.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE example (id INTEGER PRIMARY KEY, name TEXT)")
        connection.executemany(
            "INSERT INTO example VALUES (?, ?)", [(i, f"row {i}") for i in range(1000)]
        )
    monkeypatch.setenv(DATABASE_URL_VARIABLE, f"sqlite:///{path}")
    return path


def test_flow_dumps_every_row(source_database: Path, tmp_path: Path) -> None:
    destination = tmp_path / "dump"

    result = {{ cookiecutter.__folder }}(
        table="example",
        destination=str(destination),
        batch_size=300,
    )

    data = pq.read_table(destination)
    assert result.rows == 1000
    assert sorted(data.column("id").to_pylist()) == list(range(1000))
    assert data.column("name").to_pylist().count("row 7") == 1


def test_flow_refuses_to_run_without_a_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_URL_VARIABLE, raising=False)

    with pytest.raises(ValueError, match=DATABASE_URL_VARIABLE):
        {{ cookiecutter.__folder }}(table="example", destination=str(tmp_path / "dump"))
