"""Audit: grants that let an auditor read a tenant's or union's decision history, and the record of each read.

Auditors are outside the Rules (domain §1): the platform's own rules, no clause of the Order.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from domain import rules
from domain.base import AUDIT_ACCESS, Conflict, Context, InvalidValue, Recorded
from domain.days import check_within

NOT_AN_AUDITOR = "Access is granted to a person in the auditor role: person_id must name one."
GRANT_YEARS = 5  # how far ahead a grant may end


class AuditGrant(Recorded):
    """A head's (or coordinator's) permission for one auditor to read the history, until a date."""

    class Granted(Recorded.Created):
        tenant: UUID | None
        union: UUID | None
        auditor_id: UUID
        until: date

    class Revoked(Recorded.Event):
        def apply(self, grant: AuditGrant) -> None:
            grant.revoked_at = self.timestamp

    def __init__(self, tenant: UUID | None, union: UUID | None, auditor_id: UUID, until: date,
                 meta: dict[str, Any]):
        self.tenant = tenant
        self.union = union
        self.auditor_id = auditor_id
        self.until = until
        self.revoked_at = None

    @property
    def tenant_id(self) -> UUID | None:
        return self.tenant

    def meta_scope(self) -> dict[str, Any]:
        return {"union_id": str(self.union)} if self.union else {}

    @classmethod
    def grant(cls, ctx: Context, *, tenant_id: UUID | None, union_id: UUID | None, auditor_id: UUID,
              auditor_roles: tuple[str, ...], until: date) -> AuditGrant:
        """Grant an auditor read access to a tenant's (or union's) history until the given day."""
        if rules.AUDITOR not in auditor_roles:
            raise InvalidValue(NOT_AN_AUDITOR, field="person_id")
        if until <= ctx.today:
            raise InvalidValue("A grant ends on a future day.", field="until")
        # Access to a history is granted for an engagement, not for ever: at most five years ahead.
        check_within(until, "until", ctx.today, back=0, ahead=GRANT_YEARS, what="A grant's last day")
        scope = {"union_id": union_id} if union_id else {}
        return cls._create(
            cls.Granted, id=ctx.new_id(), timestamp=ctx.at, meta=ctx.meta(tenant_id, None, AUDIT_ACCESS, **scope),
            tenant=tenant_id, union=union_id, auditor_id=auditor_id, until=until,
        )

    def revoke(self, ctx: Context) -> None:
        """Revoke the grant; it stops working at once."""
        if self.revoked_at is not None:
            raise Conflict("This grant is already revoked.")
        self.record(self.Revoked, ctx, None, AUDIT_ACCESS)


class AuditRead(Recorded):
    """The record that someone read the audit history: who looked at what, when."""

    class Looked(Recorded.Created):
        tenant: UUID | None
        union: UUID | None
        what: str
        query: dict[str, Any]

    def __init__(self, tenant: UUID | None, union: UUID | None, what: str, query: dict[str, Any],
                 meta: dict[str, Any]):
        self.tenant = tenant
        self.union = union
        self.what = what
        self.query = query

    @property
    def tenant_id(self) -> UUID | None:
        return self.tenant

    @classmethod
    def note(cls, ctx: Context, *, tenant_id: UUID | None, union_id: UUID | None, what: str,
             query: dict[str, Any]) -> AuditRead:
        """Record one audit read (of a tenant, a union, or, by the operator, the whole platform)."""
        scope: dict[str, Any] = {"union_id": union_id} if union_id else {}
        if tenant_id is None and union_id is None:
            scope["scope"] = "platform"  # the operator's platform-wide reads
        return cls._create(
            cls.Looked, id=ctx.new_id(), timestamp=ctx.at, meta=ctx.meta(tenant_id, None, AUDIT_ACCESS, **scope),
            tenant=tenant_id, union=union_id, what=what, query={k: str(v) for k, v in query.items()},
        )
