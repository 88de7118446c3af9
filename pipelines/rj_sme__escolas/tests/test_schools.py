"""Unit tests of the CSV parsing and the per-CRE totals."""

import pytest

from rj_sme__escolas.schools import RegionTotals, School, parse_schools, totals_by_region

HEADER = "inep_code,name,cre,neighborhood,students,teachers\n"


def _school(cre: int, students: int, teachers: int, name: str = "E.M. Teste") -> School:
    return School("1", name, cre, "Centro", students, teachers)


def test_parse_schools_reads_every_column() -> None:
    schools = parse_schools([HEADER, "33000001,E.M. Tia Ciata,1,Centro,412,24\n"])

    assert schools == [School("33000001", "E.M. Tia Ciata", 1, "Centro", 412, 24)]


def test_parse_schools_names_the_line_of_a_bad_number() -> None:
    lines = [HEADER, "1,E.M. A,1,Centro,10,1\n", "2,E.M. B,2,Lapa,dez,1\n"]

    with pytest.raises(ValueError, match=r"escolas\.csv:3: students 'dez' is not a whole number"):
        parse_schools(lines, "escolas.csv")


@pytest.mark.parametrize("cre", ["0", "12"])
def test_parse_schools_refuses_a_cre_that_does_not_exist(cre: str) -> None:
    with pytest.raises(ValueError, match=f"cre {cre} is not between 1 and 11"):
        parse_schools([HEADER, f"1,E.M. A,{cre},Centro,10,1\n"])


def test_parse_schools_refuses_negative_students() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_schools([HEADER, "1,E.M. A,3,Méier,-5,1\n"])


def test_parse_schools_refuses_a_missing_column() -> None:
    with pytest.raises(ValueError, match="missing columns teachers"):
        parse_schools(["inep_code,name,cre,neighborhood,students\n", "1,E.M. A,3,Méier,5\n"])


def test_totals_by_region_sums_each_cre_in_cre_order() -> None:
    schools = [_school(10, 300, 20), _school(2, 100, 5), _school(10, 250, 10), _school(2, 40, 2)]

    totals = totals_by_region(schools)

    assert totals == [RegionTotals(2, 2, 140, 7), RegionTotals(10, 2, 550, 30)]
    assert [region.label for region in totals] == ["2ª CRE", "10ª CRE"]
    assert [region.students_per_teacher for region in totals] == [20.0, 18.3]


def test_students_per_teacher_of_a_cre_without_teachers_is_zero() -> None:
    assert RegionTotals(5, 1, 120, 0).students_per_teacher == 0.0
