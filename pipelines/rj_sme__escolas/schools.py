"""Read the schools CSV and total students per regional education office (CRE).

Plain Python, no Prefect: the flow wraps these functions in tasks.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Rio's municipal schools are grouped under 11 Coordenadorias Regionais de Educação.
CRE_COUNT = 11
COLUMNS = ("inep_code", "name", "cre", "neighborhood", "students", "teachers")


@dataclass(frozen=True)
class School:
    """One municipal school and its enrolment."""

    inep_code: str
    name: str
    cre: int
    neighborhood: str
    students: int
    teachers: int


@dataclass(frozen=True)
class RegionTotals:
    """Schools, students and teachers of one CRE."""

    cre: int
    schools: int
    students: int
    teachers: int

    @property
    def label(self) -> str:
        """The name the education office uses, e.g. '4ª CRE'."""
        return cre_label(self.cre)

    @property
    def students_per_teacher(self) -> float:
        """Students per teacher, rounded to one decimal; 0.0 for a CRE without teachers."""
        return round(self.students / self.teachers, 1) if self.teachers else 0.0


def cre_label(cre: int) -> str:
    """The name the education office gives CRE number `cre`, e.g. '4ª CRE'."""
    return f"{cre}ª CRE"


def read_schools(path: Path) -> list[School]:
    """Parse the schools CSV at `path`; a bad row raises ValueError naming its line."""
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_schools(handle, str(path))


def parse_schools(lines: Iterable[str], origin: str = "<csv>") -> list[School]:
    """Parse CSV text with the COLUMNS header into schools, in file order."""
    reader = csv.DictReader(lines)
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{origin}: missing columns {', '.join(missing)}")
    return [_school(row, f"{origin}:{reader.line_num}") for row in reader]


def totals_by_region(schools: Iterable[School]) -> list[RegionTotals]:
    """Sum schools, students and teachers per CRE, ordered by CRE number."""
    totals: dict[int, RegionTotals] = {}
    for school in schools:
        current = totals.get(school.cre, RegionTotals(school.cre, 0, 0, 0))
        totals[school.cre] = RegionTotals(
            cre=school.cre,
            schools=current.schools + 1,
            students=current.students + school.students,
            teachers=current.teachers + school.teachers,
        )
    return [totals[cre] for cre in sorted(totals)]


def grand_total(regions: Sequence[RegionTotals]) -> RegionTotals:
    """The sum of every CRE, with cre set to 0."""
    return RegionTotals(
        cre=0,
        schools=sum(region.schools for region in regions),
        students=sum(region.students for region in regions),
        teachers=sum(region.teachers for region in regions),
    )


def _school(row: dict[str, str], where: str) -> School:
    name = (row["name"] or "").strip()
    if not name:
        raise ValueError(f"{where}: the school has no name")
    cre = _integer(row, "cre", where)
    if not 1 <= cre <= CRE_COUNT:
        raise ValueError(f"{where}: cre {cre} is not between 1 and {CRE_COUNT}")
    students = _integer(row, "students", where)
    teachers = _integer(row, "teachers", where)
    if students < 0 or teachers < 0:
        raise ValueError(f"{where}: students and teachers cannot be negative")
    return School(
        inep_code=(row["inep_code"] or "").strip(),
        name=name,
        cre=cre,
        neighborhood=(row["neighborhood"] or "").strip(),
        students=students,
        teachers=teachers,
    )


def _integer(row: dict[str, str], column: str, where: str) -> int:
    raw = (row[column] or "").strip()
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{where}: {column} {raw!r} is not a whole number") from None
