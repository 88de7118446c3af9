"""Copy a table or query of the source database of {{ cookiecutter.__folder }} to Parquet."""

from __future__ import annotations

import os

from prefect import flow

from prefect_rj_iplanrio.dump_db import DumpResult, dump_db

# The connection URL carries a password, so it comes from the environment, never a parameter.
DATABASE_URL_VARIABLE = "{{ cookiecutter.__env_prefix }}_DATABASE_URL"


@flow(name="{{ cookiecutter.__folder }}", log_prints=True)
def {{ cookiecutter.__folder }}(
    table: str | None = None,
    query: str | None = None,
    destination: str = "data/{{ cookiecutter.__folder }}",
    batch_size: int = 50_000,
    partition_columns: list[str] | None = None,
    date_partition_column: str | None = None,
) -> DumpResult:
    """Dump `table` (or the rows of `query`) to partitioned Parquet files under `destination`."""
    source_url = os.environ.get(DATABASE_URL_VARIABLE, "")
    if not source_url:
        raise ValueError(f"set {DATABASE_URL_VARIABLE} to the SQLAlchemy URL of the database")
    result = dump_db(
        source_url,
        destination,
        table=table,
        query=query,
        batch_size=batch_size,
        partition_columns=partition_columns or (),
        date_partition_column=date_partition_column,
    )
    print(f"{result.rows} rows in {len(result.files)} files under {result.destination}")
    return result
