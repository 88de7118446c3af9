"""Arrow types for database columns: declared where the database says, inferred where it does not.

One Arrow type per column is fixed before the first batch is written and every later batch is
converted to it, so all Parquet files of a dump share one schema. Values are always converted
with Arrow's safe casts: a value that does not fit its column raises instead of being truncated.
"""

import json
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

import pyarrow as pa
from sqlalchemy import types as sqltypes

from prefect_rj_iplanrio._dump_support import DumpError

# A numeric column without declared precision is written as BigQuery's NUMERIC, decimal(38, 9);
# values with more than 9 decimal places are rounded half to even.
_UNBOUNDED_SCALE = 9
_DECIMAL128_DIGITS = 38
_DECIMAL256_DIGITS = 76
_QUANTIZE_CONTEXT = Context(prec=_DECIMAL256_DIGITS + 2)

_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError, ArithmeticError)

# First match wins; decimals and datetimes, which carry parameters, are handled before this.
_SQL_TYPES: tuple[tuple[type[sqltypes.TypeEngine[Any]], pa.DataType], ...] = (
    (sqltypes.Boolean, pa.bool_()),
    (sqltypes.Float, pa.float64()),
    (sqltypes.Integer, pa.int64()),
    (sqltypes.Date, pa.date32()),
    (sqltypes.Time, pa.time64("us")),
    (sqltypes.Interval, pa.duration("us")),
    (sqltypes.String, pa.string()),
    (sqltypes.JSON, pa.string()),
    (sqltypes.Uuid, pa.string()),
    (sqltypes.LargeBinary, pa.binary()),
    (sqltypes.BINARY, pa.binary()),
    (sqltypes.VARBINARY, pa.binary()),
)

# Built-in PostgreSQL type OIDs (fixed by pg_type.dat), used to type the columns of a query.
_POSTGRES_NUMERIC_OID = 1700
_POSTGRES_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    17: pa.binary(),
    18: pa.string(),
    19: pa.string(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    25: pa.string(),
    26: pa.int64(),
    114: pa.string(),
    700: pa.float64(),
    701: pa.float64(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1186: pa.duration("us"),
    2950: pa.string(),
    3802: pa.string(),
}


def decimal_type(precision: int | None, scale: int | None) -> pa.DataType:
    """Return the Arrow decimal for a declared precision and scale (text beyond 76 digits)."""
    if precision is None:
        return pa.decimal128(_DECIMAL128_DIGITS, _UNBOUNDED_SCALE)
    if precision <= _DECIMAL128_DIGITS:
        return pa.decimal128(precision, scale or 0)
    if precision <= _DECIMAL256_DIGITS:
        return pa.decimal256(precision, scale or 0)
    return pa.string()


def arrow_type_for_sql(column_type: sqltypes.TypeEngine[Any]) -> pa.DataType | None:
    """Return the Arrow type of a SQLAlchemy column type, or None when the values must decide."""
    # Numeric before Integer: Oracle's NUMBER is both, and its scale matters.
    if isinstance(column_type, sqltypes.Numeric) and not isinstance(column_type, sqltypes.Float):
        if not column_type.asdecimal:
            return pa.float64()
        return decimal_type(column_type.precision, column_type.scale)
    if isinstance(column_type, sqltypes.DateTime):
        return pa.timestamp("us", tz="UTC" if column_type.timezone else None)
    return next((arrow for kind, arrow in _SQL_TYPES if isinstance(column_type, kind)), None)


def arrow_type_for_postgres(description: Sequence[Any]) -> pa.DataType | None:
    """Return the Arrow type of a PostgreSQL cursor description entry, or None if unknown."""
    type_code, precision, scale = description[1], description[4], description[5]
    if type_code == _POSTGRES_NUMERIC_OID:
        return decimal_type(precision, scale)
    if isinstance(type_code, int):
        return _POSTGRES_TYPES.get(type_code)
    return None


def infer_arrow_type(values: Sequence[Any]) -> pa.DataType | None:
    """Return a stable Arrow type for a column from sample values, or None if all are NULL."""
    try:
        inferred = pa.array(values).type
    except _ARROW_ERRORS:
        return pa.string()  # values of mixed kinds (SQLite allows it): only text holds them all
    if pa.types.is_null(inferred):
        return None
    if pa.types.is_decimal(inferred):
        # Later batches may hold larger values than this sample: leave room for them.
        scale = min(max(inferred.scale, _UNBOUNDED_SCALE), _DECIMAL128_DIGITS)
        return pa.decimal128(_DECIMAL128_DIGITS, scale)
    if pa.types.is_timestamp(inferred):
        return pa.timestamp("us", tz="UTC" if inferred.tz else None)
    if pa.types.is_nested(inferred) or isinstance(inferred, pa.ExtensionType):
        return pa.string()  # JSON documents, arrays, UUIDs: written as text
    return inferred


def column_array(name: str, values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    """Convert one column of a batch to its Arrow type, raising DumpError for a misfit value."""
    try:
        return pa.array(values).cast(arrow_type)
    except _ARROW_ERRORS:
        pass  # the slower path below turns JSON, UUIDs and long decimals into what fits
    try:
        return pa.array([_fitted(value, arrow_type) for value in values]).cast(arrow_type)
    except _ARROW_ERRORS as error:
        raise DumpError(
            f"Column {name!r} holds a value that does not fit its type {arrow_type} ({error}); "
            "CAST the column in a query, or fix the value in the database."
        ) from error


def _fitted(value: Any, arrow_type: pa.DataType) -> Any:
    """Return a value reshaped for a text or decimal column, or unchanged otherwise."""
    if value is None:
        return None
    if pa.types.is_string(arrow_type):
        return _as_text(value)
    if pa.types.is_decimal(arrow_type) and isinstance(value, Decimal):
        step = Decimal(1).scaleb(-arrow_type.scale)
        return value.quantize(step, rounding=ROUND_HALF_EVEN, context=_QUANTIZE_CONTEXT)
    return value


def _as_text(value: Any) -> str:
    """Return text for a value: JSON for documents and arrays, str() for everything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
