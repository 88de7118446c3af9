"""Run the flow of rj_sme__escolas for real and read back the workbook it wrote."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from rj_sme__escolas.flow import REPORT_NAME, SAMPLE, TIMEZONE, rj_sme__escolas

CSV = """inep_code,name,cre,neighborhood,students,teachers
1,E.M. Alfa,3,Méier,400,20
2,E.M. Beta,1,Centro,250,10
3,E.M. Gama,3,Engenho Novo,100,5
4,E.M. Delta,7,Taquara,90,6
"""


def _rows(path: Path, sheet: str) -> list[tuple[object, ...]]:
    workbook = load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in workbook[sheet].iter_rows(values_only=True)]
    finally:
        workbook.close()


def test_flow_totals_a_generated_csv_per_cre(tmp_path: Path) -> None:
    source = tmp_path / "escolas.csv"
    source.write_text(CSV, encoding="utf-8")

    report = rj_sme__escolas(source=str(source), destination=str(tmp_path / "out"))

    assert report == tmp_path / "out" / REPORT_NAME
    assert _rows(report, "Alunos por CRE") == [
        ("CRE", "Escolas", "Alunos", "Professores", "Alunos por professor"),
        ("1ª CRE", 1, 250, 10, 25),
        ("3ª CRE", 2, 500, 25, 20),
        ("7ª CRE", 1, 90, 6, 15),
        ("Total", 4, 840, 41, 20.5),
    ]
    schools = _rows(report, "Escolas")
    assert [row[1] for row in schools[1:]] == ["E.M. Beta", "E.M. Alfa", "E.M. Gama", "E.M. Delta"]


def test_flow_reports_the_shipped_sample_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default destination is relative to the working directory

    report = rj_sme__escolas()

    assert report == Path("data/output/rj_sme__escolas") / REPORT_NAME
    summary = _rows(tmp_path / report, "Alunos por CRE")
    assert [row[0] for row in summary[1:-1]] == [f"{cre}ª CRE" for cre in range(1, 12)]
    assert summary[4] == ("4ª CRE", 2, 950, 54, 17.6)
    assert summary[-1] == ("Total", 30, 15090, 854, 17.7)
    assert len(_rows(tmp_path / report, "Escolas")) == 31
    assert not (SAMPLE.parent / "output").exists()


def test_flow_stamps_the_report_with_rio_time(tmp_path: Path) -> None:
    before = datetime.now(TIMEZONE).replace(microsecond=0)

    report = rj_sme__escolas(destination=str(tmp_path))

    about = {str(row[0]): row[1] for row in _rows(report, "Sobre")}
    generated = datetime.fromisoformat(str(about["Gerado em"]))
    assert generated.utcoffset() == timedelta(hours=-3)
    assert before <= generated <= datetime.now(TIMEZONE)
    assert about["Fonte"] == "escolas.csv"


def test_flow_fails_on_a_bad_row_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "escolas.csv"
    source.write_text(CSV.replace("Taquara,90", "Taquara,-90"), encoding="utf-8")

    with pytest.raises(ValueError, match=r"escolas\.csv:5: students and teachers"):
        rj_sme__escolas(source=str(source), destination=str(tmp_path / "out"))

    assert not (tmp_path / "out").exists()
