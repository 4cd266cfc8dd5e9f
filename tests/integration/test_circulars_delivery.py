"""A decision reaches exactly the member organizations of its specialties, through the outbox, rq and SMTP."""

from __future__ import annotations

import io
from typing import Any
from uuid import uuid4

import pytest
from pypdf import PdfReader

from unions_support import ELECTRICS as ELECTRICS_CODE
from unions_support import UNIONS, UnionScenario, delivery, ok, smtp  # noqa: F401 - fixtures
from unions_support import WELDING as WELDING_CODE

TENANTS = "/api/v1/tenants"


@pytest.fixture
def scenario(client: Any, tour: Any) -> UnionScenario:
    return UnionScenario(client, tour)


def inbox(client: Any, tenant: dict[str, Any], headers: dict[str, str], position: str | None = None) -> list[Any]:
    h = {**headers, **({"X-Min-Position": position} if position else {})}
    return ok(client.get(f"{TENANTS}/{tenant['id']}/circulars", headers=h))["items"]


def test_a_decision_for_a_specialty_reaches_each_member_of_that_specialty_once(client, scenario, delivery, smtp,
                                                                               platform):
    adopted = scenario.adopt()
    assert adopted["circulars_expected"] == 2
    assert sorted(c["tenant_id"] for c in adopted["circulars"]) == sorted([scenario.a["id"], scenario.b["id"]])

    assert delivery.run(adopted["position"]) == 2
    decision = scenario.decision(adopted["id"], position=str(platform.recorder.max_notification_id()))
    assert [c["status"] for c in decision["circulars"]] == ["delivered", "delivered"]

    a_items = inbox(client, scenario.a, scenario.a_head)
    b_items = inbox(client, scenario.b, scenario.b_head)
    assert [c["decision_id"] for c in a_items] == [adopted["id"]]
    assert [c["decision_id"] for c in b_items] == [adopted["id"]]
    assert inbox(client, scenario.c, scenario.c_head) == []

    document = client.get(f"{TENANTS}/{scenario.a['id']}/circulars/{a_items[0]['id']}/document",
                          headers=scenario.a_head)
    assert document.status_code == 200
    assert document.mimetype == "application/pdf"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(document.data)).pages)
    assert adopted["title"] in text  # a long title wraps: lines are joined by single spaces


def delivered_events(platform: Any, circular_id: str) -> list[str]:
    """Return the names of the events recorded for one circular."""
    from uuid import UUID

    return [type(e).__name__ for e in platform.events.get(UUID(circular_id))]


def test_each_member_with_an_email_gets_one_notice_with_the_circular_attached(client, scenario, delivery, smtp):
    mailbox, _ = smtp
    adopted = scenario.adopt()
    delivery.run(adopted["position"])

    [to_a] = mailbox.to(scenario.a["email"])
    [to_b] = mailbox.to(scenario.b["email"])
    assert to_a["Subject"].startswith("№ 1/1 циркуляр") and to_b["Subject"].startswith("Циркуляр № 1/2")
    assert to_a["From"] == "umo@methodical.example.kz"
    [attachment] = list(to_a.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert adopted["title"] in text
    [circular] = inbox(client, scenario.a, scenario.a_head)
    assert circular["notice_sent_to"] == scenario.a["email"]
    assert [c["notice_sent_to"] for c in inbox(client, scenario.c, scenario.c_head)] == []


def test_the_circular_is_in_the_members_language_with_union_decision_number_date_and_recipient(
        client, scenario, delivery):
    adopted = scenario.adopt(specialties=[ELECTRICS_CODE])  # A (kk) and C (kk)
    delivery.run(adopted["position"])
    [circular] = inbox(client, scenario.c, scenario.c_head)
    pdf = client.get(f"{TENANTS}/{scenario.c['id']}/circulars/{circular['id']}/document", headers=scenario.c_head)
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf.data)).pages)
    dated = circular["issued_on"]
    assert f"{dated[8:10]}.{dated[5:7]}.{dated[:4]} ж. № {circular['number']} циркуляр" in text
    assert scenario.union["name"] in text and "Кімге: Алатау колледжі" in text and "Шешім № 1" in text
    assert "ә" in text and "Қ" in text


def test_a_member_sees_only_its_own_circulars_and_another_tenants_circular_is_404(client, scenario, delivery):
    adopted = scenario.adopt()
    delivery.run(adopted["position"])
    [a_circular] = inbox(client, scenario.a, scenario.a_head)
    url = f"{TENANTS}/{scenario.a['id']}/circulars/{a_circular['id']}"
    assert client.get(url, headers=scenario.b_head).status_code == 404
    assert client.get(f"{url}/document", headers=scenario.b_head).status_code == 404
    # Another tenant's circular under one's own tenant is as missing as a made-up one.
    own = f"{TENANTS}/{scenario.b['id']}/circulars/{a_circular['id']}"
    assert client.get(own, headers=scenario.b_head).status_code == 404
    assert client.post(f"{own}/acknowledgement", json={}, headers=scenario.b_head).status_code == 404
    # A member's view of the decision shows its own circular only; the chair's shows every member's.
    mine = scenario.decision(adopted["id"], scenario.b_head)
    assert [c["tenant_id"] for c in mine["circulars"]] == [scenario.b["id"]]
    assert len(scenario.decision(adopted["id"])["circulars"]) == 2


def test_the_chair_sees_each_members_response_and_who_has_not_acknowledged(client, scenario, delivery):
    adopted = scenario.adopt()
    delivery.run(adopted["position"])
    [b_circular] = inbox(client, scenario.b, scenario.b_head)
    url = f"{TENANTS}/{scenario.b['id']}/circulars/{b_circular['id']}/acknowledgement"
    first = ok(client.post(url, json={"response": "will_adopt", "note": "Внедрим с 2027 года"},
                           headers=scenario.b_head))
    again = ok(client.post(url, json={"response": "declined"}, headers=scenario.b_head))
    assert (first["status"], first["response"], again["response"]) == ("acknowledged", "will_adopt", "will_adopt")

    decision = scenario.decision(adopted["id"], position=again["position"])
    by_tenant = {c["tenant_id"]: c for c in decision["circulars"]}
    assert by_tenant[scenario.b["id"]]["response"] == "will_adopt"
    assert by_tenant[scenario.b["id"]]["note"] == "Внедрим с 2027 года"
    counts = decision["acknowledgements"]
    assert (counts["expected"], counts["acknowledged"], counts["delivered"]) == (2, 1, 1)
    assert [m["tenant_id"] for m in counts["not_acknowledged"]] == [scenario.a["id"]]


def test_only_the_head_or_deputy_head_acknowledges_and_not_before_delivery(client, scenario, tour, delivery):
    adopted = scenario.adopt()
    _, teacher = tour.person(scenario.b["id"], scenario.b_head, ["teacher"], ["Дәнекерлеу"])
    b_circular = next(c for c in adopted["circulars"] if c["tenant_id"] == scenario.b["id"])
    url = f"{TENANTS}/{scenario.b['id']}/circulars/{b_circular['id']}/acknowledgement"
    assert client.post(url, json={}, headers=scenario.b_head).status_code == 409  # not delivered yet
    delivery.run(adopted["position"])
    assert client.post(url, json={}, headers=teacher).status_code == 403
    assert client.post(url, json={"response": "maybe"}, headers=scenario.b_head).status_code == 422
    assert ok(client.post(url, json={}, headers=scenario.b_head))["response"] == "noted"


def test_enqueued_many_times_or_retried_a_circular_is_delivered_and_mailed_once(
        client, scenario, delivery, smtp, platform):
    from services import jobs

    mailbox, _ = smtp
    adopted = scenario.adopt()
    delivery.caught_up(adopted["position"])
    for _ in range(3):
        delivery.dispatch()
    for circular in adopted["circulars"]:
        jobs.enqueue_delivery(delivery.queue, circular["id"], delivery.settings)
        delivery.queue.enqueue(jobs.deliver_circular, circular["id"])  # a stray job under another id
    delivery.work()
    delivery.run(adopted["position"])

    for circular in adopted["circulars"]:
        assert delivered_events(platform, circular["id"]) == ["Issued", "Delivered"]
    assert len(mailbox.to(scenario.a["email"])) == 1 and len(mailbox.to(scenario.b["email"])) == 1


def test_jobs_lost_by_redis_are_enqueued_again_and_delivered_once(client, scenario, delivery, smtp, platform):
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from services import jobs

    adopted = scenario.adopt()
    assert delivery.dispatch(adopted["position"]) == 2
    # Redis restarted empty: the queue and the jobs are gone; the circulars are still recorded.
    delivery.queue.empty()
    for circular in adopted["circulars"]:
        if Job.exists(jobs.job_id(circular["id"]), connection=delivery.redis):
            Job.fetch(jobs.job_id(circular["id"]), connection=delivery.redis, serializer=JSONSerializer).delete()
    assert delivery.dispatch() == 2
    assert delivery.dispatch() == 0  # queued jobs are not doubled
    delivery.work()
    for circular in adopted["circulars"]:
        assert delivered_events(platform, circular["id"]) == ["Issued", "Delivered"]


def test_adopting_succeeds_while_redis_is_down_and_the_dispatcher_enqueues_when_it_is_back(
        client, scenario, delivery, settings, platform, engine):
    import dataclasses

    from redis import Redis
    from redis.exceptions import RedisError

    from services.api import create_app
    from services.dispatcher import dispatch
    from support import free_port

    down = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    offline = create_app({"TESTING": True, "SETTINGS": down, "PLATFORM": platform, "ENGINE": engine,
                          "CREATE_SCHEMA": False}).test_client()
    response = offline.post(f"{UNIONS}/{scenario.id}/decisions", headers=scenario.chair, json={
        "title": "Redis жоқ кездегі шешім", "text": "Мәтін", "direction": "p.33.2", "specialties": [WELDING_CODE]})
    assert response.status_code == 201
    adopted = response.get_json()
    delivery.caught_up(adopted["position"])
    unreachable = Redis.from_url(down.redis_url, socket_connect_timeout=0.5)
    with pytest.raises(RedisError):
        dispatch(engine, unreachable, dataclasses.replace(delivery.settings, redis_url=down.redis_url))
    delivery.run(adopted["position"])
    decision = scenario.decision(adopted["id"], position=str(platform.recorder.max_notification_id()))
    assert [c["status"] for c in decision["circulars"]] == ["delivered", "delivered"]


def test_a_circular_that_keeps_failing_ends_failed_with_its_error_and_the_chair_retries_it(
        client, scenario, delivery, platform):
    import dataclasses

    from services import jobs
    from support import free_port

    adopted = scenario.adopt()
    broken = dataclasses.replace(delivery.settings, smtp_port=free_port(), smtp_timeout=1)
    jobs.configure(jobs.JobRuntime(broken, platform, delivery.engine))
    try:
        delivery.run(adopted["position"])
    finally:
        jobs.configure(jobs.JobRuntime(delivery.settings, platform, delivery.engine))
    decision = scenario.decision(adopted["id"], position=str(platform.recorder.max_notification_id()))
    emailed = [c for c in decision["circulars"] if c["tenant_id"] in (scenario.a["id"], scenario.b["id"])]
    assert {c["status"] for c in emailed} == {"failed"}
    assert all("ConnectionRefusedError" in c["error"] for c in emailed)
    assert delivery.dispatch() == 0  # a failed circular waits for a person to retry it

    circular = emailed[0]
    retry_url = f"{UNIONS}/{scenario.id}/decisions/{adopted['id']}/circulars/{circular['id']}/retry"
    assert client.post(retry_url, headers=scenario.b_head).status_code == 403
    retried = ok(client.post(retry_url, headers=scenario.chair))
    assert retried["status"] == "issued"
    assert client.post(retry_url, headers=scenario.chair).status_code == 409
    delivery.run(retried["position"])
    decision = scenario.decision(adopted["id"], position=str(platform.recorder.max_notification_id()))
    statuses = {c["id"]: c["status"] for c in decision["circulars"]}
    assert statuses[circular["id"]] == "delivered"
    assert delivered_events(platform, circular["id"]) == ["Issued", "DeliveryFailed", "DeliveryRetried", "Delivered"]


def test_the_first_stored_document_of_a_circular_wins_also_when_another_run_stores_it_meanwhile(engine):
    """A job run again renders again: what it is told is the first rendering's hash and bytes, including when the
    other run's row commits while this run's statement waits on it (ADR 006)."""
    import hashlib
    import threading
    import time
    import uuid

    from services import files

    def store(conn: Any, circular_id: uuid.UUID, content: bytes) -> tuple[str, bytes]:
        return files.store_circular_document(conn, circular_id=circular_id, tenant_id=uuid.uuid4(),
                                           union_id=uuid.uuid4(), filename="c.pdf", content=content)

    first, second = b"%PDF first", b"%PDF second"
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    alone = uuid.uuid4()
    with autocommit.connect() as conn:
        assert store(conn, alone, first) == (hashlib.sha256(first).hexdigest(), first)
        assert store(conn, alone, second) == (hashlib.sha256(first).hexdigest(), first)

    raced, got = uuid.uuid4(), []
    with engine.connect() as other, autocommit.connect() as conn, autocommit.connect() as watch:
        store(other, raced, first)  # in a transaction not yet committed
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        waiting = threading.Thread(target=lambda: got.append(store(conn, raced, second)))
        waiting.start()
        deadline = time.monotonic() + 10
        while not watch.exec_driver_sql(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,)).scalar():
            assert time.monotonic() < deadline, "the second run's statement never waited for the first's row"
            time.sleep(0.01)
        other.commit()
        waiting.join(10)
    assert got == [(hashlib.sha256(first).hexdigest(), first)]


def test_the_dispatcher_enqueues_circulars_as_they_start_waiting_not_at_its_next_sweep(scenario, delivery, engine,
                                                                                       platform):
    """The read model announces waiting circulars: with sweeps a minute apart, a decision's circulars are enqueued
    within seconds of its adoption, and the dispatcher still stops promptly."""
    import dataclasses
    import time

    from projections.circulars import WAITING_CHANNEL
    from services.dispatcher import run_in_thread

    thread, stop = run_in_thread(engine, dataclasses.replace(delivery.settings, dispatch_interval=60))
    try:
        deadline = time.monotonic() + 10
        with engine.connect() as conn:  # its first sweep is done once it listens
            while not conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = %s", (f"LISTEN {WAITING_CHANNEL}",)).scalar():
                assert time.monotonic() < deadline, "the dispatcher never listened"
                time.sleep(0.02)
                conn.rollback()
        adopted = scenario.adopt()
        expected = {f"circular-{c['id']}" for c in adopted["circulars"]}
        while not expected <= set(delivery.queue.get_job_ids()):
            assert time.monotonic() < deadline + 5, "the circulars were not enqueued before the next sweep"
            time.sleep(0.02)
    finally:
        stopped = time.monotonic()
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and time.monotonic() - stopped < 2
    delivery.work()
    decision = scenario.decision(adopted["id"], position=str(platform.recorder.max_notification_id()))
    assert [c["status"] for c in decision["circulars"]] == ["delivered", "delivered"]


def test_the_notice_goes_to_the_email_recorded_with_the_circular_and_an_older_circular_asks_the_registration(
        scenario, delivery, smtp, platform, monkeypatch):
    """Circulars record the member's email as they are issued: delivering one loads nothing else. One issued before
    that (no email recorded) still gets its notice, to the email of the member's registration."""
    import uuid
    from datetime import datetime, timezone

    from domain.base import Actor, Context
    from domain.unions import Circular, Recipient

    mailbox, _ = smtp
    adopted = scenario.adopt()
    assert {platform.get_circular(uuid.UUID(c["id"])).recipient_email for c in adopted["circulars"]} == {
        scenario.a["email"], scenario.b["email"]}
    with monkeypatch.context() as patched:
        patched.setattr(platform, "get_tenant", lambda *a: pytest.fail("the tenant was loaded"))
        delivery.run(adopted["position"])
    assert len(mailbox.to(scenario.a["email"])) == 1 and len(mailbox.to(scenario.b["email"])) == 1

    decision = platform.get_decision(uuid.UUID(scenario.id), uuid.UUID(adopted["id"]))
    ctx = Context(Actor.operator(), "older-circular", datetime.now(timezone.utc), ids=uuid4)
    older = Circular.issue(ctx, decision, Recipient(uuid.uuid4(), uuid.UUID(scenario.a["id"]), "A", "kk"), 9)
    assert older.recipient_email is None
    position = platform.commit(older)
    delivery.run(position)
    [notice] = [m for m in mailbox.to(scenario.a["email"]) if str(older.id) in m["Message-ID"]]
    assert platform.get_circular(older.id).status == "delivered"
