"""Compliance findings (p.16, p.25–p.30): pure functions of a unit's facts and of today."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from domain.base import InvalidValue
from domain.compliance import DEFAULT_QUARTERS, Finding, UnitFacts, check_quarters, findings, quarter_dates

UNIT = UUID("4a4a4a4a-0000-4000-8000-000000000001")
LEADER = UUID("4b4b4b4b-0000-4000-8000-000000000002")
FORMED = date(2026, 9, 10)


def association(**facts: Any) -> UnitFacts:
    """A school association in good standing on 2026-09-10: three members, a leader, an approved plan."""
    values: dict[str, Any] = {
        "unit_id": UNIT, "kind": "methodical_association", "name": "МО математики", "formed_on": FORMED,
        "members": 3, "leader_id": LEADER, "leader_ends_on": date(2027, 9, 10),
        "approved_years": {"2026-2027", "2027-2028"},
        "meetings": [date(2026, 10, 1), date(2026, 12, 1), date(2027, 2, 1), date(2027, 4, 1), date(2027, 10, 1)],
    }
    values.update(facts)
    return UnitFacts(**values)


def codes(found: list[Finding]) -> list[tuple[str, str, date]]:
    return [(f.code, f.clause, f.since) for f in found]


def test_an_association_in_good_standing_has_no_findings():
    assert findings([association()], date(2026, 9, 10)) == []
    assert findings([association()], date(2027, 6, 1)) == []


# The three-teacher minimum (p.26, p.16)

def test_an_association_below_the_minimum_is_reported_since_the_day_it_fell_below_citing_p26():
    found = findings([association(members=2, below_minimum_since=date(2026, 10, 3))], date(2026, 10, 5))
    assert codes(found) == [("below_minimum", "p.26", date(2026, 10, 3))]
    assert found[0].unit_id == UNIT
    assert "2" in found[0].message and "3" in found[0].message


def test_a_commission_below_the_minimum_cites_p16():
    facts = association(kind="subject_cycle_commission", members=1, below_minimum_since=date(2026, 11, 1))
    assert ("below_minimum", "p.16", date(2026, 11, 1)) in codes(findings([facts], date(2026, 11, 2)))


def test_a_methodical_office_has_no_minimum_leader_plan_or_cadence():
    facts = association(kind="methodical_office", members=0, leader_id=None, approved_years=set(), meetings=[])
    assert findings([facts], date(2028, 1, 1)) == []


# Leaders (p.30)

def test_an_association_without_a_leader_is_reported_since_it_was_formed_citing_p30():
    found = findings([association(leader_id=None, leader_ends_on=None)], date(2026, 9, 20))
    assert codes(found) == [("no_leader", "p.30", FORMED)]


def test_a_leader_who_left_the_unit_is_reported_as_no_leader_since_then():
    facts = association(leader_is_member=False, leader_gone_since=date(2026, 12, 2))
    assert codes(findings([facts], date(2026, 12, 3))) == [("no_leader", "p.30", date(2026, 12, 2))]


def test_a_term_is_active_on_its_last_day_and_expired_exactly_on_its_end_date_citing_p30():
    assert findings([association()], date(2027, 9, 9)) == []
    found = findings([association()], date(2027, 9, 10))
    assert codes(found) == [("leader_term_expired", "p.30", date(2027, 9, 10))]
    assert "2027-09-10" in found[0].message


def test_an_interschool_leader_term_expiry_cites_p30_and_a_district_association_p27():
    facts = association(kind="interschool_association")
    assert ("leader_term_expired", "p.30", date(2027, 9, 10)) in codes(findings([facts], date(2027, 9, 11)))
    district = association(kind="district_association", leader_ends_on=date(2027, 1, 1))
    assert ("leader_term_expired", "p.27", date(2027, 1, 1)) in codes(findings([district], date(2027, 1, 2)))


# Annual plans (p.29)

def test_no_approved_plan_for_this_academic_year_is_reported_from_the_formation_day_citing_p29():
    found = findings([association(approved_years=set())], date(2026, 9, 20))
    assert codes(found) == [("no_approved_plan", "p.29", FORMED)]
    assert "2026-2027" in found[0].message


def test_a_new_academic_year_needs_its_own_approved_plan_from_1_september():
    facts = association(approved_years={"2026-2027"}, leader_ends_on=date(2028, 9, 1))
    assert codes(findings([facts], date(2027, 9, 2))) == [("no_approved_plan", "p.29", date(2027, 9, 1))]


def test_only_an_approved_plan_counts():
    assert findings([association(approved_years={"2025-2026"})], date(2026, 9, 20))[0].code == "no_approved_plan"


# Meetings once a quarter (p.25)

def test_quarter_one_without_a_meeting_is_reported_the_day_after_it_ends_citing_p25():
    facts = association(meetings=[])
    assert findings([facts], date(2026, 11, 5)) == []
    found = findings([facts], date(2026, 11, 6))
    assert codes(found) == [("no_meeting_in_quarter", "p.25", date(2026, 11, 6))]
    assert "quarter 1 of 2026-2027" in found[0].message


def test_a_unit_formed_during_a_quarter_is_expected_to_meet_in_it():
    facts = association(formed_on=date(2026, 10, 20), meetings=[])
    assert codes(findings([facts], date(2026, 11, 6))) == [("no_meeting_in_quarter", "p.25", date(2026, 11, 6))]


def test_a_quarter_that_ended_before_the_unit_was_formed_is_not_held_against_it():
    facts = association(formed_on=date(2026, 11, 20), meetings=[], approved_years={"2026-2027"})
    assert findings([facts], date(2027, 1, 7)) == []
    assert [f.since for f in findings([facts], date(2027, 1, 8))] == [date(2027, 1, 8)]


def test_a_meeting_in_the_autumn_break_counts_for_quarter_one_by_default():
    facts = association(meetings=[date(2026, 11, 3)])
    assert findings([facts], date(2026, 11, 6)) == []


def test_a_meeting_closes_its_own_quarter_only():
    facts = association(meetings=[date(2026, 12, 15)])
    found = findings([facts], date(2027, 1, 8))
    assert codes(found) == [("no_meeting_in_quarter", "p.25", date(2026, 11, 6))]


def test_every_quarter_ended_within_the_last_year_is_reported_oldest_first():
    facts = association(meetings=[], leader_ends_on=date(2030, 1, 1), approved_years={"2026-2027", "2027-2028"})
    found = findings([facts], date(2027, 9, 1))
    assert [f.since for f in found] == [date(2026, 11, 6), date(2027, 1, 8), date(2027, 3, 25), date(2027, 6, 1)]


def test_quarters_are_counted_by_a_custom_calendar():
    trimesters_like = (("09-01", "10-31"), ("11-01", "12-31"), ("01-01", "03-20"), ("03-21", "05-25"))
    facts = association(meetings=[date(2026, 11, 3)])
    # By the default calendar 3 November is in quarter 1; by this one it is in quarter 2.
    assert findings([facts], date(2026, 11, 6)) == []
    found = findings([facts], date(2026, 11, 1), trimesters_like)
    assert codes(found) == [("no_meeting_in_quarter", "p.25", date(2026, 11, 1))]
    assert findings([facts], date(2027, 1, 1), trimesters_like)[0].since == date(2026, 11, 1)
    assert len(findings([facts], date(2027, 1, 1), trimesters_like)) == 1


def test_the_interschool_association_meets_quarterly_too():
    facts = association(kind="interschool_association", meetings=[])
    assert codes(findings([facts], date(2026, 11, 6))) == [("no_meeting_in_quarter", "p.25", date(2026, 11, 6))]


# District associations meet 2–3 times a year (p.27)

def district(**facts: Any) -> UnitFacts:
    values: dict[str, Any] = {"kind": "district_association", "formed_on": date(2025, 9, 15),
                              "leader_ends_on": date(2027, 9, 15), "meetings": []}
    values.update(facts)
    return association(**values)


def test_a_district_association_with_one_meeting_in_the_past_academic_year_is_reported_citing_p27():
    found = findings([district(meetings=[date(2025, 10, 1), date(2026, 9, 5)])], date(2026, 9, 10))
    assert codes(found) == [("too_few_meetings", "p.27", date(2026, 9, 1))]
    assert "2025-2026" in found[0].message


def test_a_district_association_with_two_meetings_in_the_past_academic_year_is_fine():
    assert findings([district(meetings=[date(2025, 10, 1), date(2026, 8, 31)])], date(2026, 9, 10)) == []


def test_a_district_association_is_not_judged_on_a_year_before_it_existed():
    assert findings([district(formed_on=date(2026, 9, 2))], date(2026, 9, 10)) == []


def test_a_district_association_is_not_judged_quarter_by_quarter():
    facts = district(meetings=[date(2025, 10, 1), date(2026, 3, 1)])
    assert findings([facts], date(2026, 12, 1)) == []


# The academic calendar

def test_the_default_calendar_is_the_kazakhstan_school_year():
    assert check_quarters(DEFAULT_QUARTERS) == DEFAULT_QUARTERS
    assert quarter_dates(2026, DEFAULT_QUARTERS[1]) == (date(2026, 11, 6), date(2027, 1, 7))


@pytest.mark.parametrize("quarters", [
    [("09-01", "11-05")] * 3,
    [("09-01", "11-05"), ("11-06", "01-07"), ("01-08", "03-24"), ("03-25",)],
    [("09-01", "11-05"), ("11-06", "01-07"), ("01-08", "03-24"), ("03-25", "5-31")],
    [("09-01", "11-05"), ("11-06", "01-07"), ("01-08", "03-24"), ("03-25", "06-31")],
    [("09-01", "11-05"), ("11-01", "01-07"), ("01-08", "03-24"), ("03-25", "05-31")],
    [("09-01", "11-05"), ("01-08", "03-24"), ("11-06", "01-07"), ("03-25", "05-31")],
    [("09-01", "11-05"), ("11-06", "01-07"), ("01-08", "03-24"), ("03-25", "09-15")],
    [("09-01", "11-05"), ("11-06", "01-07"), ("03-24", "01-08"), ("03-25", "05-31")],
])
def test_a_malformed_calendar_is_invalid_naming_quarters(quarters):
    with pytest.raises(InvalidValue) as error:
        check_quarters(quarters)
    assert error.value.field == "quarters"


def test_a_quarter_boundary_on_29_february_is_invalid_since_most_years_have_none():
    quarters = [("09-01", "11-05"), ("11-06", "01-07"), ("01-08", "02-29"), ("03-01", "05-31")]
    with pytest.raises(InvalidValue) as error:
        check_quarters(quarters)
    assert error.value.field == "quarters"


def test_a_custom_calendar_that_runs_to_august_is_valid():
    quarters = [("09-02", "10-31"), ("11-01", "12-31"), ("01-09", "03-31"), ("04-01", "08-31")]
    assert check_quarters(quarters) == tuple(quarters)


# What the compliance read leaves out: meetings before the last academic year began, plans of other years


@pytest.mark.parametrize("kind", ["methodical_association", "district_association"])
def test_meetings_before_the_last_academic_year_and_other_years_plans_never_change_a_finding(kind):
    import random
    from datetime import timedelta

    from domain.compliance import looks_back_to
    from domain.units import academic_year_of

    rng = random.Random(583)
    for _ in range(300):
        today = date(2025, 1, 1) + timedelta(days=rng.randrange(1200))
        formed = today - timedelta(days=rng.randrange(900))
        meetings = sorted(formed + timedelta(days=rng.randrange(max(1, (today - formed).days + 1)))
                          for _ in range(rng.randrange(0, 12)))
        years = {f"{y}-{y + 1}" for y in range(2023, 2029) if rng.random() < 0.5}
        unit = association(kind=kind, formed_on=formed, meetings=meetings, approved_years=years)
        kept = association(kind=kind, formed_on=formed, approved_years=years & {academic_year_of(today)},
                           meetings=[day for day in meetings if day >= looks_back_to(today)])
        assert findings([kept], today) == findings([unit], today)
