"""Reading a table or a query in batches of Arrow tables that all share one schema."""

from collections.abc import Generator, Iterator, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import (
    Connection,
    CursorResult,
    MetaData,
    Select,
    Table,
    create_engine,
    select,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.sql.elements import TextClause

from prefect_rj_iplanrio._arrow_types import (
    arrow_type_for_postgres,
    arrow_type_for_sql,
    column_array,
    infer_arrow_type,
)
from prefect_rj_iplanrio._dump_support import DumpError, parse_url, render_url, run_logger

_EXACTLY_ONE = (
    "Pass exactly one of table='schema.name' or query='SELECT ...' to dump_db (got {given})."
)


def check_source(table: str | None, query: str | None) -> None:
    """Raise ValueError unless exactly one of table and query is given, and it is not blank."""
    if (table is None) == (query is None):
        given = "neither" if table is None else "both"
        raise ValueError(_EXACTLY_ONE.format(given=given))
    kind, value = ("table", table) if table is not None else ("query", query)
    if not (value or "").strip():
        raise ValueError(f"The {kind} given to dump_db is blank; pass a table name or a query.")


def check_batch_size(batch_size: int) -> None:
    """Raise ValueError unless batch_size is a positive number of rows."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"batch_size must be a positive number of rows, got {batch_size!r}; "
            "50_000 suits most tables."
        )


def read_batches(
    source_url: str | URL,
    *,
    table: str | None = None,
    query: str | None = None,
    batch_size: int = 50_000,
) -> Generator[pa.Table, None, None]:
    """Yield the rows of a table or a query as Arrow tables of at most batch_size rows.

    Rows are streamed (a server-side cursor where the driver has one), so memory holds one batch
    at a time. Every table yielded has the same schema; an empty result yields one empty table,
    so the caller still learns the columns. A dotted table name is read as schema.table.
    """
    check_source(table, query)
    check_batch_size(batch_size)
    engine = create_engine(parse_url(source_url))
    try:
        with engine.connect() as connection:
            statement = _statement(connection, table, query)
            yield from _stream(connection, statement, batch_size)
    finally:
        engine.dispose()


def _statement(
    connection: Connection, table: str | None, query: str | None
) -> Select[Any] | TextClause:
    """Return the SELECT of a reflected table, or the query as a SQL text clause."""
    if query is not None:
        return text(query)
    if table is not None:
        return select(_reflect(connection, table))
    raise ValueError(_EXACTLY_ONE.format(given="neither"))


def _reflect(connection: Connection, table: str) -> Table:
    """Load a table's columns and types from the database; the name is quoted, never pasted."""
    schema, _, name = table.rpartition(".")
    try:
        return Table(name, MetaData(), schema=schema or None, autoload_with=connection)
    except NoSuchTableError as error:
        raise DumpError(
            f"Table {table!r} was not found in {render_url(connection.engine.url)}; check its "
            "spelling, and write 'schema.table' for a table outside the default schema."
        ) from error


def _stream(
    connection: Connection, statement: Select[Any] | TextClause, batch_size: int
) -> Iterator[pa.Table]:
    """Execute the statement with a streaming cursor and yield its rows batch by batch."""
    streaming = connection.execution_options(stream_results=True, yield_per=batch_size)
    result = streaming.execute(statement)
    names = _column_names(result)
    declared = _declared_types(connection, result, statement)
    schema: pa.Schema | None = None
    # The size is passed on purpose: SQLAlchemy 2.1 ignores yield_per for text() statements.
    for rows in result.partitions(batch_size):
        columns = list(zip(*rows, strict=True))
        if schema is None:
            schema = _settle_schema(names, declared, columns)
        yield _arrow_table(schema, columns)
    if schema is None:
        yield pa.schema(
            [(name, _or_text(kind)) for name, kind in zip(names, declared, strict=True)]
        ).empty_table()


def _column_names(result: CursorResult[Any]) -> tuple[str, ...]:
    """Return the result's column names, refusing a name that appears twice."""
    names = tuple(result.keys())
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DumpError(
            f"The query returns the column {repeated[0]!r} more than once; give each column a "
            "unique name with AS (for example SELECT a.id AS a_id, b.id AS b_id ...)."
        )
    return names


def _declared_types(
    connection: Connection, result: CursorResult[Any], statement: Select[Any] | TextClause
) -> list[pa.DataType | None]:
    """Return the Arrow type each column declares, None where only its values can tell."""
    count = len(result.keys())
    from_sql: list[pa.DataType | None] = [None] * count
    if isinstance(statement, Select):
        from_sql = [arrow_type_for_sql(column.type) for column in statement.selected_columns]
    from_cursor: list[pa.DataType | None] = [None] * count
    description = result.cursor.description if result.cursor is not None else None
    if connection.dialect.name == "postgresql" and description is not None:
        from_cursor = [arrow_type_for_postgres(entry) for entry in description]
    return [
        sql if sql is not None else cursor
        for sql, cursor in zip(from_sql, from_cursor, strict=True)
    ]


def _settle_schema(
    names: Sequence[str], declared: Sequence[pa.DataType | None], columns: Sequence[Sequence[Any]]
) -> pa.Schema:
    """Fix the schema of the dump from declared types, then from the first batch's values."""
    kinds = [
        kind if kind is not None else infer_arrow_type(values)
        for kind, values in zip(declared, columns, strict=True)
    ]
    unknown = [name for name, kind in zip(names, kinds, strict=True) if kind is None]
    if unknown:
        run_logger().warning(
            "These columns have no declared type and are NULL in the whole first batch, so "
            "they are written as text: %s. Dump the table, or CAST them in the query, to keep "
            "their type.",
            ", ".join(repr(name) for name in unknown),
        )
    return pa.schema([(name, _or_text(kind)) for name, kind in zip(names, kinds, strict=True)])


def _or_text(kind: pa.DataType | None) -> pa.DataType:
    """Return the type, or text when it is still unknown."""
    return kind if kind is not None else pa.string()


def _arrow_table(schema: pa.Schema, columns: Sequence[Sequence[Any]]) -> pa.Table:
    """Convert a batch of column values to an Arrow table of the dump's schema."""
    arrays = [
        column_array(field.name, values, field.type)
        for field, values in zip(schema, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)
