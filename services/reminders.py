"""The daily reminders pass, its schedule on rq's cron, and the emails it leaves to send (ADR 023).

Every step is safe to repeat. A pass reads the facts from the read models, computes the reminders due on the
tenant's own day (domain/reminders.py), records the ones not yet recorded (each `Reminder` has the id of its
rule, subject and period, so a second recording fails and is skipped), then writes the emails they call for
into `mail_outbox` under keys that name them (a reminder for a person sent at once), and records the pass as
done for that day; once every pass due is done, each person's digest for the period is written the same way. A
pass that died halfway is not done: the next tick runs it again and it
finishes what is missing. Redis only carries wake-ups: a tick re-enqueues every pass not done and every email
not sent, so an emptied Redis loses nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger, Column, Connection, Date, DateTime, Engine, Integer, Table, Text, Uuid, func, select, text, update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

from domain import rules
from domain.base import Actor, Context, NotFound
from domain.documents import DOCUMENT_KINDS
from domain.people import Person
from domain.reminders import (
    AT_ONCE, DAILY, NO_MAIL, Due, Inbox, Reminder, ReminderSettings, TenantFacts, UnacknowledgedCircular,
    UnitState, WaitingDocument, due_reminders, period_of_digest,
)
from domain.tenants import Tenant
from domain.units import UNIT_KINDS, academic_year_of
from projections import notifications as notifications_rm
from projections.base import metadata, wait_for_position
from services.commands import Commands, Done, StaleWrite
from services.config import Settings

log = logging.getLogger(__name__)

REMINDERS = "reminders"  # the actor of the pass, as its events record it
PENDING, SENT, FAILED = "pending", "sent", "failed"

# The emails reminders call for: one row per reminder and person (sent at once) or per person and period (a
# digest), written once (the key), sent once (status), and kept when sending fails (the operator's list).
mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("key", Text, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("person_id", Uuid, nullable=False),
    Column("kind", Text, nullable=False),  # "reminder" or "digest"
    Column("period", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("items", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
)
# Which reminders an email has carried to a person: a digest carries only what none has.
mail_carried = Table(
    "mail_carried",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("reminder_id", Uuid, primary_key=True),
    Column("key", Text, nullable=False),
)
# The passes done: (tenant, its day). A pass not here is run again by the next tick.
reminder_passes = Table(
    "reminder_passes",
    metadata,
    Column("tenant_id", Uuid, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("reminders", Integer, nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=False),
    # The digests are written once every pass of the day is done (a union's chair hears of other members' reminders).
    Column("digested_at", DateTime(timezone=True)),
    # The log position of the reminders the pass recorded: the digests wait for the read model to reach it.
    Column("position", BigInteger),
)


def pass_context(now: datetime, request_id: str = "reminders") -> Context:
    """Return the context the pass records its reminders in."""
    return Context(actor=Actor(role=REMINDERS), request_id=request_id, now=now, ids=uuid4)


class ReminderCommands(Commands):
    """Records reminders, people's email choices, their reads, and the tenant's reminder settings."""

    def set_reminders(self, ctx: Context, tenant_id: UUID, **settings: Any) -> Done:
        """Set when the platform reminds the organization's people."""
        tenant = self.load(tenant_id, Tenant, "tenant")
        tenant.set_reminders(ctx, **settings)
        return Done(tenant, self.commit(tenant))

    def choose_mail(self, ctx: Context, tenant_id: UUID, person_id: UUID, mail: str) -> Done:
        """Remember how the person wants reminders by email."""
        person = self.load(person_id, Person, "person", tenant_id)
        person.choose_mail(ctx, mail)
        return Done(person, self.commit(person))

    def mark_read(self, ctx: Context, tenant_id: UUID, person_id: UUID, keys: Sequence[str]) -> Done:
        """Mark the person's notifications read (opening their inbox on the first read)."""
        for attempt in range(3):
            try:
                inbox = self.load(Inbox.id_for(person_id), Inbox, "inbox", tenant_id)
            except NotFound:
                inbox = Inbox.open(ctx, tenant_id, person_id)
            inbox.read(ctx, keys)
            try:
                return Done(inbox, self.commit(inbox))
            except StaleWrite:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def raise_reminders(self, ctx: Context, tenant_id: UUID, dues: Sequence[Due], today: date,
                        known: set[UUID] = frozenset()) -> tuple[int, int]:  # type: ignore[assignment]
        """Record the reminders not recorded yet (`known`: ids the read model already has); return how many were
        new and the log position after them."""
        missing = [d for d in dues if d.reminder_id not in known and not self._recorded(d.reminder_id)]
        if not missing:
            return 0, 0
        try:
            return len(missing), self.commit(*[Reminder.raise_due(ctx, tenant_id, d, today) for d in missing])
        except StaleWrite:
            # Another pass recorded some of them at the same moment: record the rest one by one.
            new, position = 0, 0
            for due in missing:
                try:
                    position = self.commit(Reminder.raise_due(ctx, tenant_id, due, today))
                    new += 1
                except StaleWrite:
                    pass
            return new, position

    def _recorded(self, reminder_id: UUID) -> bool:
        return bool(list(self.events.get(reminder_id, limit=1)))


# The facts


def tenant_facts(conn: Connection, tenant_id: UUID, today: date, settings: ReminderSettings) -> TenantFacts:
    """Read what the tenant's pass needs from the read models, in five statements."""
    people = list(conn.execute(text(
        "SELECT id, roles FROM rm_people WHERE tenant_id = :t AND status = 'active'"
        " AND roles && ARRAY['head', 'deputy_head']"), {"t": tenant_id}))
    heads = tuple(p.id for p in people if rules.HEAD in p.roles)
    deputies = tuple(p.id for p in people if rules.DEPUTY_HEAD in p.roles)
    year = academic_year_of(today)
    since = date(int(year[:4]), 9, 1)
    units = [
        UnitState(unit_id=u.id, kind=u.kind, name=u.name, members=u.member_count,
                  below_minimum_since=u.below_minimum_since, leader_id=u.leader_id,
                  leader_starts_on=u.leader_starts_on, leader_ends_on=u.leader_ends_on, plan_status=u.plan,
                  meetings=list(u.held or ()))
        for u in conn.execute(text(
            "SELECT u.id, u.kind, u.name, u.member_count, u.below_minimum_since, u.leader_id, u.leader_starts_on,"
            " u.leader_ends_on,"
            " (SELECT max(p.status) FROM rm_plans p WHERE p.unit_id = u.id AND p.academic_year = :year) AS plan,"
            " ARRAY(SELECT m.held_on FROM rm_meetings m WHERE m.unit_id = u.id AND m.held_on >= :since) AS held"
            " FROM rm_units u WHERE u.tenant_id = :t ORDER BY u.seq"), {"t": tenant_id, "year": year, "since": since})
        if u.kind in UNIT_KINDS
    ]
    documents = _waiting_documents(conn, tenant_id, settings, people)
    circulars = [
        UnacknowledgedCircular(circular_id=c.id, number=c.number, title=c.title, union_name=c.union_name,
                               delivered_on=c.delivered_at.astimezone(settings.zone()).date(),
                               chair_id=UUID(c.chair) if c.chair else None)
        for c in conn.execute(text(
            "SELECT c.id, c.number, c.title, c.union_name, c.delivered_at, n.chair ->> 'person_id' AS chair"
            " FROM rm_circulars c LEFT JOIN rm_unions n ON n.id = c.union_id"
            " WHERE c.tenant_id = :t AND c.status = 'delivered' AND c.delivered_at IS NOT NULL"), {"t": tenant_id})
    ]
    return TenantFacts(tenant_id, heads, deputies, units, documents, circulars)


def _waiting_documents(conn: Connection, tenant_id: UUID, settings: ReminderSettings,
                       managers: Sequence[Any]) -> list[WaitingDocument]:
    rows = list(conn.execute(text(
        "SELECT d.id, d.kind, d.clause, d.title, d.author_id, d.version, d.awaiting, d.awaiting_unit_id,"
        " d.updated_at, u.leader_id, u.kind AS unit_kind,"
        " ARRAY(SELECT m.person_id FROM rm_unit_members m WHERE m.unit_id = u.id AND m.left_at IS NULL) AS members"
        " FROM rm_documents d LEFT JOIN rm_units u ON u.id = d.awaiting_unit_id"
        " WHERE d.tenant_id = :t AND d.awaiting IN ('review', 'approval')"), {"t": tenant_id}))
    found = []
    for d in rows:
        if d.awaiting == "review":
            has_leader = d.unit_kind in UNIT_KINDS and UNIT_KINDS[d.unit_kind].has_leader
            who = [d.leader_id] if has_leader and d.leader_id else list(d.members or ())
        else:
            kind = DOCUMENT_KINDS.get(d.kind)
            approvers = set(kind.approvers) if kind else set()
            who = [p.id for p in managers if approvers & set(p.roles)]
        who = [p for p in who if p is not None and p != d.author_id]
        found.append(WaitingDocument(
            document_id=d.id, title=d.title, clause=d.clause, awaiting=d.awaiting, version=d.version,
            since=d.updated_at.astimezone(settings.zone()).date(), unit_id=d.awaiting_unit_id,
            recipients=tuple(who)))
    return found


def settings_of_tenant(conn: Connection, tenant_id: UUID) -> ReminderSettings:
    """Return the tenant's reminder settings with the academic quarters it set."""
    from projections.tenants import get_tenant

    tenant = get_tenant(conn, tenant_id)
    return notifications_rm.settings_for(conn, tenant_id, tenant.quarters if tenant else None)


# The pass


@dataclass(frozen=True)
class PassDone:
    """What one tenant's pass did."""

    tenant_id: UUID
    day: date
    due: int
    new: int
    emails: list[str]


def run_pass(platform: Any, engine: Engine, tenant_id: UUID, now: datetime, wait: float = 30.0) -> PassDone:
    """Run one tenant's daily pass as of `now`: record the reminders due, write the emails they call for."""
    with engine.connect() as conn:
        settings = settings_of_tenant(conn, tenant_id)
        today = settings.today(now)
        dues = due_reminders(tenant_facts(conn, tenant_id, today, settings), today, settings)
        # Those the read model has are recorded for sure; only the others are asked of the event store.
        known = notifications_rm.known(conn, [d.reminder_id for d in dues])
    new, position = platform.raise_reminders(pass_context(now, f"reminders:{tenant_id}:{today}"), tenant_id, dues,
                                             today, known)
    emails = write_emails(engine, tenant_id, dues, today, now, digests=False)
    with engine.begin() as conn:
        conn.execute(insert(reminder_passes).values(tenant_id=tenant_id, day=today, reminders=len(dues), done_at=now,
                                                    position=position or None).on_conflict_do_nothing())
    return PassDone(tenant_id, today, len(dues), new, emails)


def write_emails(engine: Engine, tenant_id: UUID, dues: Sequence[Due], today: date, now: datetime,
                 digests: bool = True) -> list[str]:
    """Write the emails the tenant's reminders call for (at once, and the digests due today); return their keys
    (those already written included: sending one twice is refused by its status)."""
    keys: list[str] = []
    with engine.begin() as conn:
        people = {p for d in dues for r in d.recipients if not r.summary for p in [r.person_id]}
        known = notifications_rm.recipients_of(conn, list(people))
        tenant_language = conn.execute(text("SELECT language FROM rm_tenants WHERE id = :t"),
                                       {"t": tenant_id}).scalar() or "ru"
        for due in dues:
            for recipient in due.recipients:
                person = known.get(recipient.person_id)
                if recipient.summary or person is None or not person.active or not person.email \
                        or person.mail != AT_ONCE:
                    continue
                key = f"reminder:{due.reminder_id}:{recipient.person_id}"
                item = {"reminder_id": str(due.reminder_id), "rule": due.rule, "clause": due.clause,
                        "subject_id": str(due.subject_id), "facts": due.facts}
                if _write(conn, key, person, "reminder", due.period, [item], now, tenant_language):
                    conn.execute(insert(mail_carried).values(person_id=recipient.person_id,
                                                             reminder_id=due.reminder_id, key=key)
                                 .on_conflict_do_nothing())
                keys.append(key)
    if digests:
        keys += write_digests(engine, tenant_id, today, now)
    return keys


def run_digests(engine: Engine, tenant_id: UUID, day: date, now: datetime) -> list[str]:
    """Write the digests of the tenant's people for its day (after every pass of the day), and record it."""
    with engine.connect() as conn:
        position = conn.execute(select(func.max(reminder_passes.c.position)).where(
            reminder_passes.c.day == day)).scalar()
    if position:
        # The digests read the notifications read model: it must have every reminder the day's passes recorded.
        wait_for_position(engine, notifications_rm.read_model, int(position), 60.0)
    keys = write_digests(engine, tenant_id, day, now)
    with engine.begin() as conn:
        conn.execute(update(reminder_passes).where(reminder_passes.c.tenant_id == tenant_id,
                                                   reminder_passes.c.day == day).values(digested_at=now))
    return keys


def digests_due(engine: Engine, now: datetime) -> list[tuple[UUID, date]]:
    """Return the (tenant, day) whose digests are to be written: only once no pass due at this moment is left
    undone, so that every reminder of the day (another member's, for a union's chair) is in them."""
    if passes_due(engine, now, limit=1):
        return []
    oldest = (now - timedelta(days=2)).date()
    with engine.connect() as conn:
        return [(r.tenant_id, r.day) for r in conn.execute(
            select(reminder_passes.c.tenant_id, reminder_passes.c.day).where(
                reminder_passes.c.digested_at.is_(None), reminder_passes.c.day >= oldest))]


def write_digests(engine: Engine, tenant_id: UUID, today: date, now: datetime) -> list[str]:
    """Write each of the tenant's people's digest for the period today falls in, if it has anything to carry and
    none was written for that period yet."""
    keys = []
    with engine.begin() as conn:
        tenant_language = conn.execute(text("SELECT language FROM rm_tenants WHERE id = :t"),
                                       {"t": tenant_id}).scalar() or "ru"
        people = list(conn.execute(select(notifications_rm.recipients).where(
            notifications_rm.recipients.c.tenant_id == tenant_id, notifications_rm.recipients.c.active,
            notifications_rm.recipients.c.email.is_not(None), notifications_rm.recipients.c.mail != NO_MAIL)))
        for person in people:
            # Whoever asked for each reminder at once still hears of summaries (p.34) in a daily digest.
            period = period_of_digest(DAILY if person.mail == AT_ONCE else person.mail, today)
            if period is None:
                continue
            items = notifications_rm.undigested(conn, person.person_id, mail_carried)
            if not items:
                continue
            key = f"digest:{person.person_id}:{period}"
            body = [{"reminder_id": str(n.reminder_id), "rule": n.rule, "clause": n.clause,
                     "subject_id": str(n.subject_id), "facts": n.facts} for n in items]
            if _write(conn, key, person, "digest", period, body, now, tenant_language):
                conn.execute(insert(mail_carried).values(
                    [{"person_id": person.person_id, "reminder_id": n.reminder_id, "key": key} for n in items])
                    .on_conflict_do_nothing())
                keys.append(key)
    return keys


def _write(conn: Connection, key: str, person: Any, kind: str, period: str, items: list[dict[str, Any]],
           now: datetime, tenant_language: str) -> bool:
    written = conn.execute(insert(mail_outbox).values(
        key=key, tenant_id=person.tenant_id, person_id=person.person_id, kind=kind, period=period,
        email=person.email, language=person.language or tenant_language, items=items, status=PENDING, attempts=0,
        created_at=now).on_conflict_do_nothing().returning(mail_outbox.c.key)).first()
    return written is not None


def passes_due(engine: Engine, now: datetime, limit: int | None = None) -> list[tuple[UUID, date]]:
    """Return the (tenant, day) of every pass due at this moment and not done: 07:00 of the tenant's day has come."""
    with engine.connect() as conn:
        tenants = list(conn.execute(text(
            "SELECT t.id, coalesce(s.time_zone, :zone) AS time_zone FROM rm_tenants t"
            " LEFT JOIN rm_reminder_settings s ON s.tenant_id = t.id ORDER BY t.seq"),
            {"zone": ReminderSettings().time_zone}))
        by_zone: dict[str, list[UUID]] = {}
        for row in tenants:
            by_zone.setdefault(row.time_zone, []).append(row.id)
        wanted: list[tuple[UUID, date]] = []
        for zone, ids in by_zone.items():
            settings = ReminderSettings(time_zone=zone)
            if settings.pass_due(now):
                wanted += [(tid, settings.today(now)) for tid in ids]
        done = {(r.tenant_id, r.day) for r in conn.execute(
            select(reminder_passes.c.tenant_id, reminder_passes.c.day).where(
                reminder_passes.c.day.in_({day for _, day in wanted})))} if wanted else set()
    due = [w for w in wanted if w not in done]
    return due[:limit] if limit else due


def unsent(engine: Engine, limit: int = 10_000) -> list[str]:
    """Return the keys of the emails written and not sent (nor given up on)."""
    with engine.connect() as conn:
        return [r.key for r in conn.execute(select(mail_outbox.c.key).where(mail_outbox.c.status == PENDING)
                                            .order_by(mail_outbox.c.created_at).limit(limit))]


def failed(conn: Connection, *, limit: int, after: str = "") -> list[Any]:
    """Return the emails given up on, for the operator."""
    return list(conn.execute(select(mail_outbox).where(mail_outbox.c.status == FAILED, mail_outbox.c.key > after)
                             .order_by(mail_outbox.c.key).limit(limit + 1)))


def retry_failed(engine: Engine, key: str) -> bool:
    """Put an email given up on back to be sent; return whether there was one."""
    with engine.begin() as conn:
        return conn.execute(update(mail_outbox).where(mail_outbox.c.key == key, mail_outbox.c.status == FAILED)
                            .values(status=PENDING, attempts=0)).rowcount > 0


# Sending


def send(engine: Engine, settings: Settings, relay: Any, key: str, final: bool, now: datetime | None = None) -> str:
    """Send one written email unless it is sent already; return its status.

    The row is locked while the relay takes the message, so two workers never send it both; a worker killed
    after the relay accepted it and before the row says so would leave it to be sent again, under the same
    Message-ID (as circular notices, ADR 006): the one window where a message can repeat, never be lost.
    """
    from services import reminder_mail

    with engine.begin() as conn:
        row = conn.execute(select(mail_outbox).where(mail_outbox.c.key == key, mail_outbox.c.status == PENDING)
                           .with_for_update(skip_locked=True)).first()
        if row is None:
            status = conn.execute(select(mail_outbox.c.status).where(mail_outbox.c.key == key)).scalar()
            return status or "missing"
        try:
            relay.send(reminder_mail.compose(settings, row))
        except Exception as error:
            conn.rollback()
            with engine.begin() as again:
                again.execute(update(mail_outbox).where(mail_outbox.c.key == key).values(
                    attempts=mail_outbox.c.attempts + 1, error=f"{type(error).__name__}: {error}"[:500],
                    status=FAILED if final else PENDING))
            log.warning("email %s not sent (%s)%s", key, error, "; given up" if final else "; will retry")
            raise
        conn.execute(update(mail_outbox).where(mail_outbox.c.key == key).values(
            status=SENT, sent_at=now or datetime.now(timezone.utc), attempts=mail_outbox.c.attempts + 1, error=None))
    return SENT


def mail_job_id(key: str) -> str:
    """Return the rq job id of an email: one per email, however often it is enqueued."""
    return "mail-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def pass_job_id(tenant_ids: Sequence[str], now: str) -> str:
    """Return the rq job id of the passes of these tenants at this moment: the same for the same work."""
    return "reminders-" + hashlib.sha256("|".join([now, *tenant_ids]).encode()).hexdigest()[:32]


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]



# rq: the cron tick, the passes and the emails as jobs (ids in, JSON serializer, idempotent)

TICK_CRON = "*/15 * * * *"  # every quarter hour: a zone's 07:00 comes on the hour or the half or quarter hour
PASSES_PER_JOB = 25  # a job's own cost in rq (a score of Redis round trips) shared by this many tenants
_ACTIVE = {b"queued", b"started", b"deferred", b"scheduled"}


def queues(connection: Any, settings: Settings) -> list[Any]:
    """Return the queues of the reminders: the passes first, then the emails they leave."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    return [Queue(name, connection=connection, serializer=JSONSerializer)
            for name in (settings.reminders_queue, settings.mail_queue)]


def _enqueue(queue: Any, func: Any, jobs: list[tuple[str, tuple[Any, ...]]], retry: Any = None,
             timeout: int = 600) -> int:
    """Enqueue each (job id, args) whose job is not waiting or running already; return how many were."""
    from rq import Queue

    if not jobs:
        return 0
    with queue.connection.pipeline(transaction=False) as pipe:
        for job_id, _ in jobs:
            pipe.hget(f"rq:job:{job_id}", "status")
        statuses = pipe.execute()
    fresh = [(job_id, args) for (job_id, args), status in zip(jobs, statuses) if status not in _ACTIVE]
    for chunk in _chunks(fresh, 1000):
        queue.enqueue_many([Queue.prepare_data(func, args, job_id=job_id, retry=retry, timeout=timeout,
                                               result_ttl=600, failure_ttl=7 * 24 * 3600) for job_id, args in chunk])
    return len(fresh)


def _mail_retry(settings: Settings) -> Any:
    from rq import Retry

    intervals = list(settings.delivery_retry_intervals)[: settings.delivery_retries] or [0]
    return Retry(max=settings.delivery_retries, interval=intervals) if settings.delivery_retries > 0 else None


def enqueue_due(connection: Any, engine: Engine, settings: Settings, now: datetime) -> dict[str, int]:
    """Enqueue every pass due and not done, and every email written and not sent (what an emptied Redis lost)."""
    pass_queue, mail_queue = queues(connection, settings)
    stamp = now.isoformat()
    due = [str(tid) for tid, _ in passes_due(engine, now)]
    passes = _enqueue(pass_queue, daily_passes, [(pass_job_id(chunk, stamp), (list(chunk), stamp))
                                                 for chunk in _chunks(due, PASSES_PER_JOB)])
    waiting = [[str(tid), day.isoformat()] for tid, day in digests_due(engine, now)]
    digests = _enqueue(pass_queue, daily_digests, [
        ("digests-" + hashlib.sha256(repr(chunk).encode()).hexdigest()[:32], (list(chunk), stamp))
        for chunk in _chunks(waiting, PASSES_PER_JOB)])
    mails = _enqueue(mail_queue, send_mail, [(mail_job_id(k), (k,)) for k in unsent(engine)], _mail_retry(settings))
    return {"passes": passes, "digests": digests, "emails": mails}


def tick(now: str | None = None) -> dict[str, int]:
    """The cron job: enqueue the passes whose 07:00 has come and the emails still to send."""
    from rq import get_current_job

    from services import jobs

    rt = jobs.job_runtime()
    moment = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
    job = get_current_job()
    connection = job.connection if job is not None else _redis(rt.settings)
    return enqueue_due(connection, rt.engine, rt.settings, moment)


def daily_passes(tenant_ids: list[str], now: str) -> dict[str, int]:
    """Run these tenants' passes as of the moment the tick saw, then enqueue the emails they wrote."""
    from rq import get_current_job

    from services import jobs

    rt = jobs.job_runtime()
    moment = datetime.fromisoformat(now)
    due = new = 0
    emails: list[str] = []
    for tenant_id in tenant_ids:
        done = run_pass(rt.platform, rt.engine, UUID(tenant_id), moment)
        due, new, emails = due + done.due, new + done.new, emails + done.emails
    job = get_current_job()
    if emails and job is not None:
        _, mail_queue = queues(job.connection, rt.settings)
        _enqueue(mail_queue, send_mail, [(mail_job_id(k), (k,)) for k in emails], _mail_retry(rt.settings))
    return {"tenants": len(tenant_ids), "due": due, "new": new, "emails": len(emails)}


def daily_digests(days: list[list[str]], now: str) -> int:
    """Write the digests of these (tenant, day) pairs, then enqueue them."""
    from rq import get_current_job

    from services import jobs

    rt = jobs.job_runtime()
    keys: list[str] = []
    for tenant_id, day in days:
        keys += run_digests(rt.engine, UUID(tenant_id), date.fromisoformat(day), datetime.fromisoformat(now))
    job = get_current_job()
    if keys and job is not None:
        _, mail_queue = queues(job.connection, rt.settings)
        _enqueue(mail_queue, send_mail, [(mail_job_id(k), (k,)) for k in keys], _mail_retry(rt.settings))
    return len(keys)


def send_mail(key: str) -> str:
    """Send one written email unless it is sent; the last failed attempt leaves it on the operator's list."""
    from rq import get_current_job

    from services import jobs, mail

    rt = jobs.job_runtime()
    if rt.relay is None:
        rt.relay = mail.Relay(rt.settings)
    job = get_current_job()
    # No retry left (or run outside rq): this failure is the last, and the email goes to the operator's list.
    final = job is None or not job.retries_left
    return send(rt.engine, rt.settings, rt.relay, key, final=final)


def _redis(settings: Settings) -> Any:
    from redis import Redis

    return Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")


def cron_scheduler(connection: Any, settings: Settings) -> Any:
    """Return rq's cron scheduler with the reminders' tick registered (JSON serializer: never pickle)."""
    from rq import Queue
    from rq.cron import CronJob
    from rq.serializers import JSONSerializer

    from services.internals.rq import KnownHandlers

    class JsonCronJob(CronJob):
        """rq's cron job, enqueued with the JSON serializer the workers read (rq's own uses the default)."""

        def enqueue(self, connection: Any) -> Any:
            queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
            job = queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options)
            log.info("cron enqueued %s", self.func_name)
            return job

    class Scheduler(KnownHandlers):
        def register(self, func: Any, queue_name: str, **options: Any) -> Any:
            return self.add_cron_job(JsonCronJob(queue_name=queue_name, func=func, **options))

    scheduler = Scheduler(connection=connection, name=f"methodical-reminders-{uuid4().hex[:8]}")
    scheduler.register(tick, settings.reminders_queue, cron=TICK_CRON, job_timeout=600, result_ttl=3600)
    return scheduler
