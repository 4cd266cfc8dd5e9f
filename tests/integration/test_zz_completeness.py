"""Completeness of the decision history: run last, over every event the suite's session wrote."""

from __future__ import annotations

from datetime import timedelta

from projections.runner import stored_events
from services.reminders import REMINDERS
from services.unions import DELIVERY


def test_every_event_written_by_the_suite_says_who_when_where_and_why(platform):
    checked = 0
    missing: list[str] = []
    for position, event in stored_events(platform):
        checked += 1
        meta = getattr(event, "meta", None)
        where = f"{position} {type(event).__qualname__}"
        if not isinstance(meta, dict):
            missing.append(f"{where}: no meta")
            continue
        actor = meta.get("actor") or {}
        if not actor.get("role"):
            missing.append(f"{where}: no actor role")
        # The platform's own actors (the operator, the delivery worker) are no person.
        if actor.get("role") not in ("operator", DELIVERY, REMINDERS) and not actor.get("person_id"):
            missing.append(f"{where}: a person acted but is not named")
        if not meta.get("request_id"):
            missing.append(f"{where}: no request id")
        platform_wide = meta.get("scope") == "platform" and actor.get("role") == "operator"
        if not (meta.get("tenant_id") or meta.get("union_id") or platform_wide):
            missing.append(f"{where}: neither tenant nor union")
        if "clause" not in meta:
            missing.append(f"{where}: no clause field")
        elif not meta["clause"] and not meta.get("no_clause"):
            missing.append(f"{where}: neither a clause nor why none applies")
        if event.timestamp.utcoffset() != timedelta(0):
            missing.append(f"{where}: time not in UTC")
    assert checked > 100, "the suite wrote too few events for this check to mean anything"
    assert missing == []
