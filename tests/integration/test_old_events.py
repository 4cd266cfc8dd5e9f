"""Events stored in an older form are upcast on reading (eventsourcing's `class_version` and `upcast_v1_v2`): the
application and the read models, live and rebuilt, see them as the current form; and a read model's version bump
makes `migrate` rebuild it (ADR 025)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from sqlalchemy import text

from domain.base import Actor, Context
from domain.tenants import Tenant
from projections import tenants as tenants_rm
from projections.base import stale_read_models, wait_for_position
from projections.registry import READ_MODELS
from projections.runner import migrate_read_models, rebuild_read_model
from support import valid_bin

OLD_QUARTERS = [["09-02", "11-02"], ["11-10", "12-29"], ["01-08", "03-20"], ["03-30", "05-25"]]


def _ctx() -> Context:
    return Context(Actor.operator(), uuid4().hex, datetime.now(timezone.utc), ids=uuid4)


def test_a_calendar_stored_in_the_first_form_is_read_in_the_second(settings, platform, engine, projector):
    from services.applications import Platform

    tenant = platform.register_tenant(_ctx(), name="Ескі мектеп", kind="school", bin=valid_bin(),
                                      region="Абай облысы", language="kk").aggregate
    # The stored form of version 1, written raw into the store: the current event's stored state with its quarters
    # as positional pairs and no class_version (version 1 never wrote one).
    current = Tenant.CalendarSet(originator_id=tenant.id, originator_version=tenant.version + 1,
                                 timestamp=datetime.now(timezone.utc), meta=_ctx().meta(tenant.id, "p.25"),
                                 quarters=[{"start": a, "end": b} for a, b in OLD_QUARTERS])
    stored = platform.mapper.to_stored_event(current)
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    state["quarters"] = OLD_QUARTERS
    old = StoredEvent(originator_id=stored.originator_id, originator_version=stored.originator_version,
                      topic=stored.topic, state=json.dumps(state, separators=(",", ":")).encode())
    assert b"class_version" not in old.state and b'"start"' not in old.state
    position = platform.recorder.insert_events([old])[-1]

    # The application: the aggregate loads through the upcast (a fresh application: no cached aggregate).
    fresh = Platform(env=settings.eventsourcing_env())
    try:
        loaded = fresh.repository.get(tenant.id)
        assert loaded.quarters == OLD_QUARTERS
        read = fresh.mapper.to_domain_event(fresh.recorder.select_notifications(start=position, limit=1)[0])
        assert read.quarters[0] == {"start": "09-02", "end": "11-02"}
        # The next calendar set is stored in the second form.
        again = [["09-01", "11-01"], *OLD_QUARTERS[1:]]
        done = fresh.set_calendar(_ctx(), tenant.id, again)
        new_state = json.loads(fresh.recorder.select_notifications(start=done.position, limit=1)[0].state)
        assert new_state["class_version"] == 2 and new_state["quarters"][0] == {"start": "09-01", "end": "11-01"}
    finally:
        fresh.close()

    # The live projector read the old event (and the new one) through the same mapper.
    wait_for_position(engine, tenants_rm.read_model, done.position, timeout=10)

    def stored_quarters() -> object:
        with engine.connect() as conn:
            return conn.execute(text("SELECT quarters FROM rm_tenants WHERE id = :id"), {"id": tenant.id}).scalar()

    with engine.connect() as conn:
        audit_type = conn.execute(text("SELECT type FROM rm_audit_events WHERE position = :p"),
                                  {"p": position}).scalar()
    assert audit_type == "Tenant.CalendarSet"
    assert stored_quarters() == again
    # And so does a rebuild, in bulk from the start of the log.
    rebuild_read_model(platform, engine, "tenants")
    assert stored_quarters() == again


def test_a_read_model_version_bump_makes_migrate_rebuild_it_beside_the_live_one(platform, engine, monkeypatch):
    migrate_read_models(platform, engine)  # every fingerprint recorded
    read_model = READ_MODELS["tenants"]
    assert read_model not in stale_read_models(engine, READ_MODELS.values())
    monkeypatch.setattr(read_model, "version", 2)
    try:
        assert stale_read_models(engine, READ_MODELS.values()) == [read_model]
        assert set(migrate_read_models(platform, engine)) == {"tenants"}
        assert stale_read_models(engine, READ_MODELS.values()) == []
    finally:
        monkeypatch.undo()
        migrate_read_models(platform, engine)
    assert stale_read_models(engine, READ_MODELS.values()) == []


def test_a_key_recorded_in_the_first_form_answers_a_retry_without_naming_what_it_recorded(platform, client, tour):
    from eventsourcing.utils import get_topic

    from domain.requests import NOT_A_DECISION, IdempotentRequest, fingerprint

    key = f"old-form-{uuid4()}"
    body = json.dumps({"name": "Ескі кілт мектебі", "kind": "school", "bin": valid_bin(), "region": "Абай облысы"})
    record_id = IdempotentRequest.id_for("operator", key)
    # The stored form of version 1, written raw: no class_version, no subject; its command's answer not kept. Its
    # context is a tenant's, as the record of a registration takes the new tenant's.
    tenant = platform.register_tenant(_ctx(), name="Ескі кілт мектебі", kind="school", bin=valid_bin(),
                                      region="Абай облысы").aggregate
    current = IdempotentRequest.Received(
        originator_id=record_id, originator_version=1, timestamp=datetime.now(timezone.utc),
        meta=_ctx().meta(tenant.id, None, no_clause=NOT_A_DECISION), originator_topic=get_topic(IdempotentRequest),
        caller="operator", fingerprint=fingerprint("POST", "/api/v1/tenants", body.encode()), tenant=tenant.id,
        subject=tenant.id, subject_kind="Tenant")
    state = json.loads(platform.mapper.to_stored_event(current).state)
    assert state.pop("class_version") == 2 and state.pop("subject") and state.pop("subject_kind") == "Tenant"
    stored = platform.mapper.to_stored_event(current)
    old = StoredEvent(originator_id=stored.originator_id, originator_version=1, topic=stored.topic,
                      state=json.dumps(state, separators=(",", ":")).encode())
    platform.recorder.insert_events([old])
    read = platform.mapper.to_domain_event(old)  # upcast: the event names nothing it recorded
    assert read.subject is None and read.subject_kind is None and read.caller == "operator"
    retry = client.post("/api/v1/tenants", data=body, content_type="application/json",
                        headers={**tour.operator, "Idempotency-Key": key})
    assert retry.status_code == 409, retry.get_json()
    assert "carried out" in retry.get_json()["detail"] and "carried_out" not in retry.get_json()
