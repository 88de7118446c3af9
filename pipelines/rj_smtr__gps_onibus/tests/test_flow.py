"""Run the flow of rj_smtr__gps_onibus for real and read back the CSV it wrote."""

import csv
import math
from pathlib import Path

import pytest
from prefect.exceptions import ParameterTypeError

from rj_smtr__gps_onibus.flow import SAMPLES, rj_smtr__gps_onibus
from rj_smtr__gps_onibus.transform import EARTH_RADIUS_KM, haversine_km

KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180


def _gps_csv(path: Path) -> Path:
    """Two buses driving north along a meridian, one bus seen only outside Rio, and bad rows."""
    rows = ["vehicle_id,line,timestamp,latitude,longitude,speed_kmh"]
    for step in range(6):  # A1: 5 hops of 0.009 degrees, 2 minutes apart
        latitude = -22.950 + 0.009 * step
        rows.append(f"A1,474,2024-05-06T06:{2 * step:02d}:00,{latitude:.3f},-43.2000,{20 + step}")
    for step in range(3):  # B2: 2 hops of 0.02 degrees
        latitude = -22.900 + 0.02 * step
        rows.append(f"B2,309,2024-05-06T07:{10 * step:02d}:00,{latitude:.3f},-43.3000,40")
    rows += [
        "A1,474,2024-05-06T06:02:00,-22.941,-43.2000,21",  # duplicate of A1's second ping
        "A1,474,2024-05-06T06:03:00,-22.930,-43.1000,130",  # too fast
        "B2,309,2024-05-06T07:05:00,-22.910,-43.3000,-5",  # negative speed
        "C3,232,2024-05-06T07:00:00,-23.5505,-46.6333,30",  # Sao Paulo
        "C3,232,2024-05-06T07:01:00,0.0,0.0,0",  # GPS without a fix
        "C3,232,2024-05-06T07:02:00,,-43.2,10",  # no latitude
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _read(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["vehicle_id"]: row for row in csv.DictReader(handle)}


def test_flow_writes_distance_and_speed_of_each_valid_vehicle(tmp_path: Path) -> None:
    source = _gps_csv(tmp_path / "gps.csv")

    result = rj_smtr__gps_onibus(source=str(source), destination=str(tmp_path / "out"))

    assert result.output == tmp_path / "out" / "vehicles_sppo.csv"
    rows = _read(result.output)
    assert sorted(rows) == ["A1", "B2"]
    assert float(rows["A1"]["distance_km"]) == pytest.approx(0.045 * KM_PER_DEGREE, abs=1e-3)
    assert float(rows["B2"]["distance_km"]) == pytest.approx(0.04 * KM_PER_DEGREE, abs=1e-3)
    assert float(rows["A1"]["mean_speed_kmh"]) == pytest.approx(22.5)
    assert rows["A1"]["pings"] == "6"
    assert rows["B2"]["first_seen"] == "2024-05-06T07:00:00-03:00"
    assert rows["B2"]["last_seen"] == "2024-05-06T07:20:00-03:00"
    assert (result.vehicles, result.pings_kept) == (2, 9)
    assert result.rejected == {"malformed": 1, "outside_rio": 2, "bad_speed": 2, "duplicate": 1}


def test_flow_summarizes_the_shipped_sppo_sample(tmp_path: Path) -> None:
    # Each sample bus drives a straight line between two points of its route.
    routes = {
        "A41019": ((-22.8898, -43.2633), (-22.9711, -43.1863)),
        "A41020": ((-22.9711, -43.1863), (-22.8898, -43.2633)),
        "B27031": ((-22.9035, -43.1910), (-22.9472, -43.3571)),
        "C47102": ((-22.8789, -43.4654), (-22.9035, -43.1910)),
    }

    result = rj_smtr__gps_onibus(fleet="sppo", destination=str(tmp_path))

    rows = _read(result.output)
    assert sorted(rows) == sorted(routes)
    for vehicle, (start, end) in routes.items():
        expected = haversine_km(*start, *end)
        assert float(rows[vehicle]["distance_km"]) == pytest.approx(expected, abs=0.01), vehicle
        assert rows[vehicle]["pings"] == "13"
    assert result.pings_kept == 52
    assert result.rejected == {"malformed": 1, "outside_rio": 2, "bad_speed": 2, "duplicate": 1}


def test_flow_picks_the_sample_of_the_fleet_and_names_the_output_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default destination is relative to the working directory

    result = rj_smtr__gps_onibus(fleet="brt")

    assert result.output == Path("data/output/rj_smtr__gps_onibus/vehicles_brt.csv")
    assert sorted(_read(tmp_path / result.output)) == ["900101", "900102"]
    assert result.rejected == {"malformed": 0, "outside_rio": 1, "bad_speed": 1, "duplicate": 0}
    assert not (SAMPLES["brt"].parent / "output").exists()


def test_flow_refuses_an_unknown_fleet(tmp_path: Path) -> None:
    with pytest.raises(ParameterTypeError, match="fleet"):
        rj_smtr__gps_onibus(fleet="vlt", destination=str(tmp_path))  # type: ignore[call-overload]

    assert list(tmp_path.iterdir()) == []
