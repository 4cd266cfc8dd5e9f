"""The documents read model: methodical documents, their versions, files, routes and conclusions (p.18 – p.21)."""

from __future__ import annotations

import operator
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger, Boolean, Column, Connection, DateTime, Index, Integer, Table, Text, Uuid, and_, false, or_, select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from domain.documents import DOCUMENT_KINDS, SUBMITTED, MethodicalDocument
from domain.units import METHODICAL_COUNCIL, UNIT_KINDS
from projections import units as units_rm
from projections.base import ReadModel, metadata, page
from projections.rows import Rows

REVIEW, APPROVAL, REVISION = "review", "approval", "revision"

documents = Table(
    "rm_documents",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("clause", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("author_id", Uuid),
    Column("unit_id", Uuid),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("route", ARRAY(Uuid), nullable=False),
    # Whose turn it is: a unit's review, the approver's decision, or the author's revision after a negative one.
    Column("awaiting", Text),
    Column("awaiting_unit_id", Uuid),
    Column("drafted_at", DateTime(timezone=True), nullable=False),
    Column("submitted_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", Uuid),
    Column("reason", Text),
    Index("rm_documents_tenant_seq", "tenant_id", "seq"),
    Index("rm_documents_awaiting", "tenant_id", "awaiting"),
)

versions = Table(
    "rm_document_versions",
    metadata,
    Column("document_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("body", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("attachments", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Uuid),
)

attachments = Table(
    "rm_document_attachments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("document_id", Uuid, nullable=False, index=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("filename", Text, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("first_version", Integer, nullable=False),
)

conclusions = Table(
    "rm_document_conclusions",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("document_id", Uuid, nullable=False, index=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("unit_id", Uuid, nullable=False),
    Column("step", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("positive", Boolean, nullable=False),
    Column("remarks", Text, nullable=False),
    Column("given_by", Uuid),
    Column("given_at", DateTime(timezone=True), nullable=False),
)

read_model = ReadModel("documents", [documents, versions, attachments, conclusions])


def _person(meta: dict[str, Any]) -> UUID | None:
    person_id = (meta.get("actor") or {}).get("person_id")
    return UUID(person_id) if person_id else None


def _add_attachments(rows: Rows, document_id: UUID, tenant_id: UUID, version: int,
                     files: list[dict[str, Any]]) -> None:
    for file in files:
        file_id = UUID(file["id"])
        if rows.get(attachments, file_id) is None:  # a file kept from an earlier version is listed once
            rows.insert(attachments, dict(
                id=file_id, document_id=document_id, tenant_id=tenant_id, filename=file["filename"],
                media_type=file["media_type"], size=file["size"], sha256=file["sha256"], first_version=version,
            ))


def _document(rows: Rows, document_id: UUID) -> Any:
    found = rows.get(documents, document_id)
    if found is None:
        raise LookupError(f"no document {document_id} for a document event")
    return found


_SEQ = operator.itemgetter("seq")


def _refresh(rows: Rows, document_id: UUID, at: Any) -> None:
    """Recompute whose turn it is from the conclusions on the current version."""
    row = _document(rows, document_id)
    awaiting, unit_id = None, None
    if row["status"] == SUBMITTED:
        given_on_version = rows.find(conclusions, document_id=document_id, version=row["version"])
        if len(given_on_version) > 1:
            given_on_version.sort(key=_SEQ)  # a unit's later conclusion counts
        given = {c["unit_id"]: c["positive"] for c in given_on_version}
        awaiting = APPROVAL
        for step_unit in row["route"]:
            if given.get(step_unit) is True:
                continue
            awaiting, unit_id = (REVISION if step_unit in given else REVIEW), step_unit
            break
    rows.change(documents, row, awaiting=awaiting, awaiting_unit_id=unit_id, updated_at=at)


@read_model.on(MethodicalDocument.Drafted)
def _drafted(rows: Rows, event: MethodicalDocument.Drafted, position: int) -> None:
    rows.insert(documents, dict(
        id=event.originator_id, tenant_id=event.tenant, seq=position, kind=event.kind,
        clause=DOCUMENT_KINDS[event.kind].clause, title=event.title, author_id=event.author_id,
        unit_id=event.unit_id, status="draft", version=1, content_hash=event.content_hash, route=[],
        drafted_at=event.timestamp, updated_at=event.timestamp,
    ))
    rows.insert(versions, dict(
        document_id=event.originator_id, version=1, tenant_id=event.tenant, body=event.body,
        content_hash=event.content_hash, attachments=[], created_at=event.timestamp, created_by=event.author_id,
    ))


@read_model.on(MethodicalDocument.FileAttached)
def _attached(rows: Rows, event: MethodicalDocument.FileAttached, position: int) -> None:
    tenant_id = _document(rows, event.originator_id)["tenant_id"]
    key = (event.originator_id, event.version)
    version = rows.get(versions, key)
    if version is None:
        raise LookupError(f"no version {key} for a file attached")
    rows.change(versions, version, attachments=[*version["attachments"], event.attachment],
                content_hash=event.content_hash)
    rows.update(documents, event.originator_id, content_hash=event.content_hash, updated_at=event.timestamp)
    _add_attachments(rows, event.originator_id, tenant_id, event.version, [event.attachment])


@read_model.on(MethodicalDocument.Revised)
def _revised(rows: Rows, event: MethodicalDocument.Revised, position: int) -> None:
    tenant_id = _document(rows, event.originator_id)["tenant_id"]
    rows.insert(versions, dict(
        document_id=event.originator_id, version=event.version, tenant_id=tenant_id, body=event.body,
        content_hash=event.content_hash, attachments=list(event.attachments), created_at=event.timestamp,
        created_by=_person(event.meta),
    ))
    rows.update(documents, event.originator_id, version=event.version, content_hash=event.content_hash)
    _add_attachments(rows, event.originator_id, tenant_id, event.version, list(event.attachments))
    _refresh(rows, event.originator_id, event.timestamp)


@read_model.on(MethodicalDocument.Submitted)
def _submitted(rows: Rows, event: MethodicalDocument.Submitted, position: int) -> None:
    rows.update(documents, event.originator_id, status=SUBMITTED, route=list(event.route),
                submitted_at=event.timestamp)
    _refresh(rows, event.originator_id, event.timestamp)


@read_model.on(MethodicalDocument.ConclusionIssued)
def _concluded(rows: Rows, event: MethodicalDocument.ConclusionIssued, position: int) -> None:
    rows.insert(conclusions, dict(
        seq=position, document_id=event.originator_id, tenant_id=_document(rows, event.originator_id)["tenant_id"],
        unit_id=event.unit_id, step=event.step, version=event.version, content_hash=event.content_hash,
        positive=event.positive, remarks=event.remarks, given_by=event.given_by, given_at=event.timestamp,
    ))
    _refresh(rows, event.originator_id, event.timestamp)


@read_model.on(MethodicalDocument.Approved)
def _approved(rows: Rows, event: MethodicalDocument.Approved, position: int) -> None:
    rows.update(documents, event.originator_id, status="approved", decided_at=event.timestamp,
                decided_by=event.approved_by)
    _refresh(rows, event.originator_id, event.timestamp)


@read_model.on(MethodicalDocument.Rejected)
def _rejected(rows: Rows, event: MethodicalDocument.Rejected, position: int) -> None:
    rows.update(documents, event.originator_id, status="rejected", decided_at=event.timestamp,
                decided_by=event.rejected_by, reason=event.reason)
    _refresh(rows, event.originator_id, event.timestamp)


@read_model.on(MethodicalDocument.Withdrawn)
def _withdrawn(rows: Rows, event: MethodicalDocument.Withdrawn, position: int) -> None:
    rows.update(documents, event.originator_id, status="withdrawn", decided_at=event.timestamp,
                decided_by=_person(event.meta), reason=event.reason)
    _refresh(rows, event.originator_id, event.timestamp)


# Queries

_LEADERLESS = [code for code, kind in UNIT_KINDS.items() if not kind.has_leader]


def _waiting_for(tenant_id: UUID, person_id: UUID, roles: list[str], today: date) -> Any:
    """Documents whose next move is this person's: as a reviewing unit's voice, as approver, as author."""
    u, m = units_rm.units, units_rm.unit_members
    led = select(u.c.id).where(u.c.tenant_id == tenant_id, u.c.leader_id == person_id,
                               u.c.leader_starts_on <= today, u.c.leader_ends_on > today)
    membered = (select(m.c.unit_id).join(u, u.c.id == m.c.unit_id)
                .where(m.c.person_id == person_id, m.c.left_at.is_(None), u.c.kind.in_(_LEADERLESS)))
    approvable = [code for code, kind in DOCUMENT_KINDS.items() if set(kind.approvers) & set(roles)]
    return or_(
        and_(documents.c.awaiting == REVIEW,
             or_(documents.c.awaiting_unit_id.in_(led), documents.c.awaiting_unit_id.in_(membered))),
        and_(documents.c.awaiting == APPROVAL, documents.c.kind.in_(approvable) if approvable else false(),
             or_(documents.c.author_id.is_(None), documents.c.author_id != person_id)),
        and_(documents.c.awaiting == REVISION, documents.c.author_id == person_id),
    )


def list_documents(conn: Connection, tenant_id: UUID, *, limit: int, after: int, kind: str | None = None,
                   status: str | None = None, unit_id: UUID | None = None, author_id: UUID | None = None,
                   waiting_for: tuple[UUID, list[str], date] | None = None) -> tuple[list[Any], str | None]:
    """Return a page of the tenant's documents, filtered, and the next cursor."""
    query = (select(documents).where(documents.c.tenant_id == tenant_id, documents.c.seq > after)
             .order_by(documents.c.seq).limit(limit + 1))
    if kind is not None:
        query = query.where(documents.c.kind == kind)
    if status is not None:
        query = query.where(documents.c.status == status)
    if unit_id is not None:
        # The unit that develops it, or a unit on its route.
        query = query.where(or_(documents.c.unit_id == unit_id, documents.c.route.any(unit_id)))
    if author_id is not None:
        query = query.where(documents.c.author_id == author_id)
    if waiting_for is not None:
        query = query.where(_waiting_for(tenant_id, *waiting_for))
    return page(list(conn.execute(query)), limit)


def get_document(conn: Connection, tenant_id: UUID, document_id: UUID) -> Any | None:
    """Return one of the tenant's documents, or None."""
    return conn.execute(select(documents).where(documents.c.id == document_id,
                                                documents.c.tenant_id == tenant_id)).first()


def versions_of(conn: Connection, document_id: UUID) -> list[Any]:
    """Return every version of a document, oldest first."""
    return list(conn.execute(select(versions).where(versions.c.document_id == document_id)
                             .order_by(versions.c.version)))


def conclusions_of(conn: Connection, document_ids: list[UUID]) -> dict[UUID, list[Any]]:
    """Return every conclusion given on each document, in the order given."""
    found: dict[UUID, list[Any]] = {did: [] for did in document_ids}
    for row in conn.execute(select(conclusions).where(conclusions.c.document_id.in_(document_ids))
                            .order_by(conclusions.c.seq)):
        found[row.document_id].append(row)
    return found


def get_attachment(conn: Connection, tenant_id: UUID, document_id: UUID, attachment_id: UUID) -> Any | None:
    """Return a file of one of the tenant's documents, or None."""
    return conn.execute(select(attachments).where(
        attachments.c.id == attachment_id, attachments.c.document_id == document_id,
        attachments.c.tenant_id == tenant_id)).first()


def councils_of(conn: Connection, tenant_id: UUID) -> list[UUID]:
    """Return the ids of the organization's methodical councils (p.19: all relevant councils conclude)."""
    u = units_rm.units
    return list(conn.execute(select(u.c.id).where(u.c.tenant_id == tenant_id, u.c.kind == METHODICAL_COUNCIL))
                .scalars())
