"""Tests of dump_db against real SQLite (and, when configured, PostgreSQL) databases.

Dumps run inside real Prefect flows on a temporary Prefect server, and the Parquet files are
read back with pyarrow.
"""

import logging
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.testing.utilities import prefect_test_harness

from prefect_rj_iplanrio.dump_db import DumpError, DumpResult, dump_db, read_batches, render_url

# Storing Decimal values in SQLite is what the sample data needs; SQLAlchemy warns about it.
pytestmark = pytest.mark.filterwarnings(r"ignore:Dialect sqlite\+pysqlite does \*not\*")

ROWS = 3000
LATE_FROM = 1200  # late_count is NULL below this id, so whole first batches have it NULL
FIRST_DAY = date(2023, 12, 28)  # nine days of events cross a month and a year
DISTRICTS = ("Centro", "Barra da Tijuca", "Zona/Norte", None)
COLUMNS = (
    "id",
    "name",
    "amount",
    "score",
    "happened_on",
    "created_at",
    "district",
    "active",
    "late_count",
)
FILE_NAME = re.compile(r"part-\d{8}T\d{12}Z-(\d{6})\.parquet")
POSTGRES_URL = os.environ.get("PIPELINES_TEST_POSTGRES_URL", "")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """Run the tests that need it against a temporary Prefect server backed by SQLite."""
    with prefect_test_harness():
        yield


@pytest.fixture
def prefect_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture Prefect's log records, also where Prefect's logging config stops propagation."""
    logger = logging.getLogger("prefect")
    attach = not logger.propagate
    if attach:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    yield caplog
    if attach:
        logger.removeHandler(caplog.handler)


@flow(name="dump-db-test")
def dump_flow(source_url: str, destination: str, options: dict[str, Any]) -> DumpResult:
    """Call dump_db inside a flow run, as pipelines do."""
    result: DumpResult = dump_db(source_url, destination, **options)
    return result


def run_dump(source_url: str, destination: Path, **options: Any) -> DumpResult:
    """Dump through a real flow run on the test Prefect server."""
    return dump_flow(source_url, str(destination), options)


def sample_row(index: int) -> dict[str, Any]:
    """Return the sample event with this id; NULLs and values follow from the id."""
    return {
        "id": index,
        "name": None if index % 7 == 0 else f"cidadão {index}",
        "amount": None if index % 11 == 0 else Decimal(index * 37 % 100_000) / 100,
        "score": index / 8,
        "happened_on": FIRST_DAY + timedelta(days=index % 9),
        "created_at": datetime(2024, 1, 1, 8) + timedelta(minutes=index, microseconds=index),
        "district": DISTRICTS[index % len(DISTRICTS)],
        "active": index % 3 == 0,
        "late_count": index if index >= LATE_FROM else None,
    }


def create_events(url: str, rows: int = ROWS) -> None:
    """Create the events table in a database and fill it with sample rows."""
    metadata = sa.MetaData()
    events = sa.Table(
        "events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40)),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("score", sa.Float),
        sa.Column("happened_on", sa.Date),
        sa.Column("created_at", sa.DateTime),
        sa.Column("district", sa.String(40)),
        sa.Column("active", sa.Boolean),
        sa.Column("late_count", sa.Integer),
    )
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(events.insert(), [sample_row(index) for index in range(rows)])
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a SQLite database holding the sample events."""
    url = f"sqlite:///{tmp_path / 'city.db'}"
    create_events(url)
    return url


def execute(url: str, *statements: str) -> None:
    """Run SQL statements in one transaction."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def parquet_files(folder: Path) -> list[Path]:
    """Return the Parquet files under a folder, sorted."""
    return sorted(folder.rglob("*.parquet"))


def batch_number(file: Path) -> int:
    """Return the batch number in a dump file's name, failing on a name off the pattern."""
    match = FILE_NAME.fullmatch(file.name)
    assert match is not None, f"{file.name} is not named part-<dump id>-<batch>.parquet"
    return int(match[1])


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """Read a dump back, hive folders included, as rows sorted by id."""
    table = ds.dataset(str(folder), format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda row: int(row["id"]))


def test_table_dump_keeps_every_row_value_and_type(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """A table is dumped with its declared types, NULLs included, and read back unchanged."""
    result = run_dump(sqlite_url, tmp_path / "out", table="events")

    table = pq.read_table(tmp_path / "out")
    assert result.rows == ROWS
    assert result.batches == 1
    assert result.columns == COLUMNS
    assert result.destination == str(tmp_path / "out")
    assert [Path(file) for file in result.files] == parquet_files(tmp_path / "out")
    assert dict(zip(table.schema.names, map(str, table.schema.types), strict=True)) == {
        "id": "int64",
        "name": "string",
        "amount": "decimal128(12, 2)",
        "score": "double",
        "happened_on": "date32[day]",
        "created_at": "timestamp[us]",
        "district": "string",
        "active": "bool",
        "late_count": "int64",
    }
    assert read_rows(tmp_path / "out") == [sample_row(index) for index in range(ROWS)]


def test_small_batches_write_one_file_per_batch(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """batch_size rows are fetched and written at a time, in numbered files."""
    result = run_dump(sqlite_url, tmp_path / "out", table="events", batch_size=700)

    files = parquet_files(tmp_path / "out")
    numbers = [batch_number(file) for file in files]
    assert (result.rows, result.batches, len(result.files)) == (ROWS, 5, 5)
    assert numbers == [1, 2, 3, 4, 5]
    assert [pq.read_metadata(file).num_rows for file in files] == [700, 700, 700, 700, 200]


def test_column_null_in_first_batches_keeps_its_declared_type(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """A column NULL in the first batches is still written with its table type everywhere."""
    run_dump(sqlite_url, tmp_path / "out", table="events", batch_size=500)

    types = {
        str(pq.read_schema(file).field("late_count").type)
        for file in parquet_files(tmp_path / "out")
    }
    late = [row["late_count"] for row in read_rows(tmp_path / "out")]
    assert types == {"int64"}
    assert late == [sample_row(index)["late_count"] for index in range(ROWS)]


def test_query_dump_writes_its_columns(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """A query's rows and column names are dumped, aliases included."""
    result = run_dump(
        sqlite_url,
        tmp_path / "out",
        query="SELECT id, name AS full_name, score FROM events WHERE district = 'Centro'",
        batch_size=400,
    )

    rows = read_rows(tmp_path / "out")
    expected = [sample_row(index) for index in range(ROWS) if index % len(DISTRICTS) == 0]
    assert result.columns == ("id", "full_name", "score")
    assert (result.rows, result.batches) == (len(expected), 2)
    assert rows == [
        {"id": row["id"], "full_name": row["name"], "score": row["score"]} for row in expected
    ]


def test_query_column_null_in_first_batch_is_text_in_every_file(
    prefect_server: None,
    sqlite_url: str,
    tmp_path: Path,
    prefect_logs: pytest.LogCaptureFixture,
) -> None:
    """A query column without a declared type and NULL at first is text throughout, and said."""
    run_dump(sqlite_url, tmp_path / "out", query="SELECT id, late_count FROM events")
    run_dump(
        sqlite_url, tmp_path / "small", query="SELECT id, late_count FROM events", batch_size=500
    )

    files = parquet_files(tmp_path / "small")
    types = {str(pq.read_schema(file).field("late_count").type) for file in files}
    late = [row["late_count"] for row in read_rows(tmp_path / "small")]
    single_batch = pq.read_schema(parquet_files(tmp_path / "out")[0])
    assert str(single_batch.field("late_count").type) == "int64"
    assert types == {"string"}
    assert late == [None if index < LATE_FROM else str(index) for index in range(ROWS)]
    assert "written as text: 'late_count'" in prefect_logs.text


def test_partition_columns_become_hive_folders(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """Each district gets a percent-encoded folder, NULL gets Hive's marker, values come back."""
    result = run_dump(
        sqlite_url,
        tmp_path / "out",
        table="events",
        partition_columns=["district"],
        batch_size=1000,
    )

    folders = {file.parent.name for file in parquet_files(tmp_path / "out")}
    rows = read_rows(tmp_path / "out")
    assert folders == {
        "district=Centro",
        "district=Barra%20da%20Tijuca",
        "district=Zona%2FNorte",
        "district=__HIVE_DEFAULT_PARTITION__",
    }
    assert len(result.files) == 3 * len(DISTRICTS)
    assert "district" not in pq.read_schema(parquet_files(tmp_path / "out")[0]).names
    assert Counter(row["district"] for row in rows) == Counter(
        sample_row(index)["district"] for index in range(ROWS)
    )
    assert [row["name"] for row in rows] == [sample_row(index)["name"] for index in range(ROWS)]


def test_date_partition_by_day_writes_year_month_day_folders(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """Rows land in year=/month=/day= folders of their date, one file per batch and day."""
    result = run_dump(
        sqlite_url,
        tmp_path / "out",
        table="events",
        date_partition_column="happened_on",
        batch_size=1000,
    )

    found = Counter(
        file.parent.relative_to(tmp_path / "out").as_posix()
        for file in parquet_files(tmp_path / "out")
        for _ in range(pq.read_metadata(file).num_rows)
    )
    expected = Counter(
        f"year={day.year}/month={day.month:02d}/day={day.day:02d}"
        for day in (sample_row(index)["happened_on"] for index in range(ROWS))
    )
    assert found == expected
    assert len(expected) == 9
    assert (result.batches, len(result.files)) == (3, 3 * 9)
    assert "happened_on" in pq.read_schema(parquet_files(tmp_path / "out")[0]).names


def test_date_partition_by_month_from_a_query_with_text_dates(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """SQLite returns dates to a query as text; they are parsed to pick the month folder."""
    run_dump(
        sqlite_url,
        tmp_path / "out",
        query="SELECT id, happened_on FROM events",
        date_partition_column="happened_on",
        date_partition_granularity="month",
    )

    counts = {
        file.parent.relative_to(tmp_path / "out").as_posix(): pq.read_metadata(file).num_rows
        for file in parquet_files(tmp_path / "out")
    }
    december = sum(1 for index in range(ROWS) if index % 9 < 4)
    assert counts == {"year=2023/month=12": december, "year=2024/month=01": ROWS - december}


def test_overwrite_replaces_the_previous_dump_and_leaves_other_files(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """overwrite deletes earlier Parquet files, folders included, but not other files."""
    run_dump(sqlite_url, tmp_path / "out", table="events", partition_columns=["district"])
    (tmp_path / "out" / "_notes.txt").write_text("kept")

    result = run_dump(sqlite_url, tmp_path / "out", query="SELECT id FROM events WHERE id < 10")

    assert [Path(file) for file in result.files] == parquet_files(tmp_path / "out")
    assert [row["id"] for row in read_rows(tmp_path / "out")] == list(range(10))
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "_notes.txt",
        Path(result.files[0]).name,
    ]


def test_overwrite_keeps_the_previous_dump_when_the_query_fails(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """A query that fails before its first batch leaves the earlier files in place."""
    first = run_dump(sqlite_url, tmp_path / "out", table="events")

    with pytest.raises(sa.exc.OperationalError, match="no such table: missing"):
        run_dump(sqlite_url, tmp_path / "out", query="SELECT * FROM missing")

    assert [Path(file) for file in first.files] == parquet_files(tmp_path / "out")
    assert len(read_rows(tmp_path / "out")) == ROWS


def test_overwrite_keeps_the_previous_dump_when_a_partition_column_is_unknown(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Arguments checked against the first batch fail before anything is deleted."""
    first = dump_db.fn(sqlite_url, str(tmp_path / "out"), table="events")

    with pytest.raises(ValueError, match=r"no column 'distrct'.*Perhaps you meant 'district'"):
        dump_db.fn(sqlite_url, str(tmp_path / "out"), table="events", partition_columns=["distrct"])

    assert [Path(file) for file in first.files] == parquet_files(tmp_path / "out")


def test_append_adds_files_next_to_the_previous_dump(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """append keeps earlier files and adds new ones with other names."""
    first = run_dump(sqlite_url, tmp_path / "out", table="events", mode="append")
    second = run_dump(sqlite_url, tmp_path / "out", table="events", mode="append")

    assert set(first.files).isdisjoint(second.files)
    assert parquet_files(tmp_path / "out") == sorted(Path(f) for f in first.files + second.files)
    assert Counter(row["id"] for row in read_rows(tmp_path / "out")) == Counter(
        dict.fromkeys(range(ROWS), 2)
    )


def test_append_refuses_files_of_another_schema(sqlite_url: str, tmp_path: Path) -> None:
    """Appending other columns would make the folder unreadable as one dataset."""
    first = dump_db.fn(sqlite_url, str(tmp_path / "out"), table="events", mode="append")

    with pytest.raises(DumpError, match=r"other columns or types.*mode='overwrite'"):
        dump_db.fn(sqlite_url, str(tmp_path / "out"), query="SELECT id FROM events", mode="append")

    assert [Path(file) for file in first.files] == parquet_files(tmp_path / "out")


def test_error_mode_refuses_a_destination_with_files(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    """error writes into an empty destination, then refuses to touch it again."""
    first = run_dump(sqlite_url, tmp_path / "out", table="events", mode="error")

    with pytest.raises(DumpError, match=r"already holds 1 Parquet file\(s\) and mode='error'"):
        run_dump(sqlite_url, tmp_path / "out", table="events", mode="error")

    assert first.rows == ROWS
    assert [Path(file) for file in first.files] == parquet_files(tmp_path / "out")


def test_empty_result_writes_no_file(prefect_server: None, sqlite_url: str, tmp_path: Path) -> None:
    """An empty result returns its columns and zero rows, and overwrite leaves no files."""
    run_dump(sqlite_url, tmp_path / "out", table="events")

    result = run_dump(sqlite_url, tmp_path / "out", query="SELECT id, name FROM events WHERE 0")

    assert result == DumpResult(
        rows=0, batches=0, files=(), destination=str(tmp_path / "out"), columns=("id", "name")
    )
    assert parquet_files(tmp_path / "out") == []


def test_progress_is_logged_to_the_run_logger(
    prefect_server: None,
    sqlite_url: str,
    tmp_path: Path,
    prefect_logs: pytest.LogCaptureFixture,
) -> None:
    """Each batch and the final count are logged by the task run's logger."""
    run_dump(sqlite_url, tmp_path / "out", table="events", batch_size=1000)

    messages = [
        record.getMessage() for record in prefect_logs.records if record.name == "prefect.task_runs"
    ]
    assert f"Dumping table 'events' from {sqlite_url} into {tmp_path / 'out'}" in messages[0]
    assert "Batch 3: 1000 rows into 1 file(s) (3000 rows so far)." in messages
    assert f"Dumped 3000 rows in 3 batch(es) into 3 file(s) under {tmp_path / 'out'}." in messages


def test_table_names_are_quoted_not_pasted(sqlite_url: str, tmp_path: Path) -> None:
    """An odd table name is dumped as is, and SQL in a table name runs nowhere."""
    execute(
        sqlite_url,
        'CREATE TABLE "odd ""name""; x" (v TEXT)',
        'INSERT INTO "odd ""name""; x" VALUES (\'ok\')',
    )

    result = dump_db.fn(sqlite_url, str(tmp_path / "odd"), table='odd "name"; x')
    with pytest.raises(DumpError, match="Table 'events; DROP TABLE events' was not found"):
        dump_db.fn(sqlite_url, str(tmp_path / "bad"), table="events; DROP TABLE events")

    assert pq.read_table(tmp_path / "odd").to_pylist() == [{"v": "ok"}]
    assert result.rows == 1
    assert sum(batch.num_rows for batch in read_batches(sqlite_url, table="events")) == ROWS


def test_fsspec_destination_gets_urls_and_overwrites(sqlite_url: str) -> None:
    """An fsspec URL destination (here fsspec's in-memory filesystem) is written and cleared."""
    memory = fsspec.filesystem("memory")
    bucket = f"memory://dumps-{uuid.uuid4().hex}"
    destination = f"{bucket}/events"
    try:
        first = dump_db.fn(sqlite_url, destination, table="events", batch_size=2000)
        second = dump_db.fn(sqlite_url, destination, query="SELECT id FROM events WHERE id < 5")

        with memory.open(second.files[0], "rb") as handle:
            ids = pq.read_table(handle).column("id").to_pylist()
        assert [file.split("-")[-1] for file in first.files] == ["000001.parquet", "000002.parquet"]
        assert all(file.startswith(f"{destination}/part-") for file in first.files + second.files)
        assert [memory.exists(file) for file in first.files + second.files] == [False, False, True]
        assert ids == [0, 1, 2, 3, 4]
    finally:
        memory.rm(bucket, recursive=True)


def test_schema_qualified_table_name(sqlite_url: str, tmp_path: Path) -> None:
    """A dotted name is read as schema.table."""
    result = dump_db.fn(sqlite_url, str(tmp_path / "out"), table="main.events")

    assert result.rows == ROWS


def test_value_that_does_not_fit_its_column_is_refused(tmp_path: Path) -> None:
    """A query column typed int64 by its first batch refuses a later fraction, never truncates."""
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    execute(url, "CREATE TABLE mixed (v NUMERIC)", "INSERT INTO mixed VALUES (1), (2), (2.5)")

    with pytest.raises(DumpError, match=r"Column 'v' holds a value that does not fit .* int64"):
        dump_db.fn(url, str(tmp_path / "out"), query="SELECT v FROM mixed", batch_size=2)


def test_repeated_column_name_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    """Two columns with one name cannot both be written."""
    with pytest.raises(DumpError, match="column 'id' more than once"):
        dump_db.fn(sqlite_url, str(tmp_path / "out"), query="SELECT id, id FROM events")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"table": "events", "query": "SELECT 1"}, r"exactly one of table=.* \(got both\)"),
        ({}, r"exactly one of table=.* \(got neither\)"),
        ({"table": "  "}, "The table given to dump_db is blank"),
        ({"table": "events", "batch_size": 0}, "batch_size must be a positive number"),
        ({"table": "events", "mode": "replace"}, "mode must be one of overwrite, append, error"),
        (
            {"table": "events", "partition_columns": "district"},
            r"write partition_columns=\['district'\]",
        ),
        ({"table": "events", "partition_columns": ["a", "a"]}, "names 'a' twice"),
        (
            {"table": "events", "date_partition_column": "d", "date_partition_granularity": "week"},
            "date_partition_granularity must be one of year, month, day",
        ),
        (
            {"table": "events", "partition_columns": ["d"], "date_partition_column": "d"},
            "both in partition_columns and the date_partition_column",
        ),
        ({"table": "events", "compression": "lzma"}, "compression 'lzma' is not available"),
    ],
)
def test_invalid_arguments_are_refused_before_connecting(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    """Each invalid argument gets one sentence saying what to pass instead."""
    missing_database = f"sqlite:///{tmp_path / 'absent' / 'none.db'}"

    with pytest.raises(ValueError, match=message):
        dump_db.fn(missing_database, str(tmp_path / "out"), **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"date_partition_column": "score"}, "'score' holds double, not dates"),
        ({"partition_columns": list(COLUMNS)}, "keep at least one column out of partition_columns"),
    ],
)
def test_partition_arguments_are_checked_against_the_columns(
    sqlite_url: str, tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    """Partitioning by a column of the wrong kind, or by every column, is refused."""
    with pytest.raises(ValueError, match=message):
        dump_db.fn(sqlite_url, str(tmp_path / "out"), table="events", **options)


def test_date_folder_clashing_with_a_column_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    """A column named like a date folder would appear twice to readers."""
    with pytest.raises(ValueError, match="date folder 'year' has the name of a column"):
        dump_db.fn(
            sqlite_url,
            str(tmp_path / "out"),
            query="SELECT id, happened_on, 2024 AS year FROM events",
            date_partition_column="happened_on",
        )


def test_render_url_masks_the_password() -> None:
    """The rendered URL keeps everything but the password."""
    rendered = render_url("postgresql+psycopg://dumper:s3cr%40t@db.example:5432/city")

    assert rendered == "postgresql+psycopg://dumper:***@db.example:5432/city"


def test_unparsable_url_is_refused_without_echoing_it(tmp_path: Path) -> None:
    """A malformed URL is reported without its text, which may hold a password."""
    with pytest.raises(ValueError, match="not a valid SQLAlchemy URL") as caught:
        dump_db.fn(
            "postgresql://dumper:s3cret@db:port/city",  # pragma: allowlist secret
            str(tmp_path),
            table="events",
        )

    assert "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_password_is_never_logged_when_the_connection_fails(
    prefect_server: None, tmp_path: Path, prefect_logs: pytest.LogCaptureFixture
) -> None:
    """A real connection attempt that fails logs the masked URL only."""
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    url = "postgresql+psycopg://dumper:n0t-in-logs@127.0.0.1:1/city"  # pragma: allowlist secret

    with pytest.raises(sa.exc.OperationalError) as caught:
        run_dump(url, tmp_path / "out", table="events")

    assert "postgresql+psycopg://dumper:***@127.0.0.1:1/city" in prefect_logs.text
    assert "n0t-in-logs" not in prefect_logs.text
    assert "n0t-in-logs" not in str(caught.value)


@pytest.fixture
def postgres_events() -> Iterator[str]:
    """Create a uniquely named events table in PostgreSQL, and drop it afterwards."""
    name = f"dump_db_test_{uuid.uuid4().hex[:12]}"
    metadata = sa.MetaData()
    events = sa.Table(
        name,
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("ratio", sa.Numeric),
        sa.Column("label", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("day", sa.Date),
        sa.Column("flag", sa.Boolean),
        sa.Column("ref", sa.Uuid),
        sa.Column("doc", sa.JSON),
        sa.Column("late", sa.Integer),
    )
    engine = sa.create_engine(POSTGRES_URL)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(events.insert(), [postgres_row(index) for index in range(2500)])
    try:
        yield name
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def postgres_row(index: int) -> dict[str, Any]:
    """Return the PostgreSQL sample row with this id, as inserted."""
    rio = timezone(timedelta(hours=-3))
    return {
        "id": index,
        "amount": None if index % 11 == 0 else Decimal(index) / 100,
        "ratio": Decimal(index) / Decimal(7),
        "label": f"evento {index}",
        "created_at": datetime(2024, 1, 1, 21, tzinfo=rio) + timedelta(minutes=index),
        "day": date(2024, 1, 1) + timedelta(days=index % 30),
        "flag": index % 2 == 0,
        "ref": uuid.UUID(int=index),
        "doc": {"i": index},
        "late": index if index >= LATE_FROM else None,
    }


def postgres_expected(index: int) -> dict[str, Any]:
    """Return the PostgreSQL sample row as the dump writes it."""
    row = postgres_row(index)
    return row | {
        "ratio": row["ratio"].quantize(Decimal("1e-9")),
        "created_at": row["created_at"].astimezone(UTC),
        "ref": str(row["ref"]),
        "doc": f'{{"i": {index}}}',
    }


POSTGRES_TYPES = {
    "id": "int64",
    "amount": "decimal128(12, 2)",
    "ratio": "decimal128(38, 9)",
    "label": "string",
    "created_at": "timestamp[us, tz=UTC]",
    "day": "date32[day]",
    "flag": "bool",
    "ref": "string",
    "doc": "string",
    "late": "int64",
}


@pytest.mark.skipif(
    not POSTGRES_URL,
    reason="set PIPELINES_TEST_POSTGRES_URL to a postgresql+psycopg URL "
    "(postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE) "  # pragma: allowlist secret
    "to run the PostgreSQL test",
)
@pytest.mark.parametrize("source", ["table", "query"])
def test_postgres_dump_streams_typed_batches(
    prefect_server: None,
    postgres_events: str,
    tmp_path: Path,
    prefect_logs: pytest.LogCaptureFixture,
    source: str,
) -> None:
    """PostgreSQL tables and queries keep their types across batches, password unlogged."""
    options = (
        {"table": postgres_events}
        if source == "table"
        else {
            "query": f'SELECT * FROM "{postgres_events}"'  # noqa: S608 (a name this test generated)
        }
    )

    result = run_dump(POSTGRES_URL, tmp_path / "out", batch_size=1000, **options)

    files = parquet_files(tmp_path / "out")
    password = sa.engine.make_url(POSTGRES_URL).password
    assert (result.rows, result.batches, len(files)) == (2500, 3, 3)
    assert {str(pq.read_schema(file)) for file in files} == {str(pq.read_schema(files[0]))}
    schema = pq.read_schema(files[0])
    assert dict(zip(schema.names, map(str, schema.types), strict=True)) == POSTGRES_TYPES
    assert read_rows(tmp_path / "out") == [postgres_expected(index) for index in range(2500)]
    assert render_url(POSTGRES_URL) in prefect_logs.text
    assert not password or password not in prefect_logs.text
