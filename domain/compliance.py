"""Compliance findings: what the Rules expect of units and when a unit falls short (p.16, p.25–p.30).

Pure functions over the facts a read model keeps; "today" is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from domain.base import InvalidValue
from domain.units import UNIT_KINDS, academic_year_of

# The Kazakhstan school year by default: four quarters, each running to the end of the break after it,
# so that a meeting held in a break counts for the quarter just ended. Per tenant it can be set (p.25).
DEFAULT_QUARTERS: tuple[tuple[str, str], ...] = (
    ("09-01", "11-05"),
    ("11-06", "01-07"),
    ("01-08", "03-24"),
    ("03-25", "05-31"),
)
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class Finding:
    """One way a unit falls short of the Rules, since when, under which clause."""

    clause: str
    code: str
    unit_id: UUID
    message: str
    since: date


@dataclass
class UnitFacts:
    """What compliance needs to know of one unit."""

    unit_id: UUID
    kind: str
    name: str
    formed_on: date
    members: int
    below_minimum_since: date | None = None
    leader_id: UUID | None = None
    leader_ends_on: date | None = None
    leader_is_member: bool = True
    leader_gone_since: date | None = None
    approved_years: set[str] = field(default_factory=set)
    meetings: list[date] = field(default_factory=list)


@dataclass(frozen=True)
class RuleChecked:
    """A rule the findings were computed by, for the kinds of unit it was checked on."""

    clause: str
    code: str
    rule: str
    unit_kinds: tuple[str, ...]


_RULE_TEXTS = {
    "below_minimum": "a unit keeps the minimum of members it was formed with",
    "no_leader": "a unit the Rules give a leader has one, and the leader is a member",
    "leader_term_expired": "a leader's term is one year",
    "no_approved_plan": "a methodical association's work plan for the academic year is approved by the head",
    "no_meeting_in_quarter": "an association meets once a quarter",
    "too_few_meetings": "a district association meets at least twice a year",
}


def rules_checked(kinds: Iterable[str]) -> list[RuleChecked]:
    """Return the rules the findings check on units of these kinds, each with the kinds it applies to.

    p.29 asks an annual plan of methodical associations (school, inter-school and district ones); commissions,
    departments and councils work under their organization's own regulations (p.11), so no plan is asked of
    them and none is reported missing.
    """
    applies: dict[tuple[str, str], list[str]] = {}
    for code in sorted(set(kinds)):
        kind = UNIT_KINDS.get(code)
        if kind is None:
            continue
        found = []
        if kind.minimum:
            found.append(("below_minimum", kind.minimum_clause or kind.clause))
        if kind.has_leader:
            found += [("no_leader", kind.leader_clause or "p.30"), ("leader_term_expired", kind.leader_clause or "p.30")]
        if kind.plans_yearly:
            found.append(("no_approved_plan", "p.29"))
        if kind.meets == "quarter":
            found.append(("no_meeting_in_quarter", kind.meets_clause or "p.25"))
        elif kind.meets == "year":
            found.append(("too_few_meetings", kind.meets_clause or "p.27"))
        for rule in found:
            applies.setdefault(rule, []).append(code)
    return [RuleChecked(clause, code, _RULE_TEXTS[code], tuple(kinds_of))
            for (code, clause), kinds_of in applies.items()]


def check_quarters(quarters: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    """Return four (start, end) "MM-DD" pairs of an academic year's quarters; raise if malformed."""
    if len(quarters) != 4:
        raise InvalidValue("An academic year has four quarters.", field="quarters")
    checked = []
    for pair in quarters:
        if len(pair) != 2:
            raise InvalidValue("Each quarter has a start and an end (MM-DD).", field="quarters")
        for value in pair:
            match = _MONTH_DAY.match(str(value))
            if not match:
                raise InvalidValue("Quarter days are written MM-DD.", field="quarters")
            try:
                # 2023 has no 29 February: a boundary must be a day of every year.
                date(2023, int(match.group(1)), int(match.group(2)))
            except ValueError:
                raise InvalidValue("%(value)s is not a day of every year.", field="quarters", value=str(value)) from None
        checked.append((str(pair[0]), str(pair[1])))
    spans = [quarter_dates(2024, q) for q in checked]
    for (start, end), (next_start, _) in zip(spans, spans[1:] + [(date(2025, 9, 1), None)]):
        if end < start or next_start <= end:
            raise InvalidValue("Quarters run in order through the academic year and do not overlap.",
                               field="quarters")
    return tuple(checked)


def quarter_dates(start_year: int, quarter: tuple[str, str]) -> tuple[date, date]:
    """Return the first and last day of a quarter of the academic year starting in start_year."""

    def day(month_day: str) -> date:
        month, dom = int(month_day[:2]), int(month_day[3:])
        return date(start_year if month >= 9 else start_year + 1, month, dom)

    return day(quarter[0]), day(quarter[1])


def looks_back_to(today: date) -> date:
    """Return the first day any finding as of today looks at: the start of the last academic year.

    The quarters checked are those of the last and the current academic year, and the meetings counted per
    year are the last academic year's: a meeting held before this day never changes a finding, and an approved
    plan counts only for the current academic year.
    """
    return date(int(academic_year_of(today)[:4]) - 1, 9, 1)


def findings(units: Iterable[UnitFacts], today: date,
             quarters: Sequence[tuple[str, str]] = DEFAULT_QUARTERS) -> list[Finding]:
    """Return every finding of the units as of today, oldest first."""
    found: list[Finding] = []
    for unit in units:
        found.extend(_unit_findings(unit, today, quarters))
    return sorted(found, key=lambda f: (f.since, str(f.unit_id), f.code))


def _unit_findings(unit: UnitFacts, today: date, quarters: Sequence[tuple[str, str]]) -> Iterable[Finding]:
    rules = UNIT_KINDS[unit.kind]
    if rules.minimum and unit.members < rules.minimum:
        yield Finding(
            rules.minimum_clause or rules.clause, "below_minimum", unit.unit_id,
            f"{unit.name}: {unit.members} member(s); a {unit.kind} needs at least {rules.minimum}.",
            unit.below_minimum_since or unit.formed_on,
        )
    if rules.has_leader:
        clause = rules.leader_clause or "p.30"
        if unit.leader_id is None:
            yield Finding(clause, "no_leader", unit.unit_id, f"{unit.name} has no leader.", unit.formed_on)
        elif not unit.leader_is_member:
            yield Finding(clause, "no_leader", unit.unit_id, f"{unit.name}: its leader is no longer a member.",
                          unit.leader_gone_since or today)
        elif unit.leader_ends_on is not None and unit.leader_ends_on <= today:
            yield Finding(clause, "leader_term_expired", unit.unit_id,
                          f"{unit.name}: the leader's one-year term ended on {unit.leader_ends_on}.",
                          unit.leader_ends_on)
    if rules.plans_yearly:
        year = academic_year_of(today)
        if year not in unit.approved_years:
            year_start = date(int(year[:4]), 9, 1)
            yield Finding("p.29", "no_approved_plan", unit.unit_id,
                          f"{unit.name} has no approved work plan for {year}.", max(year_start, unit.formed_on))
    if rules.meets == "quarter":
        yield from _quarters_without_meeting(unit, today, quarters, rules.meets_clause or "p.25")
    elif rules.meets == "year":
        yield from _year_with_few_meetings(unit, today, rules.min_meetings_per_year, rules.meets_clause or "p.27")


def _quarters_without_meeting(unit: UnitFacts, today: date, quarters: Sequence[tuple[str, str]],
                              clause: str) -> Iterable[Finding]:
    # Quarters that have ended within the last year and that the unit existed in (a unit formed during a
    # quarter meets in it: it has the rest of the quarter to do so).
    this_year = int(academic_year_of(today)[:4])
    for start_year in (this_year - 1, this_year):
        for number, quarter in enumerate(quarters, start=1):
            start, end = quarter_dates(start_year, quarter)
            if end < unit.formed_on or end >= today or end < today - timedelta(days=366):
                continue
            if not any(start <= held <= end for held in unit.meetings):
                yield Finding(clause, "no_meeting_in_quarter", unit.unit_id,
                              f"{unit.name} held no meeting in quarter {number} of {start_year}-{start_year + 1}"
                              f" ({start} – {end}).", end + timedelta(days=1))


def _year_with_few_meetings(unit: UnitFacts, today: date, minimum: int, clause: str) -> Iterable[Finding]:
    # The last academic year that has ended, if the unit existed before it ended.
    last_start = int(academic_year_of(today)[:4]) - 1
    first, last = date(last_start, 9, 1), date(last_start + 1, 8, 31)
    if unit.formed_on > last:
        return
    held = sum(1 for day in unit.meetings if first <= day <= last)
    if held < minimum:
        yield Finding(clause, "too_few_meetings", unit.unit_id,
                      f"{unit.name} met {held} time(s) in {last_start}-{last_start + 1}; a {unit.kind} meets"
                      f" at least {minimum} times a year.", last + timedelta(days=1))
