"""Reminders through the API and the daily pass, on a clock the test controls (the tenant's "today" injected), with
emails counted at a real SMTP server on loopback (ADR 023)."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from domain.base import Actor, Context
from projections import notifications as notifications_rm
from projections.base import wait_for_position
from services import reminders
from support import bearer
from unions_support import UnionScenario, delivery, ok, smtp  # noqa: F401 - fixtures

ALMATY = ZoneInfo("Asia/Almaty")
MATHS = "Математика"


def at(day: date, hour: int = 7, minute: int = 30) -> datetime:
    """Return the moment of the tenant's day (Almaty) at the hour, in UTC."""
    return datetime.combine(day, time(hour, minute), ALMATY).astimezone(timezone.utc)


@pytest.fixture(scope="module")
def mail_settings(settings: Any, smtp: Any) -> Any:
    _, port = smtp
    return dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_from="reminders@methodical.kz",
                               smtp_timeout=5, delivery_retries=1, delivery_retry_intervals=(0,),
                               public_url="https://methodical.example.kz",
                               reminders_queue=f"reminders-{secrets.token_hex(4)}", mail_queue=f"mail-{secrets.token_hex(4)}")


@pytest.fixture(scope="module")
def worker(mail_settings: Any, platform: Any, engine: Any, projector: Any) -> Any:
    """Run the reminders' jobs in this process on the real Redis, each queue private to the module."""
    from redis import Redis
    from rq.serializers import JSONSerializer

    from services import jobs

    jobs.configure(jobs.JobRuntime(mail_settings, platform, engine))
    redis = Redis.from_url(mail_settings.redis_url)

    class Run:
        def tick(self, now: datetime) -> dict[str, int]:
            return reminders.enqueue_due(redis, engine, mail_settings, now)

        def work(self) -> None:
            # Another fixture (the circulars' delivery) may have set the jobs' runtime since: these settings.
            if jobs.job_runtime().settings is not mail_settings:
                jobs.configure(jobs.JobRuntime(mail_settings, platform, engine))
            jobs.DeliveryWorker(reminders.queues(redis, mail_settings), connection=redis, serializer=JSONSerializer).work(burst=True)

        def day(self, now: datetime) -> None:
            self.tick(now)
            self.work()  # the passes, and the emails they enqueued
            self.tick(now)  # every pass done: the digests
            self.work()

    yield Run()
    for queue in reminders.queues(redis, mail_settings):
        queue.empty()
    jobs.configure(None)


def login(platform: Any, tenant_id: str, person_id: str, email: str, language: str | None = None) -> None:
    from uuid import uuid4

    ctx = Context(actor=Actor(role="operator"), request_id="test", now=datetime.now(timezone.utc), ids=uuid4)
    platform.change_login(ctx, UUID(tenant_id), UUID(person_id), email)
    if language:
        platform.choose_language(UUID(person_id), language, now=datetime.now(timezone.utc), request_id="test")


def caught_up(engine: Any, platform: Any) -> None:
    wait_for_position(engine, notifications_rm.read_model, platform.recorder.max_notification_id() or 0, 10)


def school_with_leader(client: Any, tour: Any, platform: Any, starts_on: date, head_language: str = "kk"
                       ) -> dict[str, Any]:
    tenant = tour.tenant("school", language="ru")
    head_person, head = tour.head(tenant["id"], "Айгүл Сейітова")
    teachers = [tour.person(tenant["id"], head, ["teacher"], [MATHS], f"Мұғалім {i}") for i in range(3)]
    unit = ok(client.post(f"/api/v1/tenants/{tenant['id']}/units", headers=head, json={
        "kind": "methodical_association", "name": "МО учителей математики", "subject": MATHS,
        "member_ids": [p["id"] for p, _ in teachers]}), 201)
    leader = teachers[0][0]
    ok(client.post(f"/api/v1/tenants/{tenant['id']}/units/{unit['id']}/leaders", headers=head,
                   json={"person_id": leader["id"], "starts_on": starts_on.isoformat()}), 201)
    tag = secrets.token_hex(4)
    login(platform, tenant["id"], head_person["id"], f"head-{tag}@school.kz", head_language)
    return {"tenant": tenant, "head": head, "head_person": head_person, "head_email": f"head-{tag}@school.kz",
            "unit": unit, "leader": leader, "leader_headers": teachers[0][1]}


def reminders_of(client: Any, headers: dict[str, str], rule: str | None = None) -> list[dict[str, Any]]:
    items = ok(client.get("/api/v1/me/notifications", headers=headers, query_string={"limit": 500}))["items"]
    return [i for i in items if i["kind"] == "reminder" and (rule is None or i["rule"] == rule)]


# Checked by (issue 18)


def test_a_leader_elected_11_months_and_2_weeks_ago_reminds_the_head_and_the_leader_once_in_the_heads_language(
        client, tour, platform, engine, worker, smtp):
    mailbox, _ = smtp
    today = datetime.now(ALMATY).date()
    starts_on = today - timedelta(days=351)  # 11 months and 2 weeks ago: the term ends in two weeks (p.30)
    school = school_with_leader(client, tour, platform, starts_on, head_language="kk")
    ok(client.put("/api/v1/me/mail", headers=school["head"], json={"mail": "at_once"}))
    caught_up(engine, platform)
    worker.day(at(today))
    first = len(mailbox.to(school["head_email"]))
    for _ in range(2):
        worker.day(at(today))
    caught_up(engine, platform)
    for headers in (school["head"], school["leader_headers"]):
        found = reminders_of(client, headers, "leader_term_ending")
        assert len(found) == 1 and found[0]["clause"] == "p.30"
        assert found[0]["subject_id"] == school["unit"]["id"]
    # Each of the head's reminders by one email (the plan not approved by 15 September is one too, p.29).
    assert len(mailbox.to(school["head_email"])) == first == len(reminders_of(client, school["head"]))
    messages = [m for m in mailbox.to(school["head_email"]) if "мерзімі" in m.get_body(("plain",)).get_content()]
    assert len(messages) == 1
    text = messages[0].get_body(("plain",)).get_content()
    assert "мерзімі" in text and "30-тармақ" in text  # Kazakh, with its clause as Kazakh writes it
    assert messages[0].get_body(("html",)) is not None
    assert f"https://methodical.example.kz/kk/units/{school['unit']['id']}" in text


def test_a_circular_unacknowledged_for_6_days_reminds_its_head_once_and_is_one_line_of_the_chairs_digest(
        client, tour, platform, engine, worker, smtp, delivery):
    mailbox, _ = smtp
    scenario = UnionScenario(client, tour)
    adopted = scenario.adopt()
    delivery.run(adopted["position"])
    # The chair's own organization acknowledges its circular: only the other member's stays unacknowledged.
    own = ok(client.get(f"/api/v1/tenants/{scenario.a['id']}/circulars", headers=scenario.a_head))["items"][0]
    ok(client.post(f"/api/v1/tenants/{scenario.a['id']}/circulars/{own['id']}/acknowledgement",
                   headers=scenario.a_head, json={}))
    tag = secrets.token_hex(4)
    chair_email, b_email = f"chair-{tag}@college.kz", f"b-head-{tag}@college.kz"
    login(platform, scenario.a["id"], scenario.a_head_person["id"], chair_email, "kk")
    b_head = ok(client.get(f"/api/v1/tenants/{scenario.b['id']}/people", headers=scenario.b_head))["items"][0]
    login(platform, scenario.b["id"], b_head["id"], b_email, "ru")
    ok(client.put("/api/v1/me/mail", headers=scenario.b_head, json={"mail": "at_once"}))
    caught_up(engine, platform)
    delivered = datetime.now(ALMATY).date()
    # The day before the sixth: five days have passed, the reminder is due (N = 5); run the sixth day's pass.
    moment = at(delivered + timedelta(days=6))
    for _ in range(3):
        worker.day(moment)
    caught_up(engine, platform)
    found = reminders_of(client, scenario.b_head, "circular_unacknowledged")
    assert len(found) == 1 and found[0]["clause"] == "p.34"
    assert len(mailbox.to(b_email)) == 1
    # The chair's tenant's digest: one line of that circular, however often the pass ran.
    digests = mailbox.to(chair_email)
    assert len(digests) == 1
    text = digests[0].get_body(("plain",)).get_content()
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == 1 and "1/" in lines[0] or "2/" in lines[0], lines
    summary = reminders_of(client, scenario.chair, "circular_unacknowledged")
    assert len(summary) == 1 and summary[0]["summary"] is True


# Each rule on its day, not the day before, in the tenant's time zone


def test_the_term_reminder_fires_on_the_thirtieth_day_before_the_end_and_not_the_day_before(
        client, tour, platform, engine, worker):
    today = datetime.now(ALMATY).date()
    starts_on = today - timedelta(days=200)
    school = school_with_leader(client, tour, platform, starts_on)
    caught_up(engine, platform)
    ends_on = date(starts_on.year + 1, starts_on.month, starts_on.day) if not (
        starts_on.month == 2 and starts_on.day == 29) else date(starts_on.year + 1, 3, 1)
    first = ends_on - timedelta(days=30)
    tid = UUID(school["tenant"]["id"])
    # 23:59 the evening before, Almaty: the tenant's day is still the day before (UTC is 18:59).
    reminders.run_pass(platform, engine, tid, at(first - timedelta(days=1), 23, 59))
    caught_up(engine, platform)
    assert reminders_of(client, school["head"], "leader_term_ending") == []
    # 00:01 the next day in Almaty is still the previous day in UTC (19:01): the tenant's day counts.
    reminders.run_pass(platform, engine, tid, at(first, 0, 1))
    caught_up(engine, platform)
    assert len(reminders_of(client, school["head"], "leader_term_ending")) == 1
    reminders.run_pass(platform, engine, tid, at(ends_on, 8))
    caught_up(engine, platform)
    assert len(reminders_of(client, school["head"], "leader_term_ending")) == 1  # once per term
    assert len(reminders_of(client, school["head"], "leader_term_ends")) == 1


def test_the_pass_is_due_at_seven_in_the_tenants_own_time_zone(client, tour, platform, engine):
    tenant = tour.tenant("school")
    _, head = tour.head(tenant["id"])
    body = ok(client.put(f"/api/v1/tenants/{tenant['id']}/reminders", headers=head, json={
        "time_zone": "Asia/Aqtobe", "plan_due": "09-20", "document_days": 3, "circular_days": 2}))
    caught_up(engine, platform)
    assert body["time_zone"] == "Asia/Aqtobe"
    day = date(2026, 12, 4)
    tid = UUID(tenant["id"])
    aqtobe = ZoneInfo("Asia/Aqtobe")
    before = datetime.combine(day, time(6, 59), aqtobe).astimezone(timezone.utc)
    after = datetime.combine(day, time(7, 0), aqtobe).astimezone(timezone.utc)
    assert (tid, day) not in reminders.passes_due(engine, before)
    assert (tid, day) in reminders.passes_due(engine, after)
    refused = client.put(f"/api/v1/tenants/{tenant['id']}/reminders", headers=head, json={
        "time_zone": "Mars/Olympus", "plan_due": "09-20", "document_days": 3, "circular_days": 2})
    assert refused.status_code == 422 and "time_zone" in refused.get_json()["errors"]


def test_marking_read_puts_a_notification_after_the_unread_and_all_read_clears_the_count(
        client, tour, platform, engine, worker):
    today = datetime.now(ALMATY).date()
    school = school_with_leader(client, tour, platform, today - timedelta(days=351))
    caught_up(engine, platform)
    reminders.run_pass(platform, engine, UUID(school["tenant"]["id"]), at(today))
    caught_up(engine, platform)
    page = ok(client.get("/api/v1/me/notifications", headers=school["head"]))
    assert page["unread"] >= 1
    key = reminders_of(client, school["head"])[0]["key"]
    marked = ok(client.post(f"/api/v1/me/notifications/{key}/read", headers=school["head"]))
    assert marked["marked"] == 1
    again = ok(client.get("/api/v1/me/notifications", headers=dict(school["head"], **{
        "X-Min-Position": marked["position"]})))
    assert again["items"][-1]["key"] == key and again["items"][-1]["read"] is True
    assert client.post("/api/v1/me/notifications/reminder:nothing/read", headers=school["head"]).status_code == 404
    cleared = ok(client.post("/api/v1/me/notifications/read", headers=school["head"]))
    after = ok(client.get("/api/v1/me/notifications", headers=dict(school["head"], **{
        "X-Min-Position": cleared["position"]})))
    assert after["unread"] == 0


# The pages: the notifications with their count in every page's header; the email choice on the profile


@pytest.fixture
def web(settings: Any, platform: Any, web_engine: Any, projector: Any) -> Any:
    from test_signin import web_app

    return web_app(settings, platform, web_engine)


def test_the_notifications_page_lists_the_reminder_and_every_page_counts_the_unread(
        web, tour, platform, engine, client):
    from test_signin import post_form, signed_in_person

    today = datetime.now(ALMATY).date()
    browser, head, _, tenant = signed_in_person(web, tour, None, lang="kk")
    reminders.run_pass(platform, engine, UUID(tenant["id"]), at(today))  # nothing due yet: no unit
    teachers = [tour.person(tenant["id"], tour.token(tenant["id"], head["id"], tour.operator), ["teacher"], [MATHS])
                for _ in range(3)]
    head_headers = tour.token(tenant["id"], head["id"], tour.operator)
    unit = ok(client.post(f"/api/v1/tenants/{tenant['id']}/units", headers=head_headers, json={
        "kind": "methodical_association", "name": "Математика ӘБ", "subject": MATHS,
        "member_ids": [p["id"] for p, _ in teachers]}), 201)
    ok(client.post(f"/api/v1/tenants/{tenant['id']}/units/{unit['id']}/leaders", headers=head_headers,
                   json={"person_id": teachers[0][0]["id"],
                         "starts_on": (today - timedelta(days=351)).isoformat()}), 201)
    caught_up(engine, platform)
    reminders.run_pass(platform, engine, UUID(tenant["id"]), at(today))
    caught_up(engine, platform)
    page = browser.get("/kk/notifications").get_data(as_text=True)
    assert "Хабарламалар" in page and "мерзімі" in page and "30-тармақ" in page
    home = browser.get("/kk/").get_data(as_text=True)
    assert "оқылмағаны" in home  # the count, in the header of another page
    marked = post_form(browser, "/kk/notifications")
    assert marked.status_code == 302
    caught_up(engine, platform)
    assert "оқылмағаны" not in browser.get("/kk/").get_data(as_text=True)


def test_the_email_choice_is_set_on_the_profile_and_read_through_the_api(web, tour, platform, engine, client):
    from test_signin import post_form, signed_in_person

    browser, person, _, tenant = signed_in_person(web, tour, ["teacher"], lang="ru")
    saved = post_form(browser, "/ru/profile", section="mail", mail="weekly")
    assert saved.status_code == 302
    import re

    assert re.search(r'<input checked[^>]*value="weekly"', browser.get("/ru/profile").get_data(as_text=True))
    from uuid import uuid4

    ctx = Context(actor=Actor(role="operator"), request_id="test", now=datetime.now(timezone.utc), ids=uuid4)
    own = bearer(platform.issue_token(ctx, UUID(tenant["id"]), UUID(person["id"])).token)
    assert ok(client.get("/api/v1/me/mail", headers=own))["mail"] == "weekly"
    refused = post_form(browser, "/ru/profile", section="mail", mail="hourly")
    assert refused.status_code == 422


class Refusing:
    """An SMTP handler that refuses every message, as a relay that is failing does."""

    def __init__(self) -> None:
        self.tries = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.tries += 1
        return "451 Try again later"


def test_an_email_the_relay_refuses_is_retried_then_listed_for_the_operator_never_lost(
        client, tour, platform, engine, worker, settings, mail_settings):
    from aiosmtpd.controller import Controller
    from redis import Redis
    from rq.serializers import JSONSerializer

    from services import jobs
    from support import free_port

    today = datetime.now(ALMATY).date()
    school = school_with_leader(client, tour, platform, today - timedelta(days=351))
    ok(client.put("/api/v1/me/mail", headers=school["head"], json={"mail": "at_once"}))
    caught_up(engine, platform)
    refusing, port = Refusing(), free_port()
    controller = Controller(refusing, hostname="127.0.0.1", port=port)
    controller.start()
    failing = dataclasses.replace(mail_settings, smtp_port=port,
                                  smtp_timeout=5, delivery_retries=2, delivery_retry_intervals=(0, 0))
    jobs.configure(jobs.JobRuntime(failing, platform, engine))
    redis = Redis.from_url(settings.redis_url)
    try:
        passed = reminders.run_pass(platform, engine, UUID(school["tenant"]["id"]), at(today))
        ours = [k for k in passed.emails if k.startswith("reminder:")]
        assert ours
        _, mail_queue = reminders.queues(redis, failing)
        reminders._enqueue(mail_queue, reminders.send_mail, [(reminders.mail_job_id(k), (k,)) for k in ours],
                           reminders._mail_retry(failing))
        for _ in range(3):  # the attempt and its two retries (intervals of 0 s)
            jobs.DeliveryWorker([mail_queue], connection=redis, serializer=JSONSerializer).work(burst=True)
    finally:
        controller.stop()
        jobs.configure(jobs.JobRuntime(mail_settings, platform, engine))
    assert refusing.tries == 3 * len(ours)
    listed = ok(client.get("/api/v1/mail/failed", headers=bearer(settings.operator_token),
                           query_string={"limit": 500}))["items"]
    mine = {i["key"]: i for i in listed if i["key"] in ours}
    assert set(mine) == set(ours)
    assert all(i["attempts"] == 3 and "451" in i["error"] for i in mine.values())
    assert client.get("/api/v1/mail/failed", headers=school["head"]).status_code == 403


def test_rqs_cron_enqueues_the_tick_every_quarter_hour_in_json_and_a_worker_runs_it(mail_settings, worker):
    from redis import Redis
    from rq.job import JobStatus

    redis = Redis.from_url(mail_settings.redis_url)
    scheduler = reminders.cron_scheduler(redis, mail_settings)
    [tick] = scheduler.get_jobs()
    assert tick.cron == "*/15 * * * *" and tick.func_name == "services.reminders.tick"
    nxt = tick.get_next_enqueue_time()
    assert nxt.minute % 15 == 0 and nxt > datetime.now(timezone.utc)
    job = tick.enqueue(redis)
    worker.work()  # workers read JSON only: a pickled job would fail here
    pass_queue, _ = reminders.queues(redis, mail_settings)
    ran = pass_queue.fetch_job(job.id)
    assert ran.get_status() == JobStatus.FINISHED and set(ran.return_value()) >= {"passes", "emails"}


@pytest.mark.parametrize("moment", ["register_birth", "register_death"])
def test_a_sigterm_before_or_after_rqs_cron_loop_still_ends_the_scheduler_cleanly(mail_settings, moment):
    # rq installs the handler that raises StopRequested before it enters the loop that catches it; a SIGTERM at
    # that moment (the scheduler that just took over the lock, stopped at once) must end start() as a stop does.
    import os
    import signal

    from redis import Redis
    from rq.cron import cron_scheduler_registry

    redis = Redis.from_url(mail_settings.redis_url)
    scheduler = reminders.cron_scheduler(redis, mail_settings)
    real = getattr(scheduler, moment)
    sent: list[str] = []

    def signalled(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if not sent:
            # The cron command sends its SIGTERM only while rq's own handlers are in place: they are by now.
            assert scheduler.listening.is_set()
            sent.append(moment)
            os.kill(os.getpid(), signal.SIGTERM)  # rq's own handler runs here, in this thread, and raises
        return result

    setattr(scheduler, moment, signalled)
    if moment == "register_death":
        scheduler.calculate_sleep_interval = lambda: (os.kill(os.getpid(), signal.SIGTERM), 0)[1]
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()  # returns: neither the first nor the second signal escapes it
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert sent == [moment]
    assert not scheduler.listening.is_set(), "rq's handlers are no longer in place once start() has returned"
    assert scheduler.name not in cron_scheduler_registry.get_keys(redis), "the stopped scheduler is still registered"
