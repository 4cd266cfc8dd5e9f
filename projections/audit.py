"""The audit index: every event of the log with who, when, which clause and which tenant or union; and grants."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger, Column, Connection, Date, DateTime, Index, Table, Text, TypeDecorator, Uuid, and_, func, or_, select,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.audit import AuditGrant
from projections.base import ReadModel, metadata, page
from projections.rows import Rows


class SafeJSON(TypeDecorator[Any]):
    """JSONB whose values may hold UUIDs, dates and times (written as `json_safe` writes them): an event's payload
    as it is. The bulk rebuild's COPY writes them the same way (projections/bulk.py)."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return json_safe(value)


audit_events = Table(
    "rm_audit_events",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("tenant_id", Uuid),
    Column("union_id", Uuid),
    Column("aggregate_id", Uuid, nullable=False),
    Column("aggregate_type", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("type", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("actor_person_id", Uuid),
    Column("actor_role", Text),
    Column("clause", Text),
    Column("request_id", Text),
    Column("data", SafeJSON, nullable=False),
    Index("rm_audit_events_tenant", "tenant_id", "position"),
    Index("rm_audit_events_union", "union_id", "position"),
    Index("rm_audit_events_aggregate", "aggregate_id", "version"),
)

audit_grants = Table(
    "rm_audit_grants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("tenant_id", Uuid),
    Column("union_id", Uuid),
    Column("auditor_id", Uuid, nullable=False, index=True),
    Column("until", Date, nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("granted_by", Uuid),
    Column("revoked_at", DateTime(timezone=True)),
)

read_model = ReadModel("audit", [audit_events, audit_grants], appended=[audit_events])

_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}


def json_safe(value: Any) -> Any:
    """Return the value with UUIDs, dates and times as strings, ready for JSON."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    return value


def event_type(event: Any) -> tuple[str, str]:
    """Return the aggregate type and the event type, e.g. ("Unit", "Unit.LeaderChosen")."""
    qualname = type(event).__qualname__
    aggregate = qualname.split(".")[0]
    return aggregate, qualname


# The same tenants and people recur in every event's metadata: their UUIDs are made once (a bounded cache, since
# the live projector runs for months).
_uuid_of = lru_cache(maxsize=1 << 14)(UUID)


def _uuid(value: Any) -> UUID | None:
    return _uuid_of(str(value)) if value else None


# Per event class: its aggregate type, its type and its own payload fields, worked out once.
_KINDS: dict[type, tuple[str, str, tuple[str, ...]]] = {}


def _kind(cls: type, event: Any) -> tuple[str, str, tuple[str, ...]]:
    aggregate, type_ = event_type(event)
    found = _KINDS[cls] = (aggregate, type_, tuple(
        f.name for f in dataclasses.fields(event) if f.name not in _BASE_FIELDS))
    return found


def _index(rows: Rows, event: Any, position: int) -> None:
    meta = getattr(event, "meta", None) or {}
    actor = meta.get("actor") or {}
    cls = type(event)
    aggregate, type_, fields = _KINDS.get(cls) or _kind(cls, event)
    # The index row never changes once written: appended (the bulk rebuild streams it into its COPY). Its data is
    # the event's own payload fields; the column's type makes them JSON-safe.
    tenant, union, person = meta.get("tenant_id"), meta.get("union_id"), actor.get("person_id")
    rows.append(audit_events, (
        position, _uuid_of(str(tenant)) if tenant else None, _uuid_of(str(union)) if union else None,
        event.originator_id, aggregate, event.originator_version, type_, event.timestamp,
        _uuid_of(str(person)) if person else None, actor.get("role"), meta.get("clause"), meta.get("request_id"),
        {name: getattr(event, name) for name in fields},
    ))


read_model.fallback = _index


@read_model.on(AuditGrant.Granted)
def _granted(rows: Rows, event: AuditGrant.Granted, position: int) -> None:
    _index(rows, event, position)
    rows.insert(audit_grants, dict(
        id=event.originator_id, seq=position, tenant_id=event.tenant, union_id=event.union,
        auditor_id=event.auditor_id, until=event.until, granted_at=event.timestamp,
        granted_by=_uuid((event.meta.get("actor") or {}).get("person_id")),
    ))


@read_model.on(AuditGrant.Revoked)
def _revoked(rows: Rows, event: AuditGrant.Revoked, position: int) -> None:
    _index(rows, event, position)
    rows.update(audit_grants, event.originator_id, revoked_at=event.timestamp)


# Queries


def history(
    conn: Connection, *, tenant_id: UUID | None = None, union_id: UUID | None = None, after: int, limit: int,
    aggregate_id: UUID | None = None, type_: str | None = None, since: datetime | None = None,
    until: datetime | None = None, up_to: int | None = None,
) -> tuple[list[Any], str | None]:
    """Return a page of a tenant's or union's events in log order, and the next cursor.

    The cursor is the last position returned; events are only ever appended at higher positions
    once the index has processed them, so pages never skip or repeat an event.
    """
    query = select(audit_events).where(audit_events.c.position > after)
    if tenant_id is not None:
        query = query.where(audit_events.c.tenant_id == tenant_id)
    if union_id is not None:
        query = query.where(audit_events.c.union_id == union_id)
    if aggregate_id is not None:
        query = query.where(audit_events.c.aggregate_id == aggregate_id)
    if type_ is not None:
        query = query.where(or_(audit_events.c.type == type_, audit_events.c.aggregate_type == type_))
    if since is not None:
        query = query.where(audit_events.c.recorded_at >= since)
    if until is not None:
        query = query.where(audit_events.c.recorded_at < until)
    if up_to is not None:
        query = query.where(audit_events.c.position <= up_to)
    rows = list(conn.execute(query.order_by(audit_events.c.position).limit(limit + 1)))
    return page(rows, limit, key="position")


def aggregate_scope(conn: Connection, aggregate_id: UUID) -> Any | None:
    """Return the tenant and union of an aggregate (from its first event), or None if unknown."""
    return conn.execute(
        select(audit_events.c.tenant_id, audit_events.c.union_id, audit_events.c.aggregate_type)
        .where(audit_events.c.aggregate_id == aggregate_id).order_by(audit_events.c.version).limit(1)
    ).first()


def version_at(conn: Connection, aggregate_id: UUID, moment: datetime) -> int | None:
    """Return the aggregate's last version recorded at or before the moment."""
    return conn.execute(
        select(audit_events.c.version).where(audit_events.c.aggregate_id == aggregate_id,
                                             audit_events.c.recorded_at <= moment)
        .order_by(audit_events.c.version.desc()).limit(1)
    ).scalar()


def aggregates_as_of(conn: Connection, tenant_id: UUID, moment: datetime) -> list[Any]:
    """Return each aggregate of the tenant that existed at the moment, with its type and version then."""
    return list(conn.execute(
        select(audit_events.c.aggregate_id, func.min(audit_events.c.aggregate_type).label("aggregate_type"),
               func.max(audit_events.c.version).label("version"))
        .where(audit_events.c.tenant_id == tenant_id, audit_events.c.recorded_at <= moment)
        .group_by(audit_events.c.aggregate_id)
    ))


def grant_allows(conn: Connection, auditor_id: UUID, today: date, *, tenant_id: UUID | None = None,
                 union_id: UUID | None = None) -> bool:
    """Return True if a live grant lets the auditor read this tenant's or union's history."""
    scope = audit_grants.c.tenant_id == tenant_id if tenant_id else audit_grants.c.union_id == union_id
    return conn.execute(select(audit_grants.c.id).where(
        and_(scope, audit_grants.c.auditor_id == auditor_id, audit_grants.c.revoked_at.is_(None),
             audit_grants.c.until >= today)).limit(1)).first() is not None


def grants_of(conn: Connection, tenant_id: UUID) -> list[Any]:
    """Return the tenant's grants, newest first."""
    return list(conn.execute(select(audit_grants).where(audit_grants.c.tenant_id == tenant_id)
                             .order_by(audit_grants.c.seq.desc())))


def unions_joined_by(conn: Connection, tenant_id: UUID, moment: datetime) -> list[Any]:
    """Return each union the tenant had been admitted to by the moment, with the union's version then."""
    joined = select(audit_events.c.union_id).where(
        audit_events.c.union_id.is_not(None), audit_events.c.recorded_at <= moment,
        audit_events.c.data["member_tenant_id"].astext == str(tenant_id),
    )
    return list(conn.execute(
        select(audit_events.c.aggregate_id, func.min(audit_events.c.aggregate_type).label("aggregate_type"),
               func.max(audit_events.c.version).label("version"))
        .where(audit_events.c.aggregate_id.in_(joined), audit_events.c.recorded_at <= moment)
        .group_by(audit_events.c.aggregate_id)
    ))
