"""Audit: grants, recorded reads, the state of any aggregate or tenant as of a moment, export and import."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import Connection, Engine, text

from domain import policy, rules
from domain.audit import NOT_AN_AUDITOR, AuditGrant, AuditRead
from domain.base import Context, InvalidValue, NotFound
from domain.people import Person
from domain.unions import Union
from projections import audit as audit_rm
from projections.audit import json_safe
from projections.chain import EVENTS_TABLE, chain
from services.commands import Commands, Done

# 2: each line adds `event`, the stored state as readable JSON beside its byte-exact base64 (`state`).
EXPORT_FORMAT = "methodical-export/2"


class AuditCommands(Commands):
    """Grants and revokes audit access, records audit reads, and reconstructs past states."""

    get_tenant: Any
    repository: Any

    def grant_audit(self, ctx: Context, tenant_id: UUID, *, person_id: UUID, until: date) -> Done:
        """Let an auditor read the tenant's history until a day (the head grants it)."""
        self.get_tenant(tenant_id)
        auditor = self._auditor(person_id)
        grant = AuditGrant.grant(ctx, tenant_id=tenant_id, union_id=None, auditor_id=auditor.id,
                                 auditor_roles=tuple(auditor.roles) if auditor.active else (), until=until)
        return Done(grant, self.commit(grant))

    def grant_union_audit(self, ctx: Context, union_id: UUID, *, person_id: UUID, until: date) -> Done:
        """Let an auditor read a union's history until a day (its coordinating department grants it, p.22)."""
        union = self.load(union_id, Union, "union")
        coordinating = ctx.actor.tenant_id == union.coordinator_id
        ctx = policy.GRANT_UNION_AUDIT.permit(ctx, {policy.COORDINATOR_MANAGER: coordinating})
        auditor = self._auditor(person_id)
        grant = AuditGrant.grant(ctx, tenant_id=None, union_id=union.id, auditor_id=auditor.id,
                                 auditor_roles=tuple(auditor.roles) if auditor.active else (), until=until)
        return Done(grant, self.commit(grant))

    def _auditor(self, person_id: UUID) -> Person:
        """Return the person a grant names; a missing id is refused as a person who is not an auditor is, so
        the answer never tells whether another tenant's person exists."""
        try:
            return self.load(person_id, Person, "auditor")
        except NotFound:
            raise InvalidValue(NOT_AN_AUDITOR, field="person_id") from None

    def revoke_audit(self, ctx: Context, tenant_id: UUID, grant_id: UUID) -> Done:
        """Revoke an audit grant of the tenant."""
        grant = self.load(grant_id, AuditGrant, "grant", tenant_id)
        grant.revoke(ctx)
        return Done(grant, self.commit(grant))

    def note_audit_read(self, ctx: Context, *, tenant_id: UUID | None, union_id: UUID | None, what: str,
                        query: dict[str, Any]) -> int:
        """Record that the actor read the audit history; return its position."""
        return self.commit(AuditRead.note(ctx, tenant_id=tenant_id, union_id=union_id, what=what, query=query))

    def state_of(self, aggregate_id: UUID, version: int | None = None) -> dict[str, Any]:
        """Return an aggregate's state at a version (the latest by default), from snapshots and events."""
        try:
            aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:  # unknown, or a version before the first
            raise NotFound("aggregate version") from None
        return aggregate_state(aggregate)


def aggregate_state(aggregate: Any) -> dict[str, Any]:
    """Return an aggregate's public state as JSON-ready data."""
    state = {k.lstrip("_"): v for k, v in vars(aggregate).items() if k not in ("_pending_events",)}
    state["type"] = type(aggregate).__name__
    return json_safe(state)


def may_read_tenant_history(conn: Connection, caller_roles: Iterable[str], person_id: UUID | None,
                            tenant_id: UUID, today: date) -> bool:
    """Return True for the operator, or an auditor with a live grant for the tenant."""
    roles = set(caller_roles)
    if "operator" in roles:
        return True
    return rules.AUDITOR in roles and person_id is not None and audit_rm.grant_allows(
        conn, person_id, today, tenant_id=tenant_id)


# Export and import


# A JSON string as json.dumps(..., ensure_ascii=False) writes it.
_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


def export_lines(conn: Connection, tenant_id: UUID, up_to: int | None = None) -> Iterator[bytes]:
    """Yield the tenant's stored events as JSON Lines, in log order: the stored bytes as base64 (`state`, what
    import writes back and hashes cover) and, for an auditor to read, the same bytes as JSON (`event`: the
    platform's transcoder stores JSON, tagging UUIDs and times with `_type_`); `event` is null for a state that
    is not a JSON object (a store with compression or encryption).

    Each line is the text json.dumps(..., ensure_ascii=False) makes of the record, written directly: an export
    is tens of thousands of rows, read through the driver's server-side cursor in batches as plain tuples
    (SQLAlchemy's rows and the generic encoder cost several times the rest of the line).
    """
    query = (
        f"SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, a.type, "
        f"a.recorded_at FROM {EVENTS_TABLE} e JOIN rm_audit_events a ON a.position = e.notification_id "
        "WHERE a.tenant_id = %(tenant)s AND (CAST(%(up_to)s AS BIGINT) IS NULL OR e.notification_id <= %(up_to)s) "
        "ORDER BY e.notification_id"
    )
    b64encode = base64.b64encode
    with conn.connection.driver_connection.cursor(name="methodical_export", binary=True) as cursor:
        cursor.execute(query, {"tenant": tenant_id, "up_to": up_to})
        while rows := cursor.fetchmany(5000):
            for position, originator_id, version, topic, state, type_, recorded_at in rows:
                # Compact JSON of an object holds no raw line break: it is written into the line as it is stored.
                readable = state if state[:1] == b"{" and state[-1:] == b"}" and b"\n" not in state else b"null"
                yield (f'{{"position": {int(position)}, "originator_id": "{originator_id}", '
                       f'"originator_version": {int(version)}, "topic": {_json_string(topic)}, '
                       f'"type": {_json_string(type_)}, "recorded_at": "{recorded_at.isoformat()}", '
                       f'"state": "{b64encode(state).decode()}", "event": ').encode() + readable + b"}\n"


def export_tenant(engine: Engine, tenant_id: UUID) -> tuple[bytes, dict[str, Any]]:
    """Return a tenant's export (JSON Lines) and its manifest."""
    with engine.connect() as conn:
        up_to = conn.execute(text(f"SELECT max(notification_id) FROM {EVENTS_TABLE}")).scalar() or 0
        lines = list(export_lines(conn, tenant_id, up_to))
        head = conn.execute(
            chain.select().where(chain.c.position <= up_to).order_by(chain.c.position.desc()).limit(1)).first()
    body = b"".join(lines)
    positions = [json.loads(line)["position"] for line in (lines[0], lines[-1])] if lines else [None, None]
    manifest = {
        "format": EXPORT_FORMAT, "tenant_id": str(tenant_id), "count": len(lines),
        "first_position": positions[0], "last_position": positions[1], "up_to": up_to,
        "sha256": hashlib.sha256(body).hexdigest(),
        "chain_head": {"position": head.position, "link": head.link.hex()} if head else None,
    }
    return body, manifest


class ImportRefused(Exception):
    """Raised when an export cannot be imported (not empty store, or a hash that does not match)."""


def import_export(engine: Engine, body: bytes, manifest: dict[str, Any] | None = None) -> int:
    """Insert an export's stored events, at their original positions, into an empty event store."""
    if manifest is not None and hashlib.sha256(body).hexdigest() != manifest.get("sha256"):
        raise ImportRefused("the file's SHA-256 does not match the manifest")
    count = 0
    with engine.begin() as conn:
        if conn.execute(text(f"SELECT count(*) FROM {EVENTS_TABLE}")).scalar():
            raise ImportRefused("the event store is not empty")
        for line in body.splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            conn.execute(text(
                f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state, notification_id) "
                "VALUES (:id, :version, :topic, :state, :position)"), {
                "id": UUID(record["originator_id"]), "version": record["originator_version"],
                "topic": record["topic"], "state": base64.b64decode(record["state"]),
                "position": record["position"]})
            count += 1
        conn.execute(text(f"SELECT setval('{EVENTS_TABLE}_notification_id_seq', "
                          f"(SELECT coalesce(max(notification_id), 1) FROM {EVENTS_TABLE}))"))
    if manifest is not None and count != manifest.get("count"):
        raise ImportRefused(f"the manifest counts {manifest.get('count')} events, the file holds {count}")
    return count
