"""Reminder rules on the tenant's own day: each fires on its day and not the day before, once per period."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.base import Actor, Context, InvalidValue
from domain.reminders import (
    BELOW_MINIMUM, CIRCULAR_UNACKNOWLEDGED, DOCUMENT_WAITING, FEW_MEETINGS_THIS_YEAR, LEADER_TERM_ENDING,
    LEADER_TERM_ENDS, NO_MEETING_THIS_QUARTER, PLAN_NOT_APPROVED, Reminder, ReminderSettings, TenantFacts,
    UnacknowledgedCircular, UnitState, WaitingDocument, check_settings, due_reminders, period_of_digest,
    reminder_id,
)

HEAD, DEPUTY, LEADER, CHAIR, REVIEWER = (uuid4() for _ in range(5))


def school(*units: UnitState, documents=(), circulars=()) -> TenantFacts:
    return TenantFacts(uuid4(), (HEAD,), (DEPUTY,), list(units), list(documents), list(circulars))


def association(**facts) -> UnitState:
    return UnitState(unit_id=facts.pop("unit_id", uuid4()), kind=facts.pop("kind", "methodical_association"),
                     name="МО математики", members=facts.pop("members", 3), **facts)


def rules_on(facts: TenantFacts, day: date, settings: ReminderSettings = ReminderSettings()) -> dict[str, object]:
    return {d.rule: d for d in due_reminders(facts, day, settings)}


def test_a_leaders_term_reminds_the_head_and_the_leader_30_days_before_and_on_its_last_day_p30():
    unit = association(leader_id=LEADER, leader_starts_on=date(2025, 12, 20), leader_ends_on=date(2026, 12, 20),
                       plan_status="approved", meetings=[date(2026, 10, 1), date(2026, 12, 1)])
    facts = school(unit)
    assert LEADER_TERM_ENDING not in rules_on(facts, date(2026, 11, 19))
    ending = rules_on(facts, date(2026, 11, 20))[LEADER_TERM_ENDING]
    assert ending.clause == "p.30" and {r.person_id for r in ending.recipients} == {HEAD, LEADER}
    assert ending.period == "term:2025-12-20"
    later = rules_on(facts, date(2026, 12, 5))[LEADER_TERM_ENDING]
    assert later.reminder_id == ending.reminder_id  # the same reminder, whichever day finds it: once per term
    assert LEADER_TERM_ENDS not in rules_on(facts, date(2026, 12, 19))
    assert rules_on(facts, date(2026, 12, 20))[LEADER_TERM_ENDS].clause == "p.30"


def test_an_association_without_a_meeting_is_reminded_14_days_before_its_quarter_ends_p25():
    unit = association(plan_status="approved", meetings=[date(2026, 9, 20)])
    facts = school(unit)
    # The second quarter runs 6 November – 7 January (DEFAULT_QUARTERS).
    assert NO_MEETING_THIS_QUARTER not in rules_on(facts, date(2026, 12, 23))
    due = rules_on(facts, date(2026, 12, 24))[NO_MEETING_THIS_QUARTER]
    assert due.clause == "p.25" and due.period == "2026-2027:q2"
    held = association(unit_id=unit.unit_id, plan_status="approved", meetings=[date(2026, 12, 1)])
    assert NO_MEETING_THIS_QUARTER not in rules_on(school(held), date(2026, 12, 24))


def test_a_district_association_with_fewer_than_two_meetings_is_reminded_in_the_years_last_two_months_p27():
    unit = association(kind="district_association", members=5, plan_status="approved", meetings=[date(2026, 10, 1)])
    facts = school(unit)
    assert FEW_MEETINGS_THIS_YEAR not in rules_on(facts, date(2027, 6, 30))
    assert rules_on(facts, date(2027, 7, 1))[FEW_MEETINGS_THIS_YEAR].clause == "p.27"
    interschool = association(kind="interschool_association", plan_status="approved", meetings=[date(2026, 10, 1)])
    assert rules_on(school(interschool), date(2027, 7, 1))[FEW_MEETINGS_THIS_YEAR].clause == "p.27"
    met = association(kind="district_association", members=5, plan_status="approved",
                      meetings=[date(2026, 10, 1), date(2027, 3, 1)])
    assert FEW_MEETINGS_THIS_YEAR not in rules_on(school(met), date(2027, 7, 1))


def test_a_plan_not_approved_by_the_tenants_date_is_reminded_p29():
    drafted = association(plan_status="draft")
    assert PLAN_NOT_APPROVED not in rules_on(school(drafted), date(2026, 9, 14))
    due = rules_on(school(drafted), date(2026, 9, 15))[PLAN_NOT_APPROVED]
    assert due.clause == "p.29" and [r.person_id for r in due.recipients] == [HEAD]  # the head's to approve
    later = ReminderSettings(plan_due="10-01")
    assert PLAN_NOT_APPROVED not in rules_on(school(drafted), date(2026, 9, 30), later)
    assert PLAN_NOT_APPROVED in rules_on(school(drafted), date(2026, 10, 1), later)
    assert PLAN_NOT_APPROVED not in rules_on(school(association(plan_status="approved")), date(2026, 10, 1))


def test_a_unit_below_its_minimum_is_reminded_the_day_it_happens_p26():
    unit = association(members=2, below_minimum_since=date(2026, 10, 5), plan_status="approved")
    assert BELOW_MINIMUM not in rules_on(school(unit), date(2026, 10, 4))
    due = rules_on(school(unit), date(2026, 10, 5))[BELOW_MINIMUM]
    assert due.clause == "p.26" and due.period == "since:2026-10-05"
    college = association(kind="subject_cycle_commission", members=2, below_minimum_since=date(2026, 10, 5))
    assert rules_on(school(college), date(2026, 10, 5))[BELOW_MINIMUM].clause == "p.16"


def test_a_document_waiting_longer_than_the_tenants_days_reminds_whoever_must_act_p18_p21():
    waiting = WaitingDocument(uuid4(), "Рабочая программа", "p.20", "review", 2, date(2026, 10, 1), uuid4(),
                              (REVIEWER,))
    facts = school(documents=[waiting])
    assert DOCUMENT_WAITING not in rules_on(facts, date(2026, 10, 7))
    due = rules_on(facts, date(2026, 10, 8))[DOCUMENT_WAITING]
    assert due.clause == "p.20" and [r.person_id for r in due.recipients] == [REVIEWER]
    assert DOCUMENT_WAITING in rules_on(facts, date(2026, 10, 4), ReminderSettings(document_days=3))


def test_a_circular_unacknowledged_reminds_the_head_and_sums_up_for_the_unions_chair_p34():
    circular = UnacknowledgedCircular(uuid4(), "1/2", "Тренажёры", "УМО", date(2026, 12, 1), CHAIR)
    facts = school(circulars=[circular])
    assert CIRCULAR_UNACKNOWLEDGED not in rules_on(facts, date(2026, 12, 5))
    due = rules_on(facts, date(2026, 12, 6))[CIRCULAR_UNACKNOWLEDGED]
    assert due.clause == "p.34"
    assert {(r.person_id, r.summary) for r in due.recipients} == {(HEAD, False), (CHAIR, True)}


def test_the_tenants_day_is_its_own_time_zones_across_midnight():
    settings = ReminderSettings()  # Asia/Almaty, UTC+5
    evening_utc = datetime(2026, 11, 19, 19, 1, tzinfo=timezone.utc)  # 00:01 on 20 November in Almaty
    assert settings.today(evening_utc) == date(2026, 11, 20)
    assert settings.today(evening_utc - timedelta(minutes=2)) == date(2026, 11, 19)
    assert not settings.pass_due(datetime(2026, 11, 20, 1, 59, tzinfo=timezone.utc))  # 06:59 there
    assert settings.pass_due(datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc))  # 07:00 there


def test_a_reminder_is_identified_by_rule_subject_and_period_and_records_its_clause():
    subject = uuid4()
    assert reminder_id("a", subject, "p") == reminder_id("a", subject, "p") != reminder_id("a", subject, "q")
    unit = association(leader_id=LEADER, leader_starts_on=date(2025, 12, 20), leader_ends_on=date(2026, 12, 20),
                       plan_status="approved")
    [due] = [d for d in due_reminders(school(unit), date(2026, 12, 1)) if d.rule == LEADER_TERM_ENDING]
    ctx = Context(Actor(role="reminders"), "test", datetime(2026, 12, 1, 2, tzinfo=timezone.utc), uuid4)
    reminder = Reminder.raise_due(ctx, uuid4(), due, date(2026, 12, 1))
    [event] = reminder.collect_events()
    assert reminder.id == due.reminder_id and event.meta["clause"] == "p.30"


def test_digests_are_per_day_or_iso_week_and_settings_are_checked():
    assert period_of_digest("daily", date(2026, 12, 4)) == "2026-12-04"
    assert period_of_digest("weekly", date(2026, 12, 4)) == period_of_digest("weekly", date(2026, 11, 30))
    assert period_of_digest("none", date(2026, 12, 4)) is None
    with pytest.raises(InvalidValue) as refused:
        check_settings(time_zone="Mars/Olympus", plan_due="09-15", document_days=7, circular_days=5)
    assert refused.value.field == "time_zone"
    with pytest.raises(InvalidValue):
        check_settings(time_zone="Asia/Almaty", plan_due="02-30", document_days=7, circular_days=5)
