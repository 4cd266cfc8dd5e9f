"""A command request carried out at most once: the record of a client's Idempotency-Key.

The record's id derives from who called and the key, and it is saved in the same transaction as the command's
own events: a retry of a command that was carried out (its answer lost on the way, say) finds the record and
is answered without carrying the command out again; two requests with the same key carry it out once.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID, uuid5

from domain.base import InvalidValue, Recorded

_NAMESPACE = UUID("0b6a7f0e-5c55-4c1e-9d37-583000000002")
MAX_KEY_LENGTH = 200


def check_key(key: str) -> str:
    """Return the key if it is 1 to 200 visible ASCII characters, or refuse it."""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable() or key.strip() != key:
        raise InvalidValue("Idempotency-Key must be 1 to %(most)s visible ASCII characters.", most=MAX_KEY_LENGTH,
                           field="Idempotency-Key")
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Return what identifies a request's content: its method, path and body."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# A client's retry key is how the platform answers a request sent twice, not a decision of the Order.
NOT_A_DECISION = "the record of a client's Idempotency-Key, how a retried request is answered: not a decision"


class IdempotentRequest(Recorded):
    """One caller's request under one Idempotency-Key, carried out."""

    class Received(Recorded.Created):
        """Version 2 names what the command recorded first (its aggregate's id and kind: the person added, say), so
        that a retry whose answer was not kept is told what to read. Version 1 did not name it."""

        class_version = 2
        caller: str
        fingerprint: str
        tenant: UUID | None
        subject: UUID | None
        subject_kind: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["subject"] = None
            state["subject_kind"] = None

    def __init__(self, caller: str, fingerprint: str, tenant: UUID | None, meta: dict[str, Any],
                 subject: UUID | None = None, subject_kind: str | None = None):
        self.caller = caller
        self.fingerprint = fingerprint
        self.tenant = tenant
        self.subject = subject
        self.subject_kind = subject_kind

    @property
    def tenant_id(self) -> UUID | None:
        return self.tenant

    @staticmethod
    def id_for(caller: str, key: str) -> UUID:
        """Return the id of the caller's record of this key."""
        return uuid5(_NAMESPACE, f"{caller}\n{key}")

    @classmethod
    def receive(cls, command_event: Any, caller: str, key: str, request_fingerprint: str) -> IdempotentRequest:
        """Record that the caller's request under this key is carried out, with the context (tenant or union,
        actor, request) of the command's first event; no clause of the Order is involved."""
        meta = {**command_event.meta, "clause": None, "no_clause": NOT_A_DECISION}
        tenant = UUID(meta["tenant_id"]) if meta.get("tenant_id") else None
        return cls._create(
            cls.Received,
            id=cls.id_for(caller, check_key(key)),
            timestamp=command_event.timestamp,
            meta=meta,
            caller=caller,
            fingerprint=request_fingerprint,
            tenant=tenant,
            subject=command_event.originator_id,
            subject_kind=type(command_event).__qualname__.split(".")[0],
        )
