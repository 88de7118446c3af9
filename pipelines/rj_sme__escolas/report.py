"""Write the students-per-CRE report as an Excel workbook with openpyxl."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from rj_sme__escolas.schools import RegionTotals, School, cre_label, grand_total

# Sheet and column titles are in Portuguese: the workbook is read by the education office.
SUMMARY_SHEET = "Alunos por CRE"
SCHOOLS_SHEET = "Escolas"
ABOUT_SHEET = "Sobre"
SUMMARY_HEADER = ("CRE", "Escolas", "Alunos", "Professores", "Alunos por professor")
SCHOOLS_HEADER = ("Código INEP", "Escola", "CRE", "Bairro", "Alunos", "Professores")
TOTAL_LABEL = "Total"


def write_report(
    path: Path,
    schools: Sequence[School],
    regions: Sequence[RegionTotals],
    generated_at: datetime,
    source: str,
) -> Path:
    """Write the summary, the school list and where the data came from to `path`."""
    workbook = Workbook()
    summary = workbook.worksheets[0]  # a new workbook starts with one empty worksheet
    summary.title = SUMMARY_SHEET
    _fill_summary(summary, regions)
    _fill_schools(workbook.create_sheet(SCHOOLS_SHEET), schools)
    about = workbook.create_sheet(ABOUT_SHEET)
    about.append(("Gerado em", generated_at.isoformat(timespec="seconds")))
    about.append(("Fonte", source))
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def _fill_summary(sheet: Worksheet, regions: Sequence[RegionTotals]) -> None:
    sheet.append(SUMMARY_HEADER)
    for region in regions:
        sheet.append(_summary_row(region.label, region))
    sheet.append(_summary_row(TOTAL_LABEL, grand_total(regions)))
    _bold_row(sheet, 1)
    _bold_row(sheet, sheet.max_row)
    sheet.freeze_panes = "A2"


def _summary_row(label: str, region: RegionTotals) -> tuple[str, int, int, int, float]:
    return (label, region.schools, region.students, region.teachers, region.students_per_teacher)


def _fill_schools(sheet: Worksheet, schools: Sequence[School]) -> None:
    sheet.append(SCHOOLS_HEADER)
    for school in sorted(schools, key=lambda school: (school.cre, school.name)):
        sheet.append(
            (
                school.inep_code,
                school.name,
                cre_label(school.cre),
                school.neighborhood,
                school.students,
                school.teachers,
            )
        )
    _bold_row(sheet, 1)
    sheet.freeze_panes = "A2"


def _bold_row(sheet: Worksheet, row: int) -> None:
    for cell in sheet[row]:
        cell.font = Font(bold=True)
