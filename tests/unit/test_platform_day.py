"""The platform's day is Kazakhstan's (UTC+5), not UTC's: what today is, and where a day begins and ends (ADR 027)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from domain.base import day_end, day_of, day_start


def test_from_19_00_utc_it_is_already_the_next_day_in_kazakhstan():
    assert day_of(datetime(2026, 12, 7, 18, 59, 59, tzinfo=timezone.utc)) == date(2026, 12, 7)
    assert day_of(datetime(2026, 12, 7, 19, 0, tzinfo=timezone.utc)) == date(2026, 12, 8)
    assert day_of(datetime(2026, 12, 7, 19, 0)) == date(2026, 12, 8)  # a naive moment is UTC's


def test_a_day_runs_from_midnight_to_midnight_in_kazakhstan():
    start, end = day_start(date(2026, 12, 8)), day_end(date(2026, 12, 8))
    assert start == datetime(2026, 12, 7, 19, 0, tzinfo=timezone.utc)
    assert end == datetime(2026, 12, 8, 18, 59, 59, 999999, tzinfo=timezone.utc)
    assert day_of(start) == day_of(end) == date(2026, 12, 8)
    assert day_of(start - timedelta(microseconds=1)) == date(2026, 12, 7)
    assert day_of(end + timedelta(microseconds=1)) == date(2026, 12, 9)
