"""Dump a database table or query to Parquet files, batch by batch: the ``dump_db`` task.

Call ``dump_db`` from a flow with any SQLAlchemy URL and a local folder or an fsspec URL
(``gs://bucket/prefix`` needs the ``gcs`` extra, ``s3://bucket/prefix`` the ``s3`` extra).
A table is named ``name`` or ``schema.name`` and reflected, so its name is always quoted. A
query runs as SQLAlchemy ``text()``: write ``\\:word`` for a colon that is not a parameter.

- Rows are streamed ``batch_size`` at a time and each batch is written before the next is
  fetched, as one Parquet file per partition named ``part-<dump id>-<batch number>.parquet``:
  the dump id is the UTC start time (``20240105T103000123456Z``), batches count from 000001.
- ``partition_columns`` become hive folders ``column=value/`` and leave the files;
  ``date_partition_column`` adds ``year=2024/``, then ``month=01/``, then ``day=05/`` down to
  the chosen granularity, and stays in the files. Timezone-aware datetimes are foldered by
  their UTC date. Read the folders back with ``partitioning="hive"`` in pyarrow.
- Column types come from the table's declared SQL types, so a column that is NULL in the
  first batch keeps its type. A query's columns are typed by the driver where it says
  (PostgreSQL) and otherwise by the first batch's values; a column still unknown is text.
  Unconstrained NUMERIC is written as decimal(38, 9), BigQuery's NUMERIC; JSON, arrays and
  UUIDs are written as text.
- ``mode="overwrite"`` deletes the destination's earlier Parquet files once the first batch
  has been read (a query that fails leaves them alone); an empty result therefore leaves the
  destination empty. ``append`` adds files and refuses earlier files of another schema;
  ``error`` refuses to start when the destination holds Parquet files. Other files are
  never touched.
- The source URL is only ever shown with its password masked. A URL with a password is
  best read from a Prefect Secret block inside the flow rather than passed as a flow
  parameter, which the Prefect API stores in plain text.
"""

from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from itertools import chain
from typing import Literal

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from prefect_rj_iplanrio._dump_source import check_batch_size, check_source, read_batches
from prefect_rj_iplanrio._dump_support import DumpError, render_url, run_logger
from prefect_rj_iplanrio._dump_target import (
    Granularity,
    ParquetTarget,
    PartitionLayout,
    check_appendable,
    check_layout,
    check_layout_against,
    clear_files,
    existing_files,
    open_target,
    write_batch,
)

__all__ = [
    "DumpError",
    "DumpResult",
    "Granularity",
    "Mode",
    "ParquetTarget",
    "PartitionLayout",
    "dump_db",
    "read_batches",
    "render_url",
    "write_batch",
]

Mode = Literal["overwrite", "append", "error"]
MODES: tuple[Mode, ...] = ("overwrite", "append", "error")
_SHOWN_QUERY_CHARS = 80


@dataclass(frozen=True)
class DumpResult:
    """What one dump wrote: row and batch counts, the files, and the columns of the data."""

    rows: int
    batches: int
    files: tuple[str, ...]
    destination: str
    columns: tuple[str, ...]


# No cache: a dump is a side effect, and two identical calls in one run must both write.
@task(name="dump_db", cache_policy=NO_CACHE)
def dump_db(
    source_url: str,
    destination: str,
    *,
    table: str | None = None,
    query: str | None = None,
    batch_size: int = 50_000,
    partition_columns: Sequence[str] = (),
    date_partition_column: str | None = None,
    date_partition_granularity: Granularity = "day",
    mode: Mode = "overwrite",
    compression: str = "zstd",
) -> DumpResult:
    """Dump a table (``schema.name``) or a query to Parquet files under ``destination``.

    Exactly one of ``table`` and ``query`` is given. Invalid arguments raise ValueError;
    a missing table, a value that does not fit its column or an occupied destination with
    ``mode="error"`` raise DumpError. See the module docstring for layout, types and modes.
    """
    check_source(table, query)
    check_batch_size(batch_size)
    _check_mode(mode)
    source = render_url(source_url)  # also refuses an unparsable URL before any other work
    layout = _partition_layout(partition_columns, date_partition_column, date_partition_granularity)
    target = open_target(destination, layout, compression)
    earlier = _earlier_files(target, mode)
    run_logger().info(
        "Dumping %s from %s into %s (mode=%s, batch_size=%d).",
        _describe_source(table, query),
        source,
        target.destination,
        mode,
        batch_size,
    )
    with closing(read_batches(source_url, table=table, query=query, batch_size=batch_size)) as rows:
        first = next(rows)
        _prepare_destination(target, earlier, first.schema, mode)
        result = _write_all(chain([first], rows), target)
    run_logger().info(
        "Dumped %d rows in %d batch(es) into %d file(s) under %s.",
        result.rows,
        result.batches,
        len(result.files),
        result.destination,
    )
    return result


def _check_mode(mode: str) -> None:
    """Raise ValueError unless mode is one of overwrite, append and error."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")


def _partition_layout(
    partition_columns: Sequence[str], date_column: str | None, granularity: Granularity
) -> PartitionLayout:
    """Return the checked partition layout of the arguments."""
    if isinstance(partition_columns, str):
        raise ValueError(
            f"partition_columns must be a list of column names, got the text "
            f"{partition_columns!r}; write partition_columns=[{partition_columns!r}]."
        )
    layout = PartitionLayout(tuple(partition_columns), date_column, granularity)
    check_layout(layout)
    return layout


def _earlier_files(target: ParquetTarget, mode: Mode) -> tuple[str, ...]:
    """Return the destination's Parquet files, refusing to go on if mode is 'error'."""
    files = existing_files(target)
    if mode == "error" and files:
        raise DumpError(
            f"Destination {target.destination} already holds {len(files)} Parquet file(s) and "
            "mode='error'; remove them, or pass mode='overwrite' or mode='append'."
        )
    return files


def _describe_source(table: str | None, query: str | None) -> str:
    """Return the table name, or the query on one line and shortened, for the logs."""
    if table is not None:
        return f"table {table!r}"
    shown = " ".join((query or "").split())
    if len(shown) > _SHOWN_QUERY_CHARS:
        shown = shown[: _SHOWN_QUERY_CHARS - 3] + "..."
    return f"query {shown!r}"


def _prepare_destination(
    target: ParquetTarget, earlier: Sequence[str], schema: pa.Schema, mode: Mode
) -> None:
    """Check the layout against the columns, then clear or vet the earlier files."""
    check_layout_against(target.layout, schema)
    if mode == "overwrite" and earlier:
        clear_files(target, earlier)
        run_logger().info(
            "Removed %d earlier Parquet file(s) from %s.", len(earlier), target.destination
        )
    if mode == "append":
        check_appendable(target, earlier, schema)


def _write_all(batches: Iterable[pa.Table], target: ParquetTarget) -> DumpResult:
    """Write every non-empty batch and count what was written."""
    rows, count = 0, 0
    files: list[str] = []
    columns: tuple[str, ...] = ()
    for batch in batches:
        columns = tuple(batch.schema.names)
        if batch.num_rows == 0:
            continue
        count, rows = count + 1, rows + batch.num_rows
        written = write_batch(batch, target, count)
        files.extend(written)
        run_logger().info(
            "Batch %d: %d rows into %d file(s) (%d rows so far).",
            count,
            batch.num_rows,
            len(written),
            rows,
        )
    return DumpResult(rows, count, tuple(files), target.destination, columns)
