"""The people read model: everyone who works or worked in a tenant, with their roles and subjects."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, Connection, DateTime, Index, Table, Text, Uuid, select, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from domain.people import Person
from projections.base import ReadModel, metadata, page
from projections.rows import Rows

people = Table(
    "rm_people",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("full_name", Text, nullable=False),
    Column("roles", ARRAY(Text), nullable=False),
    Column("subjects", ARRAY(Text), nullable=False),
    Column("status", Text, nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Credentials without their hashes: id, issue time, revoked or not.
    Column("tokens", JSONB, nullable=False),
    Index("rm_people_tenant_seq", "tenant_id", "seq"),
)

read_model = ReadModel("people", [people])

ACTIVE, LEFT = "active", "left"


@read_model.on(Person.Joined)
def _joined(rows: Rows, event: Person.Joined, position: int) -> None:
    rows.insert(people, dict(
        id=event.originator_id, tenant_id=event.tenant, seq=position, full_name=event.full_name,
        roles=list(event.roles), subjects=list(event.subjects), status=ACTIVE, joined_at=event.timestamp,
        updated_at=event.timestamp, tokens=[],
    ))


@read_model.on(Person.Changed)
def _changed(rows: Rows, event: Person.Changed, position: int) -> None:
    rows.update(people, event.originator_id, full_name=event.full_name, roles=list(event.roles),
                subjects=list(event.subjects), updated_at=event.timestamp)


@read_model.on(Person.Left)
def _left(rows: Rows, event: Person.Left, position: int) -> None:
    # Whoever leaves keeps no working credential.
    person = _person(rows, event.originator_id)
    tokens = [{**token, "revoked": True} for token in person["tokens"]]
    rows.change(people, person, status=LEFT, left_at=event.timestamp, updated_at=event.timestamp, tokens=tokens)


@read_model.on(Person.TokenIssued)
def _token_issued(rows: Rows, event: Person.TokenIssued, position: int) -> None:
    person = _person(rows, event.originator_id)
    rows.change(people, person, tokens=[
        *person["tokens"], {"id": str(event.token_id), "issued_at": event.timestamp.isoformat(), "revoked": False}])


@read_model.on(Person.TokenRevoked)
def _token_revoked(rows: Rows, event: Person.TokenRevoked, position: int) -> None:
    person = _person(rows, event.originator_id)
    revoked = str(event.token_id)
    rows.change(people, person, tokens=[{**token, "revoked": True} if token["id"] == revoked else token
                                        for token in person["tokens"]])


def _person(rows: Rows, person_id: UUID) -> Any:
    person = rows.get(people, person_id)
    if person is None:
        raise LookupError(f"no person {person_id} for a person event")
    return person


def list_people(
    conn: Connection,
    tenant_id: UUID,
    *,
    limit: int,
    after: int,
    status: str | None = ACTIVE,
    role: str | None = None,
    subject: str | None = None,
) -> tuple[list[Any], str | None]:
    """Return a page of the tenant's people, filtered by status, role and subject, and the next cursor."""
    query = (
        select(people)
        .where(people.c.tenant_id == tenant_id, people.c.seq > after)
        .order_by(people.c.seq)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(people.c.status == status)
    if role is not None:
        query = query.where(people.c.roles.any_() == role)
    if subject is not None:
        # Case-insensitive in any alphabet: PostgreSQL's lower() folds Cyrillic and Kazakh letters too.
        query = query.where(
            text("EXISTS (SELECT 1 FROM unnest(rm_people.subjects) AS s WHERE lower(s) = lower(:subject))").bindparams(
                subject=subject
            )
        )
    return page(list(conn.execute(query)), limit)


def get_person(conn: Connection, tenant_id: UUID, person_id: UUID) -> Any | None:
    """Return one person's row if they belong to the tenant, or None."""
    return conn.execute(select(people).where(people.c.id == person_id, people.c.tenant_id == tenant_id)).first()


def count_teaching(engine: Any, log_end: Any, tenant_id: UUID, subject: str) -> int:
    """Return how many active teachers and industrial-training masters of the tenant teach the subject.

    Waits (briefly) until the read model has caught up with the log's end, so the count is current.
    """
    from projections.base import wait_for_position

    wait_for_position(engine, read_model, int(log_end() or 0), 3.0)
    query = text(
        "SELECT count(*) FROM rm_people WHERE tenant_id = :tenant AND status = 'active'"
        " AND roles && ARRAY['teacher', 'industrial_training_master']"
        " AND EXISTS (SELECT 1 FROM unnest(subjects) AS s WHERE lower(s) = lower(:subject))"
    )
    with engine.connect() as conn:
        return int(conn.execute(query, {"tenant": tenant_id, "subject": subject.strip()}).scalar_one())
