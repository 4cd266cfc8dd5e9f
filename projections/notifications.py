"""The notifications read model: each reminder per person it is for, what each person has read, how each wants
email, and each tenant's calendar for reminders (domain/reminders.py, ADR 023)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger, Boolean, Column, Connection, Date, DateTime, Index, Integer, Table, Text, Uuid, and_, select,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.people import Person
from domain.reminders import DEFAULT_MAIL, Inbox, Reminder, ReminderSettings
from domain.tenants import Tenant
from projections.base import ReadModel, metadata
from projections.rows import Rows

notifications = Table(
    "rm_notifications",
    metadata,
    Column("reminder_id", Uuid, primary_key=True),
    Column("person_id", Uuid, primary_key=True),
    # The recipient's own tenant (the union's chair may be of another organization than the reminder's, p.34).
    Column("tenant_id", Uuid, nullable=False),
    Column("source_tenant_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("rule", Text, nullable=False),
    Column("clause", Text, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("period", Text, nullable=False),
    Column("facts", JSONB, nullable=False),
    Column("summary", Boolean, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Index("rm_notifications_person_seq", "person_id", "seq"),
)

reads = Table(
    "rm_notification_reads",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=False),
)

recipients = Table(
    "rm_mail_recipients",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False, index=True),
    Column("email", Text),
    Column("language", Text),
    Column("mail", Text, nullable=False),
    Column("active", Boolean, nullable=False),
)

reminder_settings = Table(
    "rm_reminder_settings",
    metadata,
    Column("tenant_id", Uuid, primary_key=True),
    Column("time_zone", Text, nullable=False),
    Column("plan_due", Text, nullable=False),
    Column("document_days", Integer, nullable=False),
    Column("circular_days", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

read_model = ReadModel("notifications", [notifications, reads, recipients, reminder_settings])


def reminder_key(reminder_id: UUID | str) -> str:
    """Return the key a reminder's notification is read by."""
    return f"reminder:{reminder_id}"


@read_model.on(Reminder.Raised)
def _raised(rows: Rows, event: Reminder.Raised, position: int) -> None:
    for recipient in event.recipients:
        person_id = UUID(recipient["person_id"])
        person = rows.get(recipients, person_id)
        rows.insert(notifications, dict(
            reminder_id=event.originator_id, person_id=person_id,
            tenant_id=person["tenant_id"] if person is not None else event.tenant, source_tenant_id=event.tenant,
            seq=position, rule=event.rule, clause=event.meta.get("clause") or "", subject_id=event.subject_id,
            period=event.period, facts=event.facts, summary=bool(recipient.get("summary")), due_on=event.due_on,
            raised_at=event.timestamp,
        ))


@read_model.on(Inbox.Read)
def _read(rows: Rows, event: Inbox.Read, position: int) -> None:
    person_id, tenant_id = event.person, UUID(event.meta["tenant_id"])
    for key in event.keys:
        if rows.get(reads, (person_id, key)) is None:
            rows.insert(reads, dict(person_id=person_id, key=key, tenant_id=tenant_id, read_at=event.timestamp))


@read_model.on(Person.Joined)
def _joined(rows: Rows, event: Person.Joined, position: int) -> None:
    rows.insert(recipients, dict(person_id=event.originator_id, tenant_id=event.tenant, email=None, language=None,
                                 mail=DEFAULT_MAIL, active=True))


@read_model.on(Person.LoginSet)
def _login(rows: Rows, event: Person.LoginSet, position: int) -> None:
    rows.update(recipients, event.originator_id, email=event.login)


@read_model.on(Person.LanguageChosen)
def _language(rows: Rows, event: Person.LanguageChosen, position: int) -> None:
    rows.update(recipients, event.originator_id, language=event.language)


@read_model.on(Person.MailChosen)
def _mail(rows: Rows, event: Person.MailChosen, position: int) -> None:
    rows.update(recipients, event.originator_id, mail=event.mail)


@read_model.on(Person.Left)
def _left(rows: Rows, event: Person.Left, position: int) -> None:
    rows.update(recipients, event.originator_id, active=False)


@read_model.on(Tenant.RemindersSet)
def _settings(rows: Rows, event: Tenant.RemindersSet, position: int) -> None:
    values = dict(time_zone=event.time_zone, plan_due=event.plan_due, document_days=event.document_days,
                  circular_days=event.circular_days, updated_at=event.timestamp)
    if rows.get(reminder_settings, event.originator_id) is None:
        rows.insert(reminder_settings, dict(tenant_id=event.originator_id, **values))
    else:
        rows.update(reminder_settings, event.originator_id, **values)


# Queries


def settings_of(conn: Connection, tenant_ids: Sequence[UUID] | None = None) -> dict[UUID, dict[str, Any]]:
    """Return the reminder settings tenants have set (tenants absent use the defaults)."""
    query = select(reminder_settings)
    if tenant_ids is not None:
        query = query.where(reminder_settings.c.tenant_id.in_(list(tenant_ids)))
    return {row.tenant_id: {"time_zone": row.time_zone, "plan_due": row.plan_due,
                            "document_days": row.document_days, "circular_days": row.circular_days}
            for row in conn.execute(query)}


def settings_for(conn: Connection, tenant_id: UUID, quarters: Iterable[Iterable[str]] | None = None
                 ) -> ReminderSettings:
    """Return one tenant's reminder settings (with its academic quarters, if it set them)."""
    found = settings_of(conn, [tenant_id]).get(tenant_id, {})
    extra: dict[str, Any] = {"quarters": tuple(tuple(q) for q in quarters)} if quarters else {}
    return ReminderSettings(**found, **extra)


def of_person(conn: Connection, person_id: UUID) -> list[Any]:
    """Return the person's reminders with whether each is read, newest first (a person has a few hundred)."""
    read = select(reads.c.key).where(reads.c.person_id == person_id)
    keys = {row.key for row in conn.execute(read)}
    rows = conn.execute(select(notifications).where(notifications.c.person_id == person_id)
                        .order_by(notifications.c.seq.desc()).limit(2000))
    return [(row, reminder_key(row.reminder_id) in keys) for row in rows]


def known(conn: Connection, reminder_ids: Sequence[UUID]) -> set[UUID]:
    """Return which of the reminders the read model has (recorded for sure; the others may be too)."""
    if not reminder_ids:
        return set()
    return {row.reminder_id for row in conn.execute(
        select(notifications.c.reminder_id).where(notifications.c.reminder_id.in_(list(reminder_ids))).distinct())}


def read_keys(conn: Connection, person_id: UUID, keys: Sequence[str]) -> set[str]:
    """Return which of the keys the person has read."""
    if not keys:
        return set()
    return {row.key for row in conn.execute(
        select(reads.c.key).where(reads.c.person_id == person_id, reads.c.key.in_(list(keys))))}


def recipients_of(conn: Connection, person_ids: Sequence[UUID]) -> dict[UUID, Any]:
    """Return how each person wants email (email, language, choice), for those the read model knows."""
    if not person_ids:
        return {}
    return {row.person_id: row for row in conn.execute(
        select(recipients).where(recipients.c.person_id.in_(list(person_ids))))}


def undigested(conn: Connection, person_id: UUID, digested: Any) -> list[Any]:
    """Return the person's reminders no digest or email has carried yet (`digested`: the table of those)."""
    query = (select(notifications)
             .where(notifications.c.person_id == person_id,
                    ~select(digested.c.reminder_id).where(and_(digested.c.person_id == person_id,
                                                               digested.c.reminder_id == notifications.c.reminder_id))
                    .exists())
             .order_by(notifications.c.seq))
    return list(conn.execute(query))


def waiting_for(conn: Connection, tenant_id: UUID, person_id: UUID, roles: Sequence[str], today: date
                ) -> list[dict[str, Any]]:
    """Return what waits for the person now: documents whose move is theirs, plans for the head to approve
    (p.29), circulars for the head or deputy head to acknowledge (p.34)."""
    from projections import circulars as circulars_rm
    from projections import documents as documents_rm
    from projections import units as units_rm

    items: list[dict[str, Any]] = []
    documents, _ = documents_rm.list_documents(conn, tenant_id, limit=500, after=0,
                                               waiting_for=(person_id, list(roles), today))
    for d in documents:
        items.append({"key": f"document:{d.id}:v{d.version}:{d.awaiting}", "kind": "document", "rule": d.awaiting,
                      "clause": d.clause, "subject_id": d.id, "facts": {"title": d.title}, "at": d.updated_at,
                      "summary": False})
    if "head" in roles:
        p, u = units_rm.plans, units_rm.units
        for plan in conn.execute(select(p.c.id, p.c.unit_id, p.c.academic_year, p.c.drafted_at, u.c.name)
                                 .join(u, u.c.id == p.c.unit_id)
                                 .where(p.c.tenant_id == tenant_id, p.c.status == "draft").limit(500)):
            items.append({"key": f"plan:{plan.id}", "kind": "plan", "rule": "approval", "clause": "p.29",
                          "subject_id": plan.unit_id, "facts": {"unit": plan.name, "year": plan.academic_year},
                          "at": plan.drafted_at, "summary": False})
    if {"head", "deputy_head"} & set(roles):
        c = circulars_rm.circulars
        for circular in conn.execute(select(c.c.id, c.c.number, c.c.title, c.c.delivered_at)
                                     .where(c.c.tenant_id == tenant_id, c.c.status == "delivered").limit(500)):
            items.append({"key": f"circular:{circular.id}", "kind": "circular", "rule": "acknowledgement",
                          "clause": "p.34", "subject_id": circular.id,
                          "facts": {"number": circular.number, "title": circular.title},
                          "at": circular.delivered_at, "summary": False})
    return items


def inbox(conn: Connection, tenant_id: UUID, person_id: UUID, roles: Sequence[str], today: date
          ) -> list[dict[str, Any]]:
    """Return the person's notifications, unread first, newest first within each: their reminders and what
    waits for them."""
    items = [{"key": reminder_key(row.reminder_id), "kind": "reminder", "rule": row.rule, "clause": row.clause,
              "subject_id": row.subject_id, "facts": row.facts, "at": row.raised_at, "summary": row.summary,
              "read": read} for row, read in of_person(conn, person_id)]
    waiting = waiting_for(conn, tenant_id, person_id, roles, today)
    done = read_keys(conn, person_id, [w["key"] for w in waiting])
    items += [{**w, "read": w["key"] in done} for w in waiting]
    items.sort(key=lambda i: (i["read"], -i["at"].timestamp(), i["key"]))
    return items
