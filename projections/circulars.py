"""The circulars read model: each member's inbox, each decision's acknowledgements.

`rm_circulars` is a read model like the others: dropped and rebuilt from the events. The rendered PDFs are not
(the services keep them: the delivery job writes them before it records `Delivered`, ADR 006).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    DDL, BigInteger, Column, Connection, Date, DateTime, Index, Integer, Table, Text, Uuid, event, select, text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from domain.unions import ACKNOWLEDGED, DELIVERED, FAILED, ISSUED, Circular
from projections.base import ReadModel, metadata, page
from projections.rows import Rows

circulars = Table(
    "rm_circulars",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("union_id", Uuid, nullable=False),
    Column("decision_id", Uuid, nullable=False, index=True),
    Column("member_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("number", Text, nullable=False),
    Column("union_name", Text, nullable=False),
    Column("decision_number", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("specialties", ARRAY(Text), nullable=False),
    Column("recipient_name", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("document_sha256", Text),
    Column("notice_sent_to", Text),
    Column("error", Text),
    Column("failed_at", DateTime(timezone=True)),
    Column("response", Text),
    Column("note", Text),
    Column("acknowledged_by", Uuid),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("rm_circulars_tenant_seq", "tenant_id", "seq"),
    # The dispatcher's sweep: circulars still waiting for delivery.
    Index("rm_circulars_status_seq", "status", "seq"),
)

read_model = ReadModel("circulars", [circulars])

# Wakes the dispatcher when a circular starts waiting for delivery (issued, or retried), rather than at its next
# sweep: the notification goes out as the projector's transaction commits, one per transaction however many rows.
WAITING_CHANNEL = "methodical_circulars_waiting"
_WAITING_DDL = f"""
CREATE OR REPLACE FUNCTION {WAITING_CHANNEL}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('{WAITING_CHANNEL}', ''); RETURN NULL; END $$;
CREATE OR REPLACE TRIGGER circulars_waiting AFTER INSERT OR UPDATE OF status ON rm_circulars
  FOR EACH ROW WHEN (NEW.status = '{ISSUED}') EXECUTE FUNCTION {WAITING_CHANNEL}();
"""


def announce_waiting(conn: Connection) -> None:
    """Make the circulars table notify WAITING_CHANNEL when a circular starts waiting (a no-op when it does).

    Two processes starting at once (dispatchers on two hosts) would replace the function concurrently, and
    PostgreSQL fails the second with "tuple concurrently updated": the replacement waits for a lock of this
    transaction first."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"ddl:{WAITING_CHANNEL}"})
    conn.execute(DDL(_WAITING_DDL))


event.listen(circulars, "after_create", lambda target, connection, **kw: announce_waiting(connection))


@read_model.on(Circular.Issued)
def _issued(rows: Rows, event: Circular.Issued, position: int) -> None:
    rows.insert(circulars, dict(
        id=event.originator_id, tenant_id=event.recipient_tenant_id, union_id=event.union_id,
        decision_id=event.decision_id, member_id=event.member_id, seq=position, number=event.number,
        union_name=event.union_name, decision_number=event.decision_number, title=event.title, text=event.text,
        direction=event.direction, specialties=list(event.specialties), recipient_name=event.recipient_name,
        language=event.language, status=ISSUED, issued_on=event.issued_on, issued_at=event.timestamp,
        updated_at=event.timestamp,
    ))


def _update(rows: Rows, event: Any, **values: Any) -> None:
    rows.update(circulars, event.originator_id, updated_at=event.timestamp, **values)


@read_model.on(Circular.Delivered)
def _delivered(rows: Rows, event: Circular.Delivered, position: int) -> None:
    _update(rows, event, status=DELIVERED, delivered_at=event.timestamp, document_sha256=event.document_sha256,
            notice_sent_to=event.notice_sent_to, error=None)


@read_model.on(Circular.DeliveryFailed)
def _failed(rows: Rows, event: Circular.DeliveryFailed, position: int) -> None:
    _update(rows, event, status=FAILED, error=event.error, failed_at=event.timestamp)


@read_model.on(Circular.DeliveryRetried)
def _retried(rows: Rows, event: Circular.DeliveryRetried, position: int) -> None:
    _update(rows, event, status=ISSUED, error=None)


@read_model.on(Circular.Acknowledged)
def _acknowledged(rows: Rows, event: Circular.Acknowledged, position: int) -> None:
    person = (event.meta.get("actor") or {}).get("person_id")
    _update(rows, event, status=ACKNOWLEDGED, response=event.response, note=event.note,
            acknowledged_by=UUID(person) if person else None, acknowledged_at=event.timestamp)


# Queries

def list_inbox(conn: Connection, tenant_id: UUID, *, limit: int, after: int, status: str | None = None
               ) -> tuple[list[Any], str | None]:
    """Return a page of the circulars addressed to the tenant, oldest first, and the next cursor."""
    query = (select(circulars).where(circulars.c.tenant_id == tenant_id, circulars.c.seq > after)
             .order_by(circulars.c.seq).limit(limit + 1))
    if status is not None:
        query = query.where(circulars.c.status == status)
    return page(list(conn.execute(query)), limit)


def get_circular(conn: Connection, tenant_id: UUID, circular_id: UUID) -> Any | None:
    """Return one circular if it is addressed to the tenant, or None."""
    return conn.execute(select(circulars).where(circulars.c.id == circular_id,
                                                circulars.c.tenant_id == tenant_id)).first()


def of_decisions(conn: Connection, decision_ids: Sequence[UUID], tenant_id: UUID | None = None,
                 columns: Sequence[str] = ()) -> dict[UUID, list[Any]]:
    """Return the circulars of each decision (only the tenant's, when one is named), in issue order; `columns`:
    only these (a delivery board of a thousand members needs a few, not each circular's copy of the text)."""
    found: dict[UUID, list[Any]] = {d: [] for d in decision_ids}
    if not decision_ids:
        return found
    shown = [circulars.c[name] for name in dict.fromkeys(("decision_id", *columns))] if columns else [circulars]
    query = select(*shown).where(circulars.c.decision_id.in_(list(decision_ids))).order_by(circulars.c.seq)
    if tenant_id is not None:
        query = query.where(circulars.c.tenant_id == tenant_id)
    for row in conn.execute(query):
        found[row.decision_id].append(row)
    return found


def pending(conn: Connection, *, limit: int = 500, after: int = 0) -> list[Any]:
    """Return circulars waiting for delivery (the dispatcher's sweep), oldest first."""
    query = (select(circulars.c.id, circulars.c.seq, circulars.c.updated_at).where(circulars.c.status == ISSUED, circulars.c.seq > after)
             .order_by(circulars.c.seq).limit(limit))
    return list(conn.execute(query))
