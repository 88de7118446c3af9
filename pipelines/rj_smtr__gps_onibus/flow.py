"""Clean a fleet's bus GPS pings and write each vehicle's distance and mean speed as CSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prefect import flow, task

from rj_smtr__gps_onibus import transform
from rj_smtr__gps_onibus.transform import Cleaned, Parsed, Ping, VehicleSummary

Fleet = Literal["sppo", "brt"]
# Small synthetic samples, one per fleet, read when no `source` is given.
SAMPLES: Mapping[str, Path] = {
    "sppo": Path(__file__).parent / "data" / "sppo.csv",
    "brt": Path(__file__).parent / "data" / "brt.csv",
}


@dataclass(frozen=True)
class GpsResult:
    """What one run produced: the CSV written and the pings kept and dropped."""

    output: Path
    vehicles: int
    pings_kept: int
    rejected: Mapping[str, int]


@task
def read_pings(source: Path) -> Parsed:
    """Parse the GPS CSV, counting the rows that cannot be read."""
    return transform.read_pings(source)


@task
def clean_pings(parsed: Parsed) -> Cleaned:
    """Drop pings outside Rio, with an impossible speed, or duplicated."""
    return transform.clean_pings(parsed)


@task
def summarize_vehicles(pings: Sequence[Ping]) -> list[VehicleSummary]:
    """Distance travelled and mean speed of each vehicle."""
    return transform.summarize_vehicles(pings)


@task
def write_summaries(path: Path, summaries: Sequence[VehicleSummary]) -> int:
    """Write the per-vehicle CSV; returns the number of vehicles written."""
    return transform.write_vehicle_summaries(path, summaries)


@flow(name="rj_smtr__gps_onibus", log_prints=True)
def rj_smtr__gps_onibus(
    fleet: Fleet = "sppo",
    source: str | None = None,
    destination: str = "data/output/rj_smtr__gps_onibus",
) -> GpsResult:
    """Summarize the pings of `source` (the fleet's shipped sample by default) per vehicle."""
    source_path = Path(source) if source else SAMPLES[fleet]
    cleaned = clean_pings(read_pings(source_path))
    summaries = summarize_vehicles(cleaned.pings)
    output = Path(destination) / f"vehicles_{fleet}.csv"
    vehicles = write_summaries(output, summaries)
    rejected = {reason.value: count for reason, count in cleaned.rejected.items()}
    print(f"{fleet}: kept {len(cleaned.pings)} pings, dropped {cleaned.rejected_total}: {rejected}")
    print(f"{vehicles} vehicles written to {output.resolve()}")
    return GpsResult(output, vehicles, len(cleaned.pings), rejected)
