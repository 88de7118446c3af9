"""Write a daily JSON summary per bus line (vehicles active per hour, distance, speed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from prefect import flow, task

from rj_smtr__gps_onibus import transform
from rj_smtr__gps_onibus.flow import SAMPLES
from rj_smtr__gps_onibus.transform import Cleaned, Ping
from rj_smtr__gps_relatorio.summary import (
    LineDay,
    day_document,
    days_of,
    summarize_lines,
    write_json,
)


@dataclass(frozen=True)
class ReportResult:
    """The JSON files written, one per day, and the pings kept and dropped."""

    outputs: tuple[Path, ...]
    lines: int
    pings_kept: int
    rejected: Mapping[str, int]


@task
def load_pings(source: Path) -> Cleaned:
    """Parse and clean the GPS CSV with the rules of rj_smtr__gps_onibus."""
    return transform.clean_pings(transform.read_pings(source))


@task
def summarize(pings: Sequence[Ping]) -> list[LineDay]:
    """Group the pings by day and line."""
    return summarize_lines(pings)


@task
def write_day(path: Path, day: date, lines: Sequence[LineDay], source: str) -> Path:
    """Write the JSON summary of one day."""
    return write_json(path, day_document(day, lines, source))


@flow(name="rj_smtr__gps_relatorio", log_prints=True)
def rj_smtr__gps_relatorio(
    source: str | None = None,
    day: date | None = None,
    destination: str = "data/output/rj_smtr__gps_relatorio",
) -> ReportResult:
    """Summarize each line of `source` (the SPPO sample by default) per day, or for `day` only.

    A `day` without pings still gets its file, with no lines, so that a daily run always
    leaves one.
    """
    source_path = Path(source) if source else SAMPLES["sppo"]
    folder = Path(destination)
    cleaned = load_pings(source_path)
    lines = summarize(cleaned.pings)

    days = [day] if day else days_of(cleaned.pings)
    outputs = tuple(
        write_day(folder / f"lines_{each.isoformat()}.json", each, lines, source_path.name)
        for each in days
    )

    rejected = {reason.value: count for reason, count in cleaned.rejected.items()}
    written = [line for line in lines if line.day in days]
    print(f"kept {len(cleaned.pings)} pings, dropped {cleaned.rejected_total}: {rejected}")
    for output in outputs:
        print(f"report written to {output.resolve()}")
    return ReportResult(outputs, len(written), len(cleaned.pings), rejected)
