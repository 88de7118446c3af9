"""Build the daily per-line summary of bus GPS pings; plain Python, no Prefect.

Parsing, cleaning and distances come from rj_smtr__gps_onibus.transform, so both pipelines
judge a ping valid by the same rules.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rj_smtr__gps_onibus.transform import Ping, by_vehicle, path_length_km

HOURS = 24


@dataclass(frozen=True)
class LineDay:
    """What the buses of one line did on one day (Rio time)."""

    day: date
    line: str
    vehicles: int
    pings: int
    distance_km: float
    mean_speed_kmh: float
    first_ping: datetime
    last_ping: datetime
    vehicles_per_hour: tuple[int, ...]  # index = hour of the day, 0 to 23

    @property
    def peak_hour(self) -> int:
        """The earliest hour with the most vehicles active."""
        return max(range(HOURS), key=lambda hour: (self.vehicles_per_hour[hour], -hour))


def days_of(pings: Iterable[Ping]) -> list[date]:
    """The days (Rio time) that have at least one ping, in order."""
    return sorted({ping.timestamp.date() for ping in pings})


def summarize_lines(pings: Iterable[Ping]) -> list[LineDay]:
    """One LineDay per day and line that has pings, ordered by day then line."""
    groups: defaultdict[tuple[date, str], list[Ping]] = defaultdict(list)
    for ping in pings:
        groups[(ping.timestamp.date(), ping.line)].append(ping)
    return [_line_day(day, line, groups[(day, line)]) for day, line in sorted(groups)]


def _line_day(day: date, line: str, pings: Sequence[Ping]) -> LineDay:
    tracks = by_vehicle(pings)
    active: list[set[str]] = [set() for _ in range(HOURS)]
    for ping in pings:
        active[ping.timestamp.hour].add(ping.vehicle_id)
    return LineDay(
        day=day,
        line=line,
        vehicles=len(tracks),
        pings=len(pings),
        distance_km=sum(path_length_km(track) for track in tracks.values()),
        mean_speed_kmh=sum(ping.speed_kmh for ping in pings) / len(pings),
        first_ping=min(ping.timestamp for ping in pings),
        last_ping=max(ping.timestamp for ping in pings),
        vehicles_per_hour=tuple(len(vehicles) for vehicles in active),
    )


def day_document(day: date, lines: Sequence[LineDay], source: str) -> dict[str, Any]:
    """The JSON document of one day: its lines, with distances and speeds to 3 decimals."""
    return {
        "date": day.isoformat(),
        "source": source,
        "lines": [_line_document(line) for line in lines if line.day == day],
    }


def _line_document(line: LineDay) -> Mapping[str, Any]:
    return {
        "line": line.line,
        "vehicles": line.vehicles,
        "pings": line.pings,
        "distance_km": round(line.distance_km, 3),
        "mean_speed_kmh": round(line.mean_speed_kmh, 3),
        "first_ping": line.first_ping.isoformat(),
        "last_ping": line.last_ping.isoformat(),
        "peak_hour": line.peak_hour,
        "vehicles_per_hour": list(line.vehicles_per_hour),
    }


def write_json(path: Path, document: Mapping[str, Any]) -> Path:
    """Write `document` as indented UTF-8 JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
