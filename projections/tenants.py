"""The tenants read model: every registered organization and authority."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, Connection, DateTime, Table, Text, Uuid, select
from sqlalchemy.dialects.postgresql import JSONB

from domain.tenants import Tenant, quarter_pairs
from projections.base import ReadModel, metadata, page
from projections.rows import Rows

tenants = Table(
    "rm_tenants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False, index=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("bin", Text, nullable=False, unique=True),
    Column("region", Text, nullable=False),
    Column("parent_id", Uuid, index=True),
    Column("language", Text, nullable=False),
    Column("email", Text),
    # The academic quarters set by the organization (p.25); NULL means the national default.
    Column("quarters", JSONB),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

read_model = ReadModel("tenants", [tenants])


@read_model.on(Tenant.Registered)
def _registered(rows: Rows, event: Tenant.Registered, position: int) -> None:
    rows.insert(tenants, dict(
        id=event.originator_id, tenant_id=event.originator_id, seq=position, name=event.name, kind=event.kind,
        bin=event.bin, region=event.region, parent_id=event.parent_id, language=event.language, email=event.email,
        registered_at=event.timestamp, updated_at=event.timestamp,
    ))


@read_model.on(Tenant.CalendarSet)
def _calendar(rows: Rows, event: Tenant.CalendarSet, position: int) -> None:
    rows.update(tenants, event.originator_id, quarters=quarter_pairs(event.quarters), updated_at=event.timestamp)


def list_tenants(
    conn: Connection, *, only: UUID | None, limit: int, after: int, kind: str | None = None
) -> tuple[list[Any], str | None]:
    """Return a page of tenants (only one tenant's row when `only` is given) and the next cursor."""
    query = select(tenants).where(tenants.c.seq > after).order_by(tenants.c.seq).limit(limit + 1)
    if only is not None:
        query = query.where(tenants.c.tenant_id == only)
    if kind is not None:
        query = query.where(tenants.c.kind == kind)
    return page(list(conn.execute(query)), limit)


def get_tenant(conn: Connection, tenant_id: UUID) -> Any | None:
    """Return one tenant's row, or None."""
    return conn.execute(select(tenants).where(tenants.c.tenant_id == tenant_id)).first()
