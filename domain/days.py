"""Which days the platform accepts, by what they mean.

Each date a client sends names a day of the platform's own work: a leader's term, a meeting, a plan's academic
year, an auditor's grant, a council's decision. None of them lies before 2000 (year 1 is no school year) or
after 2099, and most lie within a few years of today; a day outside what it can mean is refused naming its
field, before any arithmetic on it (a term ending in the year 10000) can fail.
"""

from __future__ import annotations

import re
from datetime import date

from domain.base import InvalidValue, Phrase

EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str, field: str | None = None) -> date:
    """Return the day a client wrote in ISO 8601's extended form YYYY-MM-DD (not 20260901), between 2000 and
    2099; refuse anything else naming the field."""
    try:
        day = date.fromisoformat(text) if isinstance(text, str) and _ISO_DAY.match(text) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidValue("Send a date as YYYY-MM-DD.", field=field)
    if not EARLIEST <= day <= LATEST:
        raise InvalidValue("A date lies between %(earliest)s and %(latest)s.", field=field, earliest=EARLIEST.isoformat(),
                           latest=LATEST.isoformat())
    return day


def years_from(day: date, years: int) -> date:
    """Return the same day the given number of years later (or earlier); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def check_day(day: date, field: str, earliest: date, latest: date, what: str, clause: str | None = None) -> date:
    """Return the day if it lies between earliest and latest (both included), else refuse it naming the field."""
    if not earliest <= day <= latest:
        raise InvalidValue("%(what)s lies between %(earliest)s and %(latest)s; %(day)s does not.", clause, field,
                           what=Phrase(what), earliest=earliest.isoformat(), latest=latest.isoformat(),
                           day=day.isoformat())
    return day


def check_within(day: date, field: str, today: date, *, back: int, ahead: int, what: str,
                 clause: str | None = None) -> date:
    """Return the day if it lies from `back` years before today to `ahead` years after, else refuse it."""
    return check_day(day, field, years_from(today, -back), years_from(today, ahead), what, clause)
