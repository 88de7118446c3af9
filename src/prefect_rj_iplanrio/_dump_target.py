"""Writing batches as hive-partitioned Parquet files under a local folder or a bucket prefix.

Layout of a dump, with partition columns first and then the date folders, for example
``<destination>/district=Centro/year=2024/month=01/day=05/part-<dump id>-000003.parquet``.
A NULL or empty partition value becomes ``__HIVE_DEFAULT_PARTITION__``; other values are
percent-encoded, which is what Arrow, Spark and BigQuery decode when they read hive folders.
Partition columns live in the folder names only; the date column stays in the files.
"""

import difflib
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from prefect_rj_iplanrio._dump_support import DumpError

Granularity = Literal["year", "month", "day"]

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
DATE_FOLDERS: dict[str, tuple[str, ...]] = {
    "year": ("year",),
    "month": ("year", "month"),
    "day": ("year", "month", "day"),
}
COMPRESSIONS = ("zstd", "snappy", "gzip", "brotli", "lz4", "none")
_DATE_PARTS = {"year": (pc.year, 4), "month": (pc.month, 2), "day": (pc.day, 2)}


@dataclass(frozen=True)
class PartitionLayout:
    """How rows are spread over hive-style folders: partition columns, then date folders."""

    columns: tuple[str, ...] = ()
    date_column: str | None = None
    granularity: Granularity = "day"

    @property
    def date_folders(self) -> tuple[str, ...]:
        """Return the folder names made from the date column, none without one."""
        return DATE_FOLDERS[self.granularity] if self.date_column is not None else ()

    @property
    def folders(self) -> tuple[str, ...]:
        """Return every folder level, outermost first."""
        return self.columns + self.date_folders


@dataclass(frozen=True)
class ParquetTarget:
    """Where one dump writes its Parquet files, and how."""

    fs: Any  # an fsspec filesystem (fsspec ships no type information)
    root: str
    destination: str
    layout: PartitionLayout
    compression: str
    dump_id: str


def check_layout(layout: PartitionLayout) -> None:
    """Raise ValueError for a partition layout that is wrong whatever the columns are."""
    if layout.granularity not in DATE_FOLDERS:
        raise ValueError(
            f"date_partition_granularity must be one of {', '.join(DATE_FOLDERS)}, "
            f"got {layout.granularity!r}."
        )
    repeated = sorted({name for name in layout.columns if layout.columns.count(name) > 1})
    if repeated:
        raise ValueError(f"partition_columns names {repeated[0]!r} twice; list it once.")
    if layout.date_column is not None and layout.date_column in layout.columns:
        raise ValueError(
            f"Column {layout.date_column!r} is both in partition_columns and the "
            "date_partition_column; keep it in one of them."
        )


def check_compression(compression: str) -> str:
    """Return the Parquet codec name in lower case, or raise ValueError if it is unknown."""
    codec = compression.lower() if isinstance(compression, str) else ""
    if codec not in COMPRESSIONS or (codec != "none" and not pa.Codec.is_available(codec)):
        raise ValueError(
            f"compression {compression!r} is not available for Parquet here; "
            f"use one of {', '.join(COMPRESSIONS)}."
        )
    return codec


def check_layout_against(layout: PartitionLayout, schema: pa.Schema) -> None:
    """Raise ValueError when the layout names a missing column or clashes with the columns."""
    named = [*layout.columns, *([layout.date_column] if layout.date_column else [])]
    for name in named:
        _require_column(name, schema)
    if len(layout.columns) == len(schema):
        raise ValueError(
            "Every column of the dump is a partition column, which would leave the Parquet "
            "files empty; keep at least one column out of partition_columns."
        )
    clashing = [folder for folder in layout.date_folders if folder in schema.names]
    if clashing:
        raise ValueError(
            f"The date folder {clashing[0]!r} has the name of a column of the dump, and readers "
            "would see that column twice; rename the column with AS in a query."
        )
    if layout.date_column is not None:
        _require_date(layout.date_column, schema.field(layout.date_column).type)


def _require_column(name: str, schema: pa.Schema) -> None:
    """Raise ValueError, with the closest column name, if the dump has no such column."""
    if name in schema.names:
        return
    close = difflib.get_close_matches(name, schema.names, n=1)
    hint = f"Perhaps you meant {close[0]!r}?" if close else f"Columns: {', '.join(schema.names)}."
    raise ValueError(f"The dump has no column {name!r} to partition by. {hint}")


def _require_date(name: str, kind: pa.DataType) -> None:
    """Raise ValueError unless the date partition column holds dates, datetimes or text."""
    if pa.types.is_temporal(kind) and not pa.types.is_time(kind):
        return
    if pa.types.is_string(kind):
        return  # ISO 8601 text, as SQLite returns dates to a query; parsed batch by batch
    raise ValueError(
        f"date_partition_column {name!r} holds {kind}, not dates; choose a date or datetime "
        "column, or CAST this one to a date in a query."
    )


def open_target(destination: str, layout: PartitionLayout, compression: str) -> ParquetTarget:
    """Resolve a local folder or fsspec URL (gs://, s3://) into where a dump will write."""
    fs, root = fsspec.core.url_to_fs(destination)
    if fs.isfile(root):
        raise DumpError(
            f"Destination {destination} is a file; pass a folder or a bucket prefix instead."
        )
    shown = destination.rstrip("/") if "://" in destination else root
    dump_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return ParquetTarget(fs, root, shown, layout, check_compression(compression), dump_id)


def existing_files(target: ParquetTarget) -> tuple[str, ...]:
    """Return the Parquet files already under the destination, as filesystem paths."""
    found = target.fs.find(target.root) if target.fs.exists(target.root) else []
    return tuple(sorted(path for path in found if path.endswith(".parquet")))


def clear_files(target: ParquetTarget, files: Sequence[str]) -> None:
    """Delete earlier Parquet files, and on local disk the folders they leave empty."""
    if not files:
        return
    target.fs.rm(list(files))
    if isinstance(target.fs, LocalFileSystem):
        _prune_folders(Path(target.root), files)


def _prune_folders(root: Path, files: Sequence[str]) -> None:
    """Remove the folders under root that deleted files left empty, deepest first."""
    folders = {parent for file in files for parent in Path(file).parents if root in parent.parents}
    for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def data_schema(schema: pa.Schema, layout: PartitionLayout) -> pa.Schema:
    """Return the schema of the Parquet files: the dump's, without the partition columns."""
    return pa.schema([field for field in schema if field.name not in layout.columns])


def check_appendable(target: ParquetTarget, files: Sequence[str], schema: pa.Schema) -> None:
    """Raise DumpError if earlier files have other columns or types than this dump's files."""
    if not files:
        return
    expected = data_schema(schema, target.layout)
    with target.fs.open(files[0], "rb") as handle:
        found = pq.read_schema(handle)
    if found.equals(expected, check_metadata=False):
        return
    differing = sorted(
        {f"{field.name}: {field.type}" for field in found}
        ^ {f"{field.name}: {field.type}" for field in expected}
    )
    raise DumpError(
        f"Destination {target.destination} already holds Parquet files with other columns or "
        f"types (differing: {'; '.join(differing)}); dump with mode='overwrite' or elsewhere."
    )


def write_batch(batch: pa.Table, target: ParquetTarget, batch_number: int) -> tuple[str, ...]:
    """Write batch number N (from 1) as one Parquet file per partition; return paths or URLs."""
    name = f"part-{target.dump_id}-{batch_number:06d}.parquet"
    written = []
    for folder, rows in partition_batch(batch, target.layout):
        relative = posixpath.join(folder, name)
        _write_file(target, relative, rows)
        written.append(posixpath.join(target.destination, relative))
    return tuple(written)


def partition_batch(batch: pa.Table, layout: PartitionLayout) -> list[tuple[str, pa.Table]]:
    """Split a batch into (relative folder, rows without partition columns), sorted by folder."""
    data = batch.drop_columns(list(layout.columns))
    if not layout.folders:
        return [("", data)]
    keys = _partition_keys(batch, layout)
    names = [f"key{index}" for index in range(len(keys))]
    rows = pa.array(range(batch.num_rows), type=pa.int64())
    groups = pa.table([*keys, rows], names=[*names, "row"])
    grouped = groups.group_by(names, use_threads=False).aggregate([("row", "list")])
    parts = [
        (_folder(layout.folders, [group[name] for name in names]), data.take(group["row_list"]))
        for group in grouped.to_pylist()
    ]
    return sorted(parts, key=lambda part: str(part[0]))


def _partition_keys(batch: pa.Table, layout: PartitionLayout) -> list[pa.ChunkedArray]:
    """Return one text array per folder level, holding each row's folder value."""
    keys = [pc.cast(batch[name], pa.string()) for name in layout.columns]
    if layout.date_column is not None:
        moments = _as_moments(batch[layout.date_column], layout.date_column)
        for folder in layout.date_folders:
            extract, width = _DATE_PARTS[folder]
            keys.append(pc.utf8_lpad(pc.cast(extract(moments), pa.string()), width, "0"))
    return keys


def _as_moments(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Return a date or datetime column as is, and an ISO 8601 text column parsed."""
    if not pa.types.is_string(column.type):
        return column
    try:
        return pc.cast(column, pa.timestamp("us"))
    except pa.ArrowInvalid as error:
        raise DumpError(
            f"date_partition_column {name!r} holds text that is not an ISO 8601 date ({error}); "
            "CAST it to a date in the query, or fix the value."
        ) from error


def _folder(names: Sequence[str], values: Sequence[str | None]) -> str:
    """Return the hive folder path for one combination of partition values."""
    return "/".join(f"{name}={_segment(value)}" for name, value in zip(names, values, strict=True))


def _segment(value: str | None) -> str:
    """Return a partition value percent-encoded, or Hive's marker for NULL and empty text."""
    return quote(value, safe="") if value else HIVE_NULL


def _write_file(target: ParquetTarget, relative: str, rows: pa.Table) -> None:
    """Write rows as one Parquet file at a path relative to the destination."""
    path = posixpath.join(target.root, relative)
    if isinstance(target.fs, LocalFileSystem):
        target.fs.makedirs(posixpath.dirname(path), exist_ok=True)
    with target.fs.open(path, "wb") as handle:
        pq.write_table(rows, handle, compression=target.compression)
