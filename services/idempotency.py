"""Idempotency-Key on commands: a retried command is answered as the first time, not carried out again.

The key's record (domain/requests.py) is saved in the command's own transaction (services/commands.py), so a
command is carried out at most once per caller and key, even when its answer was lost on the way (a
connection cut as the database went down, say). The answer itself is kept afterwards in `idempotent_responses`
and replayed byte for byte; if it could not be kept, a retry learns that the command was carried out.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Column, DateTime, Engine, Integer, LargeBinary, Table, Text, Uuid, func, select
from sqlalchemy.dialects.postgresql import insert

from domain.base import Recorded
from domain.requests import IdempotentRequest
from projections.base import metadata

log = logging.getLogger(__name__)

responses = Table(
    "idempotent_responses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid),
    Column("status", Integer, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


@dataclass
class PendingKey:
    """A request's Idempotency-Key, recorded with the first commit the request makes."""

    caller: str
    key: str
    fingerprint: str
    recorded: bool = False

    @property
    def id(self) -> UUID:
        return IdempotentRequest.id_for(self.caller, self.key)

    def record(self, aggregates: tuple[Recorded, ...]) -> IdempotentRequest | None:
        """Return the record to save with these aggregates (None if they record nothing, or once recorded)."""
        first = next((event for aggregate in aggregates for event in aggregate.pending_events), None)
        if self.recorded or first is None:
            return None
        return IdempotentRequest.receive(first, self.caller, self.key, self.fingerprint)


# Set by the API for the request being served (each request runs in a context of its own).
pending_key: ContextVar[PendingKey | None] = ContextVar("pending_key", default=None)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    content_type: str
    body: bytes


def keep(engine: Engine, request_id: UUID, tenant_id: UUID | None, response: StoredResponse) -> None:
    """Keep a carried-out command's answer for its retries (best effort: a retry without it gets a 409)."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(responses).values(
                id=request_id, tenant_id=tenant_id, status=response.status, content_type=response.content_type,
                body=response.body).on_conflict_do_nothing(index_elements=[responses.c.id]))
    except Exception:  # noqa: BLE001 - the command is carried out whatever happens to the copy of its answer
        log.warning("could not keep the answer of an idempotent request", exc_info=True)


def kept(engine: Engine, request_id: UUID) -> StoredResponse | None:
    """Return the kept answer of a carried-out request, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(responses.c.status, responses.c.content_type, responses.c.body)
                           .where(responses.c.id == request_id)).first()
    return StoredResponse(row.status, row.content_type, bytes(row.body)) if row else None
