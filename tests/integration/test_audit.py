"""Audit: grants, the history in order, past states, export and re-import, and tamper evidence."""

from __future__ import annotations

import dataclasses
import json
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text

from support import Tour, bearer, fresh_database, platform_today

# A grant ends within five years of today (domain/audit.py).
GRANTED_UNTIL = (platform_today() + timedelta(days=365)).isoformat()


def _auditor(tour: Tour, client: Any) -> tuple[dict[str, Any], dict[str, str], str]:
    """An auditor working for a regional department."""
    authority = tour.tenant("regional_department")
    _, head = tour.head(authority["id"])
    auditor, headers = tour.person(authority["id"], head, ["auditor"], full_name="Аудитор")
    return auditor, headers, authority["id"]


def _school(tour: Tour) -> tuple[dict[str, Any], dict[str, str]]:
    school = tour.tenant("school", name="Мектеп")
    _, head = tour.head(school["id"])
    return school, head


def test_an_auditor_without_a_grant_gets_404_and_with_one_reads_the_history_in_log_order(client, tour):
    school, head = _school(tour)
    auditor, as_auditor, _ = _auditor(tour, client)
    teacher = client.post(f"/api/v1/tenants/{school['id']}/people", headers={**head, "X-Request-Id": "req-42"},
                          json={"full_name": "Ә Ғ Қ", "roles": ["teacher"], "subjects": ["Химия"]}).get_json()

    assert client.get(f"/api/v1/audit/tenants/{school['id']}/events", headers=as_auditor).status_code == 404

    grant = client.post(f"/api/v1/tenants/{school['id']}/audit-grants", headers=head,
                        json={"person_id": auditor["id"], "until": GRANTED_UNTIL})
    assert grant.status_code == 201
    response = client.get(f"/api/v1/audit/tenants/{school['id']}/events",
                          headers={**as_auditor, "X-Min-Position": grant.get_json()["position"]})
    assert response.status_code == 200
    items = response.get_json()["items"]
    positions = [e["position"] for e in items]
    assert positions == sorted(positions)
    types = [e["type"] for e in items]
    assert types[:2] == ["Tenant.Registered", "BinRegistration.Claimed"]
    joined = next(e for e in items if e["aggregate_id"] == teacher["id"])
    assert joined["type"] == "Person.Joined"
    assert joined["actor"]["role"] == "head"
    assert joined["clause"] == "p.3"
    assert joined["request_id"] == "req-42"
    assert joined["data"]["full_name"] == "Ә Ғ Қ"
    assert "AuditGrant.Granted" in types


def test_auditors_cannot_act_and_their_reads_are_recorded(client, tour):
    school, head = _school(tour)
    auditor, as_auditor, authority = _auditor(tour, client)
    grant = client.post(f"/api/v1/tenants/{school['id']}/audit-grants", headers=head,
                        json={"person_id": auditor["id"], "until": GRANTED_UNTIL}).get_json()
    refused = client.post(f"/api/v1/tenants/{authority}/people", headers=as_auditor,
                          json={"full_name": "X", "roles": ["teacher"]})
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"

    first = client.get(f"/api/v1/audit/tenants/{school['id']}/events",
                       headers={**as_auditor, "X-Min-Position": grant["position"]})
    assert first.status_code == 200
    again = client.get(f"/api/v1/audit/tenants/{school['id']}/events?type=AuditRead.Looked",
                       headers={**tour.operator, "X-Min-Position": grant["position"]})
    # The auditor's read is itself in the history (the index may need a moment: poll briefly).
    for _ in range(50):
        reads = [e for e in again.get_json()["items"] if e["actor"]["person_id"] == auditor["id"]]
        if reads:
            break
        again = client.get(f"/api/v1/audit/tenants/{school['id']}/events?type=AuditRead.Looked",
                           headers=tour.operator)
    assert reads and reads[0]["data"]["what"] == "tenant events"


def test_a_revoked_grant_stops_at_once(client, tour):
    school, head = _school(tour)
    auditor, as_auditor, _ = _auditor(tour, client)
    grant = client.post(f"/api/v1/tenants/{school['id']}/audit-grants", headers=head,
                        json={"person_id": auditor["id"], "until": GRANTED_UNTIL}).get_json()
    revoked = client.delete(f"/api/v1/tenants/{school['id']}/audit-grants/{grant['id']}", headers=head)
    assert revoked.status_code == 200
    response = client.get(f"/api/v1/audit/tenants/{school['id']}/events",
                          headers={**as_auditor, "X-Min-Position": revoked.get_json()["position"]})
    assert response.status_code == 404


def test_a_grant_goes_only_to_an_auditor(client, tour):
    school, head = _school(tour)
    teacher, _ = tour.person(school["id"], head, ["teacher"])
    response = client.post(f"/api/v1/tenants/{school['id']}/audit-grants", headers=head,
                           json={"person_id": teacher["id"], "until": GRANTED_UNTIL})
    assert response.status_code == 422
    assert "person_id" in response.get_json()["errors"]


def test_history_pages_never_skip_or_repeat_while_events_arrive(client, tour):
    school, head = _school(tour)
    seen: list[int] = []
    cursor = None
    last = None
    for round_ in range(6):
        for i in range(3):
            last = client.post(f"/api/v1/tenants/{school['id']}/people", headers=head,
                               json={"full_name": f"P{round_}-{i}", "roles": ["teacher"]}).get_json()["position"]
        url = f"/api/v1/audit/tenants/{school['id']}/events?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers={**tour.operator, "X-Min-Position": last}).get_json()
        seen += [e["position"] for e in page["items"]]
        cursor = page["next_cursor"] or (_cursor_after(seen[-1]) if seen else None)
    while True:
        page = client.get(f"/api/v1/audit/tenants/{school['id']}/events?limit=4&cursor={cursor}",
                          headers=tour.operator).get_json()
        if not page["items"]:
            break
        seen += [e["position"] for e in page["items"]]
        cursor = page["next_cursor"] or _cursor_after(seen[-1])
    whole = client.get(f"/api/v1/audit/tenants/{school['id']}/events?limit=500", headers=tour.operator).get_json()
    everything = [e["position"] for e in whole["items"]]
    # Reading records a read, so the history grows as it is paged: what was paged is a gapless prefix.
    assert seen == everything[:len(seen)]
    assert len(seen) == len(set(seen))
    people = [e["position"] for e in whole["items"] if e["type"] == "Person.Joined"]
    assert len(people) == 19 and set(people) <= set(seen)


def test_a_past_state_pages_the_events_that_built_it_and_none_after(client, tour):
    school, head = _school(tour)
    teacher, _ = tour.person(school["id"], head, ["teacher"])
    last = None
    for n in range(7):
        last = client.patch(f"/api/v1/tenants/{school['id']}/people/{teacher['id']}", headers=head,
                            json={"full_name": f"Name {n + 3}"}).get_json()["position"]  # v1 joined, v2 token
    url = f"/api/v1/audit/aggregates/{teacher['id']}?version=6&limit=4"
    first = client.get(url, headers={**tour.operator, "X-Min-Position": last}).get_json()
    assert first["version"] == 6 and first["state"]["full_name"] == "Name 6"
    assert [e["version"] for e in first["events"]] == [1, 2, 3, 4]
    rest = client.get(f"{url}&cursor={first['next_cursor']}", headers=tour.operator).get_json()
    assert [e["version"] for e in rest["events"]] == [5, 6]
    assert rest["next_cursor"] is None
    assert client.get(f"{url}&cursor=nonsense", headers=tour.operator).status_code in (400, 422)


def _cursor_after(position: int) -> str:
    from projections.base import encode_cursor

    return encode_cursor(position)


def test_the_state_as_of_a_day_before_a_leader_changed_shows_the_old_leader(settings, platform, engine, projector):
    from services.api import create_app

    clock = {"now": datetime(2026, 9, 1, 9, tzinfo=timezone.utc)}
    app = create_app({"SETTINGS": settings, "PLATFORM": platform, "ENGINE": engine,
                      "CLOCK": lambda: clock["now"], "CREATE_SCHEMA": False})
    client = app.test_client()
    tour = Tour(client, settings.operator_token)
    school, head = _school(tour)
    teachers = [tour.person(school["id"], head, ["teacher"], ["Физика"], full_name=f"T{i}")[0] for i in range(3)]
    unit = client.post(f"/api/v1/tenants/{school['id']}/units", headers=head, json={
        "kind": "methodical_association", "name": "МО физиков", "subject": "Физика",
        "member_ids": [t["id"] for t in teachers]}).get_json()
    first = client.post(f"/api/v1/tenants/{school['id']}/units/{unit['id']}/leaders", headers=head,
                        json={"person_id": teachers[0]["id"], "starts_on": "2026-09-01"})
    assert first.status_code == 201
    clock["now"] = datetime(2026, 10, 15, 9, tzinfo=timezone.utc)
    second = client.post(f"/api/v1/tenants/{school['id']}/units/{unit['id']}/leaders", headers=head,
                         json={"person_id": teachers[1]["id"], "starts_on": "2026-10-15"}).get_json()

    state = client.get(f"/api/v1/audit/tenants/{school['id']}/state?as_of=2026-09-20",
                       headers={**tour.operator, "X-Min-Position": second["position"]}).get_json()
    unit_then = next(a for a in state["aggregates"] if a["aggregate_id"] == unit["id"])
    assert [leader["person_id"] for leader in unit_then["leaders"]] == [teachers[0]["id"]]

    one = client.get(f"/api/v1/audit/aggregates/{unit['id']}?as_of=2026-09-20T00:00:00Z", headers=tour.operator)
    assert one.status_code == 200
    assert [leader["person_id"] for leader in one.get_json()["state"]["leaders"]] == [teachers[0]["id"]]
    now = client.get(f"/api/v1/audit/aggregates/{unit['id']}", headers=tour.operator).get_json()
    assert [leader["person_id"] for leader in now["state"]["leaders"]] == [teachers[0]["id"], teachers[1]["id"]]
    assert [e["version"] for e in now["events"]] == list(range(1, now["version"] + 1))

    changes = client.get(f"/api/v1/audit/tenants/{school['id']}/changes?from=2026-10-01&to=2026-10-31",
                         headers=tour.operator).get_json()["items"]
    assert [(c["aggregate_id"], c["events"]) for c in changes] == [(unit["id"], ["Unit.LeaderChosen"])]


# A store of its own, for tests that import into it or tamper with it.

@pytest.fixture
def store(servers: dict[str, str]) -> Any:
    from projections.base import make_engine
    from projections.registry import create_schema
    from services.applications import Platform
    from services.config import Settings

    with fresh_database(servers["DATABASE_URL"], "audit") as url:
        settings = Settings(database_url=url, operator_token="op-" + secrets.token_hex(8), min_position_timeout=10.0)
        platform = Platform(env=settings.eventsourcing_env())
        engine = make_engine(settings.sqlalchemy_url(), 3)
        create_schema(engine)
        yield settings, platform, engine
        platform.close()
        engine.dispose()


def test_an_exported_tenant_imported_into_an_empty_store_gives_the_same_read_models(client, tour, engine, store):
    from projections.runner import READ_MODELS, rebuild_read_model
    from services.audit import import_export

    school, head = _school(tour)
    last = None
    for i in range(4):
        last = client.post(f"/api/v1/tenants/{school['id']}/people", headers=head,
                           json={"full_name": f"Мұғалім {i}", "roles": ["teacher"], "subjects": ["Тарих"]}).get_json()
    export = client.get(f"/api/v1/audit/tenants/{school['id']}/export",
                        headers={**tour.operator, "X-Min-Position": last["position"]})
    assert export.status_code == 200
    manifest = json.loads(export.headers["Export-Manifest"])
    body = export.get_data()
    import hashlib

    assert manifest["sha256"] == hashlib.sha256(body).hexdigest()
    # Registration and BIN claim, the head and their token, four teachers.
    assert manifest["count"] == len(body.splitlines()) == 8
    assert manifest["first_position"] < manifest["last_position"]
    # Each line holds the stored bytes (base64, what import writes back) and the same event readable as JSON.
    import base64

    for line in body.splitlines():
        record = json.loads(line)
        assert record["event"] == json.loads(base64.b64decode(record["state"]))
        assert record["event"]["meta"]["tenant_id"] == school["id"] and "clause" in record["event"]["meta"]
    assert [json.loads(line)["event"].get("full_name") for line in body.splitlines()][-1] == "Мұғалім 3"

    _, platform2, engine2 = store
    assert import_export(engine2, body, manifest) == manifest["count"]
    for name in READ_MODELS:
        rebuild_read_model(platform2, engine2, name)
    query = "SELECT * FROM {} WHERE tenant_id = :t ORDER BY id"
    for table in ("rm_tenants", "rm_people"):
        with engine.connect() as a, engine2.connect() as b:
            assert list(a.execute(text(query.format(table)), {"t": school["id"]})) == \
                list(b.execute(text(query.format(table)), {"t": school["id"]}))


def _write_events(settings: Any, platform: Any, engine: Any) -> tuple[Any, int]:
    """Some history in the store, chained (with checkpoints every 5 events), and the position of its end."""
    import threading

    from projections.base import wait_for_position
    from projections.chain import Chainer
    from projections.runner import Projector
    from services.api import create_app
    from services.applications import Platform

    app = create_app({"SETTINGS": settings, "PLATFORM": platform, "ENGINE": engine})
    tour = Tour(app.test_client(), settings.operator_token)
    school, head = _school(tour)
    last = 0
    for i in range(8):
        last = int(tour.person(school["id"], head, ["teacher"], full_name=f"N{i}")[0]["position"])
    chainer = Chainer(settings.signing_key(), interval=5)
    projector = Projector(Platform, settings.eventsourcing_env(), engine, read_models=[], chainer=chainer)
    stop = threading.Event()
    thread = threading.Thread(target=projector.run_until, args=(stop,), daemon=True)
    thread.start()
    with engine.connect() as conn:
        end = conn.execute(text("SELECT max(notification_id) FROM methodical_events")).scalar()
    wait_for_position(engine, chainer.read_model, end, 10)
    stop.set()
    thread.join(10)
    return app, last


def _verify(engine: Any) -> dict[str, Any]:
    from projections.chain import verify

    return verify(engine)


def test_verify_passes_on_an_untouched_log_and_names_a_changed_byte(store):
    settings, platform, engine = store
    _, last = _write_events(settings, platform, engine)
    report = _verify(engine)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM methodical_events")).scalar()
    assert report["ok"] and report["events_checked"] == stored > last > 7 and report["checkpoints_verified"] >= 1
    with engine.begin() as conn:
        conn.execute(text("UPDATE methodical_events SET state = set_byte(state, 4, get_byte(state, 4) # 1) "
                          "WHERE notification_id = 7"))
    report = _verify(engine)
    assert not report["ok"] and report["first_bad_position"] == 7


def test_verify_names_a_deleted_event(store):
    settings, platform, engine = store
    _write_events(settings, platform, engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM methodical_events WHERE notification_id = 4"))
    report = _verify(engine)
    assert not report["ok"] and report["first_bad_position"] == 4 and "deleted" in report["problem"]


def test_verify_names_the_first_of_two_swapped_events(store):
    settings, platform, engine = store
    _write_events(settings, platform, engine)
    with engine.begin() as conn:
        conn.execute(text(
            "UPDATE methodical_events e SET state = s.other FROM ("
            " SELECT a.notification_id, b.state AS other FROM methodical_events a JOIN methodical_events b"
            " ON (a.notification_id, b.notification_id) IN ((6, 9), (9, 6))) s"
            " WHERE e.notification_id = s.notification_id"))
    report = _verify(engine)
    assert not report["ok"] and report["first_bad_position"] == 6


def test_verify_catches_a_truncated_log_against_the_last_checkpoint(store):
    settings, platform, engine = store
    _, last = _write_events(settings, platform, engine)
    with engine.begin() as conn:
        mark = conn.execute(text("SELECT max(position) FROM audit_checkpoints")).scalar()
        assert mark is not None and mark > 3
        # Whoever truncates the log may truncate the chain's table too: the checkpoint still catches it.
        conn.execute(text("DELETE FROM methodical_events WHERE notification_id >= :p"), {"p": mark - 1})
        conn.execute(text("DELETE FROM audit_chain WHERE position >= :p"), {"p": mark - 1})
    report = _verify(engine)
    assert not report["ok"] and report["first_bad_position"] == mark and "truncated" in report["problem"]


def test_signed_checkpoints_verify_and_a_forged_one_does_not(store):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    import base64
    from cryptography.hazmat.primitives import serialization

    settings, platform, engine = store
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    settings = dataclasses.replace(settings, audit_signing_key=base64.b64encode(raw).decode())
    app, _ = _write_events(settings, platform, engine)
    client = app.test_client()
    with engine.begin() as conn:  # leave the chain's head without a checkpoint, for the operator to make one
        conn.execute(text("DELETE FROM audit_checkpoints WHERE position = (SELECT max(position) FROM audit_chain)"))
    made = client.post("/api/v1/audit/checkpoints", headers=bearer(settings.operator_token))
    assert made.status_code == 201 and made.get_json()["signature"]
    listed = client.get("/api/v1/audit/checkpoints", headers=bearer(settings.operator_token)).get_json()
    assert listed["items"][-1]["position"] == listed["chain"]["position"]
    assert client.get("/api/v1/audit/verify", headers=bearer(settings.operator_token)).get_json()["ok"]
    with engine.begin() as conn:
        # Flip the low bit of the signature's first byte: always a change, whatever the byte was.
        conn.execute(text("UPDATE audit_checkpoints SET signature = set_byte(signature, 0, get_byte(signature, 0) # 1)"
                          " WHERE position = (SELECT max(position) FROM audit_checkpoints)"))
    report = client.get("/api/v1/audit/verify", headers=bearer(settings.operator_token)).get_json()
    assert not report["ok"] and "signature" in report["problem"]


def test_an_auditor_reads_compliance_only_under_a_grant(client, tour):
    school, head = _school(tour)
    auditor, as_auditor, _ = _auditor(tour, client)
    assert client.get(f"/api/v1/tenants/{school['id']}/compliance", headers=as_auditor).status_code == 404
    grant = client.post(f"/api/v1/tenants/{school['id']}/audit-grants", headers=head,
                        json={"person_id": auditor["id"], "until": GRANTED_UNTIL}).get_json()
    response = client.get(f"/api/v1/tenants/{school['id']}/compliance",
                          headers={**as_auditor, "X-Min-Position": grant["position"]})
    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_a_unions_history_is_read_by_its_chair_and_by_an_auditor_the_coordinator_grants(client, tour):
    region = tour.tenant("regional_department")
    _, region_head = tour.head(region["id"])
    college = tour.tenant("tvet_college", parent_id=region["id"])
    chair, college_head = tour.head(college["id"])
    founded = client.post("/api/v1/unions", headers=college_head, json={
        "name": "УМО энергетики", "sector": "energy", "specialties": ["0901000"], "coordinator_id": region["id"]})
    assert founded.status_code == 201, founded.get_json()
    union = founded.get_json()
    approved = client.post(f"/api/v1/unions/{union['id']}/chair", headers=region_head, json={
        "person_id": chair["id"], "council_decision": {"number": "7", "date": "2026-09-01"}})
    assert approved.status_code in (200, 201), approved.get_json()
    auditor, as_auditor, _ = _auditor(tour, client)

    as_chair = client.get(f"/api/v1/audit/unions/{union['id']}/events",
                          headers={**college_head, "X-Min-Position": approved.get_json()["position"]})
    assert as_chair.status_code == 200
    types = [e["type"] for e in as_chair.get_json()["items"]]
    assert types[0].startswith("Union.") and all(e["union_id"] == union["id"] for e in as_chair.get_json()["items"])

    assert client.get(f"/api/v1/audit/unions/{union['id']}/events", headers=as_auditor).status_code == 404
    by_college = client.post(f"/api/v1/unions/{union['id']}/audit-grants", headers=college_head,
                             json={"person_id": auditor["id"], "until": GRANTED_UNTIL})
    assert by_college.status_code == 403 and by_college.get_json()["clause"] == "p.22"
    grant = client.post(f"/api/v1/unions/{union['id']}/audit-grants", headers=region_head,
                        json={"person_id": auditor["id"], "until": GRANTED_UNTIL})
    assert grant.status_code == 201
    read = client.get(f"/api/v1/audit/unions/{union['id']}/events",
                      headers={**as_auditor, "X-Min-Position": grant.get_json()["position"]})
    assert read.status_code == 200 and len(read.get_json()["items"]) >= 2


def test_the_tenant_as_of_a_day_includes_the_unions_it_belonged_to(client, tour):
    region = tour.tenant("regional_department")
    college = tour.tenant("tvet_college", parent_id=region["id"])
    _, college_head = tour.head(college["id"])
    union = client.post("/api/v1/unions", headers=college_head, json={
        "name": "УМО строителей", "sector": "construction", "specialties": ["0701000"],
        "coordinator_id": region["id"]}).get_json()
    today = platform_today().isoformat()
    state = client.get(f"/api/v1/audit/tenants/{college['id']}/state?as_of={today}",
                       headers={**tour.operator, "X-Min-Position": union["position"]}).get_json()
    unions = [a for a in state["aggregates"] if a["type"] == "Union"]
    assert [u["aggregate_id"] for u in unions] == [union["id"]]
    assert unions[0]["name"] == "УМО строителей"


def test_a_union_decisions_state_is_read_under_the_unions_grant(client, tour):
    region = tour.tenant("regional_department")
    _, region_head = tour.head(region["id"])
    college = tour.tenant("tvet_college", parent_id=region["id"])
    chair, college_head = tour.head(college["id"])
    union = client.post("/api/v1/unions", headers=college_head, json={
        "name": "УМО транспорта", "sector": "transport", "specialties": ["1201000"],
        "coordinator_id": region["id"]}).get_json()
    client.post(f"/api/v1/unions/{union['id']}/chair", headers=region_head, json={
        "person_id": chair["id"], "council_decision": {"number": "3", "date": "2026-09-01"}})
    decision = client.post(f"/api/v1/unions/{union['id']}/decisions", headers=college_head, json={
        "title": "Цифрлық оқулықтар", "text": "Ұсыныс.", "direction": "p.33.3", "specialties": ["1201000"]})
    assert decision.status_code == 201, decision.get_json()
    auditor, as_auditor, _ = _auditor(tour, client)
    url = f"/api/v1/audit/aggregates/{decision.get_json()['id']}"
    assert client.get(url, headers={**as_auditor, "X-Min-Position": decision.get_json()["position"]}).status_code == 404
    grant = client.post(f"/api/v1/unions/{union['id']}/audit-grants", headers=region_head,
                        json={"person_id": auditor["id"], "until": GRANTED_UNTIL}).get_json()
    state = client.get(url, headers={**as_auditor, "X-Min-Position": grant["position"]})
    assert state.status_code == 200
    assert state.get_json()["state"]["title"] == "Цифрлық оқулықтар"
