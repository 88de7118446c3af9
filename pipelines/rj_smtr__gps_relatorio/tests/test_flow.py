"""Run the flow of rj_smtr__gps_relatorio for real and read back the JSON it wrote."""

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rj_smtr__gps_onibus.transform import EARTH_RADIUS_KM, haversine_km
from rj_smtr__gps_relatorio.flow import rj_smtr__gps_relatorio

KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
CSV = """vehicle_id,line,timestamp,latitude,longitude,speed_kmh
A1,474,2024-05-06T06:00:00,-22.900,-43.2,10
A1,474,2024-05-06T06:30:00,-22.910,-43.2,30
A2,474,2024-05-06T06:45:00,-22.950,-43.2,20
A2,474,2024-05-06T07:15:00,-22.940,-43.2,20
A2,474,2024-05-06T07:15:00,-22.940,-43.2,20
A1,474,2024-05-06T09:00:00,-23.550,-46.6,20
B1,309,2024-05-06T09:10:00,-22.900,-43.3,150
B1,309,2024-05-06T09:20:00,-22.900,-43.3,25
B1,309,2024-05-07T01:30:00+00:00,-22.905,-43.3,25
B1,309,2024-05-07T08:00:00,-22.910,-43.3,35
B1,309,2024-05-07T08:10:00,,-43.3,35
"""


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Two days of pings of lines 474 and 309, with five invalid rows."""
    path = tmp_path / "gps.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_flow_writes_one_json_per_day_without_the_invalid_pings(
    source: Path, tmp_path: Path
) -> None:
    destination = tmp_path / "out"

    result = rj_smtr__gps_relatorio(source=str(source), destination=str(destination))

    assert result.outputs == (
        destination / "lines_2024-05-06.json",
        destination / "lines_2024-05-07.json",
    )
    assert result.rejected == {"malformed": 1, "outside_rio": 1, "bad_speed": 1, "duplicate": 1}
    assert result.pings_kept == 7
    monday = {line["line"]: line for line in _load(result.outputs[0])["lines"]}
    assert sorted(monday) == ["309", "474"]
    assert monday["474"]["vehicles"] == 2
    assert monday["474"]["pings"] == 4
    assert monday["474"]["vehicles_per_hour"][6:10] == [2, 1, 0, 0]
    assert monday["474"]["distance_km"] == pytest.approx(0.02 * KM_PER_DEGREE, abs=1e-3)
    assert monday["474"]["mean_speed_kmh"] == pytest.approx(20.0)
    assert monday["309"]["pings"] == 2  # 09:20 and 22:30 Rio time; the 150 km/h ping is gone
    assert monday["309"]["vehicles_per_hour"][9] == 1
    assert monday["309"]["vehicles_per_hour"][22] == 1
    tuesday = _load(result.outputs[1])
    assert tuesday["date"] == "2024-05-07"
    assert [(line["line"], line["pings"]) for line in tuesday["lines"]] == [("309", 1)]


def test_flow_limits_the_report_to_the_day_asked(source: Path, tmp_path: Path) -> None:
    result = rj_smtr__gps_relatorio(
        source=str(source), day=date(2024, 5, 7), destination=str(tmp_path / "out")
    )

    assert result.outputs == (tmp_path / "out" / "lines_2024-05-07.json",)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["lines_2024-05-07.json"]
    assert result.lines == 1


def test_flow_writes_an_empty_file_for_a_day_without_pings(source: Path, tmp_path: Path) -> None:
    # A day given as text, as `nox -s run` passes it; Prefect turns it into a date.
    day: Any = "2024-05-08"

    result = rj_smtr__gps_relatorio(source=str(source), day=day, destination=str(tmp_path))

    assert _load(result.outputs[0]) == {"date": "2024-05-08", "source": "gps.csv", "lines": []}
    assert result.lines == 0


def test_flow_summarizes_the_gps_onibus_sample_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default destination is relative to the working directory

    result = rj_smtr__gps_relatorio()

    assert result.outputs == (Path("data/output/rj_smtr__gps_relatorio/lines_2024-05-06.json"),)
    document = _load(tmp_path / result.outputs[0])
    lines = {line["line"]: line for line in document["lines"]}
    assert document["source"] == "sppo.csv"
    assert {name: line["vehicles"] for name, line in lines.items()} == {
        "232": 1,
        "309": 1,
        "474": 2,
    }
    assert lines["474"]["vehicles_per_hour"][5:10] == [0, 2, 2, 2, 0]
    # Both 474 buses drive the whole route between Jacaré and Copacabana once.
    route = haversine_km(-22.8898, -43.2633, -22.9711, -43.1863)
    assert lines["474"]["distance_km"] == pytest.approx(2 * route, abs=0.02)
    assert result.rejected == {"malformed": 1, "outside_rio": 2, "bad_speed": 2, "duplicate": 1}
