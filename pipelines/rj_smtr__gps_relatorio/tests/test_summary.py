"""Unit tests of the per-line, per-day summary."""

import json
import math
from datetime import date, datetime, timedelta

import pytest

from rj_smtr__gps_onibus.transform import EARTH_RADIUS_KM, RIO_TIME, Ping
from rj_smtr__gps_relatorio.summary import day_document, days_of, summarize_lines

KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
MONDAY = datetime(2024, 5, 6, tzinfo=RIO_TIME)


def _ping(
    vehicle: str, line: str, hours: float, latitude: float = -22.9, speed: float = 20.0
) -> Ping:
    return Ping(vehicle, line, MONDAY + timedelta(hours=hours), latitude, -43.2, speed)


PINGS = [
    _ping("A1", "474", 6.0, -22.90, 10.0),
    _ping("A1", "474", 6.5, -22.91, 30.0),
    _ping("A2", "474", 6.9, -22.95),
    _ping("A1", "474", 7.2, -22.92, 20.0),
    _ping("A2", "474", 8.1, -22.96),
    _ping("B1", "309", 23.5),
    _ping("A1", "309", 26.0),  # Tuesday 02:00, now on another line
]


def test_summarize_lines_groups_by_day_then_line() -> None:
    summaries = summarize_lines(PINGS)

    assert [(s.day, s.line) for s in summaries] == [
        (date(2024, 5, 6), "309"),
        (date(2024, 5, 6), "474"),
        (date(2024, 5, 7), "309"),
    ]
    assert [s.vehicles for s in summaries] == [1, 2, 1]
    assert [s.pings for s in summaries] == [1, 5, 1]


def test_summarize_lines_counts_vehicles_active_in_each_hour() -> None:
    line_474 = summarize_lines(PINGS)[1]

    expected = [0] * 24
    expected[6], expected[7], expected[8] = 2, 1, 1
    assert line_474.vehicles_per_hour == tuple(expected)
    assert line_474.peak_hour == 6


def test_summarize_lines_adds_the_distance_of_each_vehicle_and_averages_speed() -> None:
    line_474 = summarize_lines(PINGS)[1]

    # A1 drives 0.02 degrees north to south, A2 0.01: 0.03 degrees of meridian in all.
    assert line_474.distance_km == pytest.approx(0.03 * KM_PER_DEGREE, abs=1e-6)
    assert line_474.mean_speed_kmh == pytest.approx((10 + 30 + 20 + 20 + 20) / 5)
    assert line_474.first_ping == MONDAY + timedelta(hours=6)
    assert line_474.last_ping == MONDAY + timedelta(hours=8.1)


def test_days_follow_rio_time() -> None:
    late = Ping("C1", "232", datetime.fromisoformat("2024-05-07T01:30:00+00:00"), -22.9, -43.2, 5)
    rio_late = Ping("C1", "232", late.timestamp.astimezone(RIO_TIME), -22.9, -43.2, 5)

    assert days_of([rio_late]) == [date(2024, 5, 6)]
    assert summarize_lines([rio_late])[0].vehicles_per_hour[22] == 1


def test_day_document_keeps_only_that_day_and_is_json() -> None:
    document = day_document(date(2024, 5, 7), summarize_lines(PINGS), "gps.csv")

    decoded = json.loads(json.dumps(document))
    assert decoded["date"] == "2024-05-07"
    assert decoded["source"] == "gps.csv"
    assert [line["line"] for line in decoded["lines"]] == ["309"]
    assert decoded["lines"][0]["peak_hour"] == 2
    assert decoded["lines"][0]["first_ping"] == "2024-05-07T02:00:00-03:00"
