"""The circulars read model (each member's inbox, each decision's acknowledgements), and the rendered documents.

`rm_circulars` is a read model like the others: dropped and rebuilt from the events. The rendered
PDFs are not: `circular_documents` is written by the delivery job before it records `Delivered`
(whose event carries the document's SHA-256), and no rebuild touches it (ADR 006).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    DDL, BigInteger, Column, Connection, Date, DateTime, Index, Integer, LargeBinary, Table, Text, Uuid, bindparam,
    event, func, select, text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from domain.unions import ACKNOWLEDGED, DELIVERED, FAILED, ISSUED, Circular
from projections.base import ReadModel, insert_row, metadata, page

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

# Not a read model: the documents the delivery job rendered, kept across rebuilds.
documents = Table(
    "circular_documents",
    metadata,
    Column("circular_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("union_id", Uuid, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("filename", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("rendered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
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
    """Make the circulars table notify WAITING_CHANNEL when a circular starts waiting (a no-op when it does)."""
    conn.execute(DDL(_WAITING_DDL))


event.listen(circulars, "after_create", lambda target, connection, **kw: announce_waiting(connection))


@read_model.on(Circular.Issued)
def _issued(conn: Connection, event: Circular.Issued, position: int) -> None:
    insert_row(conn, circulars, dict(
        id=event.originator_id, tenant_id=event.recipient_tenant_id, union_id=event.union_id,
        decision_id=event.decision_id, member_id=event.member_id, seq=position, number=event.number,
        union_name=event.union_name, decision_number=event.decision_number, title=event.title, text=event.text,
        direction=event.direction, specialties=list(event.specialties), recipient_name=event.recipient_name,
        language=event.language, status=ISSUED, issued_on=event.issued_on, issued_at=event.timestamp,
        updated_at=event.timestamp,
    ))


def _update(conn: Connection, event: Any, **values: Any) -> None:
    conn.execute(circulars.update().where(circulars.c.id == event.originator_id)
                 .values(updated_at=event.timestamp, **values))


@read_model.on(Circular.Delivered)
def _delivered(conn: Connection, event: Circular.Delivered, position: int) -> None:
    _update(conn, event, status=DELIVERED, delivered_at=event.timestamp, document_sha256=event.document_sha256,
            notice_sent_to=event.notice_sent_to, error=None)


@read_model.on(Circular.DeliveryFailed)
def _failed(conn: Connection, event: Circular.DeliveryFailed, position: int) -> None:
    _update(conn, event, status=FAILED, error=event.error, failed_at=event.timestamp)


@read_model.on(Circular.DeliveryRetried)
def _retried(conn: Connection, event: Circular.DeliveryRetried, position: int) -> None:
    _update(conn, event, status=ISSUED, error=None)


@read_model.on(Circular.Acknowledged)
def _acknowledged(conn: Connection, event: Circular.Acknowledged, position: int) -> None:
    person = (event.meta.get("actor") or {}).get("person_id")
    _update(conn, event, status=ACKNOWLEDGED, response=event.response, note=event.note,
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


def of_decisions(conn: Connection, decision_ids: Sequence[UUID], tenant_id: UUID | None = None
                 ) -> dict[UUID, list[Any]]:
    """Return the circulars of each decision (only the tenant's, when one is named), in issue order."""
    found: dict[UUID, list[Any]] = {d: [] for d in decision_ids}
    if not decision_ids:
        return found
    query = select(circulars).where(circulars.c.decision_id.in_(list(decision_ids))).order_by(circulars.c.seq)
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


# Documents

# One statement, one round trip (the job runs it outside a transaction): the row, unless the circular already has one;
# then the stored row itself. Its `content` is NULL when this call stored it.
_STORE = text(
    "WITH inserted AS ("
    " INSERT INTO circular_documents (circular_id, tenant_id, union_id, content_type, filename, sha256, content)"
    " VALUES (:circular_id, :tenant_id, :union_id, :content_type, :filename, :sha256, :content)"
    " ON CONFLICT (circular_id) DO NOTHING RETURNING sha256, NULL::bytea AS content)"
    " SELECT sha256, content FROM inserted"
    " UNION ALL SELECT sha256, content FROM circular_documents"
    " WHERE circular_id = :circular_id AND NOT EXISTS (SELECT FROM inserted)"
).bindparams(bindparam("circular_id", type_=Uuid), bindparam("tenant_id", type_=Uuid),
             bindparam("union_id", type_=Uuid), bindparam("content", type_=LargeBinary))


def store_document(conn: Connection, *, circular_id: UUID, tenant_id: UUID, union_id: UUID, filename: str,
                   content: bytes, content_type: str = "application/pdf") -> tuple[str, bytes]:
    """Keep the first rendering of a circular's document; return the stored one's SHA-256 and bytes.

    A retried job renders again; the first stored document wins, so the hash a `Delivered` event
    records is always the hash of the bytes served.
    """
    sha256 = hashlib.sha256(content).hexdigest()
    row = conn.execute(_STORE, dict(circular_id=circular_id, tenant_id=tenant_id, union_id=union_id,
                                    content_type=content_type, filename=filename, sha256=sha256,
                                    content=content)).first()
    if row is None:  # another run stored it after this statement's snapshot was taken: read it now
        row = conn.execute(select(documents.c.sha256, documents.c.content)
                           .where(documents.c.circular_id == circular_id)).one()
    if row.content is None:
        return sha256, content
    return row.sha256, bytes(row.content)


def get_document(conn: Connection, tenant_id: UUID, circular_id: UUID) -> Any | None:
    """Return the circular's stored document if it is addressed to the tenant, or None."""
    return conn.execute(select(documents).where(documents.c.circular_id == circular_id,
                                                documents.c.tenant_id == tenant_id)).first()
