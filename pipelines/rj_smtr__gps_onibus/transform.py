"""Parse, clean and summarize bus GPS pings; plain Python, no Prefect.

A ping is one line of the GPS CSV: vehicle_id, line, timestamp, latitude, longitude,
speed_kmh. The flows of rj_smtr__gps_onibus and rj_smtr__gps_relatorio wrap these functions
in tasks.
"""

from __future__ import annotations

import csv
import enum
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

COLUMNS = ("vehicle_id", "line", "timestamp", "latitude", "longitude", "speed_kmh")
SUMMARY_COLUMNS = (
    "vehicle_id",
    "pings",
    "first_seen",
    "last_seen",
    "distance_km",
    "mean_speed_kmh",
)
# Brazil has had no daylight saving time since 2019, so Rio is always UTC-3; a fixed offset
# needs no time zone database in the image.
RIO_TIME = timezone(timedelta(hours=-3), "America/Sao_Paulo")
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
MIN_SPEED_KMH = 0.0
MAX_SPEED_KMH = 120.0


@dataclass(frozen=True)
class BoundingBox:
    """A latitude/longitude rectangle, in decimal degrees."""

    south: float
    north: float
    west: float
    east: float

    def contains(self, latitude: float, longitude: float) -> bool:
        """Whether the point lies inside the box, borders included."""
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east


# The municipality of Rio de Janeiro, from Guaratiba to the Ilha do Governador, with a margin.
RIO_BOUNDS = BoundingBox(south=-23.09, north=-22.74, west=-43.80, east=-43.09)


@dataclass(frozen=True)
class Ping:
    """One GPS position of one vehicle; `timestamp` is always in Rio time (UTC-3)."""

    vehicle_id: str
    line: str
    timestamp: datetime
    latitude: float
    longitude: float
    speed_kmh: float


class Rejection(enum.StrEnum):
    """Why a ping was left out."""

    MALFORMED = "malformed"
    OUTSIDE_RIO = "outside_rio"
    BAD_SPEED = "bad_speed"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Cleaned:
    """The pings kept, in input order, and how many were dropped for each reason."""

    pings: tuple[Ping, ...]
    rejected: Mapping[Rejection, int]

    @property
    def rejected_total(self) -> int:
        """Every ping dropped, whatever the reason."""
        return sum(self.rejected.values())


@dataclass(frozen=True)
class Parsed:
    """The pings read from a CSV and the count of rows that could not be read."""

    pings: tuple[Ping, ...]
    malformed: int


@dataclass(frozen=True)
class VehicleSummary:
    """Distance and mean speed of one vehicle over its pings."""

    vehicle_id: str
    pings: int
    first_seen: datetime
    last_seen: datetime
    distance_km: float
    mean_speed_kmh: float


def haversine_km(
    latitude_a: float, longitude_a: float, latitude_b: float, longitude_b: float
) -> float:
    """Great-circle distance in kilometres between two points given in decimal degrees."""
    phi_a, phi_b = math.radians(latitude_a), math.radians(latitude_b)
    delta_phi = phi_b - phi_a
    delta_lambda = math.radians(longitude_b - longitude_a)
    half_chord = (
        math.sin(delta_phi / 2) ** 2
        + math.cos(phi_a) * math.cos(phi_b) * math.sin(delta_lambda / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, half_chord)))


def parse_timestamp(raw: str) -> datetime:
    """An ISO 8601 timestamp in Rio time; one without an offset is taken as Rio time."""
    moment = datetime.fromisoformat(raw.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=RIO_TIME)
    return moment.astimezone(RIO_TIME)


def parse_ping(row: Mapping[str, str | None]) -> Ping:
    """One CSV row as a Ping; a missing or unreadable field raises ValueError."""
    values = {column: (row.get(column) or "").strip() for column in COLUMNS}
    empty = [column for column, value in values.items() if not value]
    if empty:
        raise ValueError(f"empty {', '.join(empty)}")
    numbers = [float(values[column]) for column in ("latitude", "longitude", "speed_kmh")]
    if not all(math.isfinite(number) for number in numbers):
        raise ValueError("latitude, longitude and speed_kmh must be finite numbers")
    latitude, longitude, speed_kmh = numbers
    return Ping(
        vehicle_id=values["vehicle_id"],
        line=values["line"],
        timestamp=parse_timestamp(values["timestamp"]),
        latitude=latitude,
        longitude=longitude,
        speed_kmh=speed_kmh,
    )


def parse_pings(lines: Iterable[str]) -> Parsed:
    """Read CSV text with the COLUMNS header; rows that cannot be read are counted, not kept."""
    reader = csv.DictReader(lines)
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"the GPS CSV lacks the columns {', '.join(missing)}")
    pings: list[Ping] = []
    malformed = 0
    for row in reader:
        try:
            pings.append(parse_ping(row))
        except ValueError:
            malformed += 1
    return Parsed(tuple(pings), malformed)


def read_pings(path: Path) -> Parsed:
    """Read the GPS CSV file at `path` (UTF-8)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_pings(handle)


def rejection(ping: Ping, bounds: BoundingBox = RIO_BOUNDS) -> Rejection | None:
    """Why `ping` cannot be used on its own, or None when it can."""
    if not bounds.contains(ping.latitude, ping.longitude):
        return Rejection.OUTSIDE_RIO
    if not MIN_SPEED_KMH <= ping.speed_kmh <= MAX_SPEED_KMH:
        return Rejection.BAD_SPEED
    return None


def clean_pings(parsed: Parsed, bounds: BoundingBox = RIO_BOUNDS) -> Cleaned:
    """Drop pings outside `bounds`, with an impossible speed, or repeating a vehicle's moment.

    Two pings of the same vehicle at the same timestamp are duplicates: the first is kept.
    """
    rejected: Counter[Rejection] = Counter({Rejection.MALFORMED: parsed.malformed})
    seen: set[tuple[str, datetime]] = set()
    kept: list[Ping] = []
    for ping in parsed.pings:
        reason = rejection(ping, bounds)
        key = (ping.vehicle_id, ping.timestamp)
        if reason is None and key in seen:
            reason = Rejection.DUPLICATE
        if reason is not None:
            rejected[reason] += 1
            continue
        seen.add(key)
        kept.append(ping)
    return Cleaned(tuple(kept), {reason: rejected[reason] for reason in Rejection})


def by_vehicle(pings: Iterable[Ping]) -> dict[str, list[Ping]]:
    """The pings of each vehicle in time order, vehicles sorted by id."""
    groups: defaultdict[str, list[Ping]] = defaultdict(list)
    for ping in pings:
        groups[ping.vehicle_id].append(ping)
    return {
        vehicle: sorted(groups[vehicle], key=lambda ping: ping.timestamp)
        for vehicle in sorted(groups)
    }


def path_length_km(pings: Sequence[Ping]) -> float:
    """Sum of the great-circle distances between consecutive pings, in the order given."""
    return sum(
        haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)
        for a, b in itertools.pairwise(pings)
    )


def summarize_vehicles(pings: Iterable[Ping]) -> list[VehicleSummary]:
    """Per vehicle: ping count, first and last time, distance travelled, mean reported speed."""
    return [
        VehicleSummary(
            vehicle_id=vehicle,
            pings=len(track),
            first_seen=track[0].timestamp,
            last_seen=track[-1].timestamp,
            distance_km=path_length_km(track),
            mean_speed_kmh=sum(ping.speed_kmh for ping in track) / len(track),
        )
        for vehicle, track in by_vehicle(pings).items()
    ]


def write_vehicle_summaries(path: Path, summaries: Iterable[VehicleSummary]) -> int:
    """Write the summaries as CSV (SUMMARY_COLUMNS, distance and speed to 3 decimals)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SUMMARY_COLUMNS)
        for summary in summaries:
            writer.writerow(
                (
                    summary.vehicle_id,
                    summary.pings,
                    summary.first_seen.isoformat(),
                    summary.last_seen.isoformat(),
                    f"{summary.distance_km:.3f}",
                    f"{summary.mean_speed_kmh:.3f}",
                )
            )
            rows += 1
    return rows
