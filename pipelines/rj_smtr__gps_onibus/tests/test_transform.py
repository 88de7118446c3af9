"""Unit tests of the parsing, cleaning and distance functions of transform.py."""

import csv
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rj_smtr__gps_onibus.transform import (
    EARTH_RADIUS_KM,
    RIO_TIME,
    Parsed,
    Ping,
    Rejection,
    VehicleSummary,
    clean_pings,
    haversine_km,
    parse_pings,
    parse_timestamp,
    summarize_vehicles,
    write_vehicle_summaries,
)

HEADER = "vehicle_id,line,timestamp,latitude,longitude,speed_kmh\n"
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180  # along a meridian, exactly
START = datetime(2024, 5, 6, 6, 0, tzinfo=RIO_TIME)


def _ping(
    vehicle: str = "A1",
    minute: int = 0,
    latitude: float = -22.9,
    longitude: float = -43.2,
    speed: float = 30.0,
) -> Ping:
    return Ping(vehicle, "474", START + timedelta(minutes=minute), latitude, longitude, speed)


def test_haversine_of_a_point_to_itself_is_zero() -> None:
    assert haversine_km(-22.9, -43.2, -22.9, -43.2) == 0.0


def test_haversine_along_a_meridian_is_the_arc_length() -> None:
    assert haversine_km(-23.0, -43.2, -22.0, -43.2) == pytest.approx(KM_PER_DEGREE, abs=1e-9)


def test_haversine_is_symmetric_and_reaches_a_quarter_of_the_equator() -> None:
    there = haversine_km(-22.9068, -43.1729, -23.5505, -46.6333)
    back = haversine_km(-23.5505, -46.6333, -22.9068, -43.1729)

    assert there == pytest.approx(back)
    assert haversine_km(0.0, 0.0, 0.0, 90.0) == pytest.approx(math.pi * EARTH_RADIUS_KM / 2)
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_KM)


def test_haversine_from_rio_to_sao_paulo_is_about_360_km() -> None:
    # Praça Mauá to Praça da Sé: published great-circle figures are 357-361 km.
    assert 355 < haversine_km(-22.8967, -43.1815, -23.5503, -46.6340) < 362


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-06T06:00:00", START),
        ("2024-05-06 06:00:00", START),
        ("2024-05-06T09:00:00+00:00", START),
        ("2024-05-06T08:00:00-01:00", START),
    ],
)
def test_parse_timestamp_gives_rio_time(raw: str, expected: datetime) -> None:
    moment = parse_timestamp(raw)

    assert moment == expected
    assert moment.utcoffset() == timedelta(hours=-3)


def test_parse_pings_reads_a_row_and_counts_unreadable_ones() -> None:
    lines = [
        HEADER,
        "A1,474,2024-05-06T06:00:00,-22.9,-43.2,30\n",
        "A1,474,2024-05-06T06:01:00,,-43.2,30\n",
        "A1,474,2024-05-06T06:02:00,abc,-43.2,30\n",
        "A1,474,yesterday,-22.9,-43.2,30\n",
        "A1,474,2024-05-06T06:03:00,-22.9,-43.2,nan\n",
        "A1,474,2024-05-06T06:04:00,-22.9\n",
    ]

    parsed = parse_pings(lines)

    assert parsed.pings == (_ping(),)
    assert parsed.malformed == 5


def test_parse_pings_refuses_a_file_without_the_columns() -> None:
    with pytest.raises(ValueError, match="lacks the columns speed_kmh"):
        parse_pings(["vehicle_id,line,timestamp,latitude,longitude\n"])


def test_clean_pings_drops_each_kind_of_invalid_ping() -> None:
    good = [_ping(minute=0), _ping(minute=1), _ping("B2", minute=1)]
    bad = [
        _ping(minute=2, latitude=0.0, longitude=0.0),
        _ping(minute=3, latitude=-23.55, longitude=-46.63),
        _ping(minute=4, speed=-1.0),
        _ping(minute=5, speed=120.5),
        _ping(minute=1, latitude=-22.91),  # same vehicle and moment as a kept ping
    ]

    cleaned = clean_pings(Parsed((*good, *bad), malformed=2))

    assert cleaned.pings == tuple(good)
    assert cleaned.rejected == {
        Rejection.MALFORMED: 2,
        Rejection.OUTSIDE_RIO: 2,
        Rejection.BAD_SPEED: 2,
        Rejection.DUPLICATE: 1,
    }
    assert cleaned.rejected_total == 7


def test_clean_pings_keeps_the_speed_limits_themselves() -> None:
    pings = (_ping(minute=0, speed=0.0), _ping(minute=1, speed=120.0))

    assert clean_pings(Parsed(pings, 0)).pings == pings


def test_clean_pings_keeps_a_valid_ping_whose_earlier_twin_was_invalid() -> None:
    pings = (_ping(minute=0, speed=300.0), _ping(minute=0))

    cleaned = clean_pings(Parsed(pings, 0))

    assert cleaned.pings == (_ping(minute=0),)
    assert cleaned.rejected[Rejection.DUPLICATE] == 0


def test_summarize_vehicles_measures_each_track_in_time_order() -> None:
    pings = [
        _ping("B2", minute=5, latitude=-22.95, speed=10.0),
        _ping("A1", minute=10, latitude=-22.88, speed=40.0),
        _ping("A1", minute=0, latitude=-22.90, speed=20.0),
        _ping("A1", minute=5, latitude=-22.89, speed=30.0),
    ]

    summaries = summarize_vehicles(pings)

    assert [summary.vehicle_id for summary in summaries] == ["A1", "B2"]
    a1, b2 = summaries
    assert a1.pings == 3
    assert a1.distance_km == pytest.approx(0.02 * KM_PER_DEGREE, abs=1e-6)
    assert a1.mean_speed_kmh == pytest.approx(30.0)
    assert (a1.first_seen, a1.last_seen) == (START, START + timedelta(minutes=10))
    assert b2.distance_km == 0.0
    assert b2.pings == 1


def test_write_vehicle_summaries_writes_a_csv_with_a_header(tmp_path: Path) -> None:
    summary = VehicleSummary("A1", 3, START, START + timedelta(minutes=10), 2.22391, 30.0)
    path = tmp_path / "nested" / "vehicles.csv"

    written = write_vehicle_summaries(path, [summary])

    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert written == 1
    assert rows == [
        {
            "vehicle_id": "A1",
            "pings": "3",
            "first_seen": "2024-05-06T06:00:00-03:00",
            "last_seen": "2024-05-06T06:10:00-03:00",
            "distance_km": "2.224",
            "mean_speed_kmh": "30.000",
        }
    ]
