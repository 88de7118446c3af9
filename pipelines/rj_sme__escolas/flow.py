"""Total the students of Rio's municipal schools per CRE and write an Excel report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import flow, task

from rj_sme__escolas.report import write_report
from rj_sme__escolas.schools import RegionTotals, School, read_schools, totals_by_region

SAMPLE = Path(__file__).parent / "data" / "escolas.csv"
REPORT_NAME = "alunos_por_cre.xlsx"
TIMEZONE = ZoneInfo("America/Sao_Paulo")


@task
def load_schools(source: Path) -> list[School]:
    """Read and validate the schools CSV."""
    return read_schools(source)


@task
def summarize(schools: Sequence[School]) -> list[RegionTotals]:
    """Total schools, students and teachers per CRE."""
    return totals_by_region(schools)


@task
def save_report(
    path: Path, schools: Sequence[School], regions: Sequence[RegionTotals], source: Path
) -> Path:
    """Write the workbook, stamped with the current time in Rio."""
    return write_report(path, schools, regions, datetime.now(TIMEZONE), source.name)


@flow(name="rj_sme__escolas", log_prints=True)
def rj_sme__escolas(
    source: str | None = None,
    destination: str = "data/output/rj_sme__escolas",
    report_name: str = REPORT_NAME,
) -> Path:
    """Read the schools CSV (`source`, the shipped sample by default), write the report."""
    source_path = Path(source) if source else SAMPLE
    schools = load_schools(source_path)
    regions = summarize(schools)
    report = save_report(Path(destination) / report_name, schools, regions, source_path)
    students = sum(region.students for region in regions)
    print(f"{len(schools)} schools, {students} students in {len(regions)} CREs")
    print(f"report written to {report.resolve()}")
    return report
