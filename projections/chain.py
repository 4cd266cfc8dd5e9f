"""Tamper evidence: a hash chain over the event log, kept apart from the events, with signed checkpoints.

Each link hashes the previous link, the position and the stored event's canonical bytes (its
aggregate id, version, topic and stored state, exactly as PostgreSQL holds them). `verify` recomputes
the chain from the stored events and names the first position where they disagree with it.
The chain is not a read model: a rebuild never drops it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import BigInteger, Column, Connection, DateTime, Engine, LargeBinary, Table, func, select, text

from projections.base import Follower, insert_row, metadata
from projections.rows import defer

# The platform's Application's name (services.config.APPLICATION_NAME, which a test holds equal) and its events table.
APPLICATION_NAME = "methodical"
EVENTS_TABLE = f"{APPLICATION_NAME}_events"
GENESIS = b"\x00" * 32

chain = Table(
    "audit_chain",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("event_digest", LargeBinary, nullable=False),
    Column("link", LargeBinary, nullable=False),
)

checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("head", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("signature", LargeBinary),
    Column("public_key", LargeBinary),
)


_LINK = text(
    "INSERT INTO audit_chain (position, event_digest, link)"
    " SELECT e.notification_id, d.digest,"
    "  sha256(coalesce((SELECT c.link FROM audit_chain c ORDER BY c.position DESC LIMIT 1),"
    "                  '\\x" + "00" * 32 + "'::bytea) || int8send(e.notification_id) || d.digest)"
    f" FROM {EVENTS_TABLE} e,"
    "  LATERAL (SELECT sha256(uuid_send(e.originator_id) || int8send(e.originator_version)"
    "   || int4send(octet_length(convert_to(coalesce(e.topic, ''), 'UTF8'))) || convert_to(coalesce(e.topic, ''), 'UTF8')"
    "   || int8send(octet_length(e.state)::bigint) || e.state) AS digest) d"
    " WHERE e.notification_id = :position"
    " RETURNING link"
)
# A batch's stored rows, for linking them in this process (`canonical` builds the same bytes as _LINK does).
_STORED = text(
    f"SELECT notification_id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE}"
    " WHERE notification_id = ANY(CAST(:positions AS bigint[])) ORDER BY notification_id"
)


def canonical(originator_id: Any, version: int, topic: str, state: bytes) -> bytes:
    """Return the canonical bytes of a stored event: length-prefixed, so no two events share them."""
    topic_bytes = (topic or "").encode()
    return b"".join([
        originator_id.bytes, int(version).to_bytes(8, "big"),
        len(topic_bytes).to_bytes(4, "big"), topic_bytes,
        len(state).to_bytes(8, "big"), bytes(state),
    ])


def next_link(previous: bytes, position: int, event_digest: bytes) -> bytes:
    """Return the chain link after `previous` for the event at `position`."""
    return hashlib.sha256(previous + int(position).to_bytes(8, "big") + event_digest).digest()


def checkpoint_message(position: int, head: bytes, created_at: datetime) -> bytes:
    """Return the bytes a checkpoint's signature covers."""
    return f"methodical-chain|{position}|{head.hex()}|{created_at.astimezone(timezone.utc).isoformat()}".encode()


def load_signing_key(value: str | None) -> Ed25519PrivateKey | None:
    """Return the Ed25519 key from AUDIT_SIGNING_KEY (PEM, or base64 of the 32 raw bytes), or None."""
    if not value:
        return None
    if "BEGIN" in value:
        key = serialization.load_pem_private_key(value.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("AUDIT_SIGNING_KEY is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(value))


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class Chainer:
    """Appends one link per event, and a checkpoint every `interval` events."""

    signing_key: Ed25519PrivateKey | None = None
    interval: int = 1000
    read_model: Follower = field(init=False)
    _last_checkpoint: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.read_model = Follower("chain", [chain, checkpoints], follow=self._link)

    def _link(self, conn: Connection, event: Any, position: int) -> None:
        if defer(conn, self._link_many, position):
            return
        # One statement: the stored row's canonical bytes (as `canonical` builds them), hashed and linked
        # to the previous link, computed by PostgreSQL where the row is.
        link = conn.execute(_LINK, {"position": position}).scalar()
        if link is None:  # pragma: no cover - the event was just delivered from this table
            raise RuntimeError(f"event at position {position} vanished before it was chained")
        self._maybe_checkpoint(conn, position, bytes(link))

    def _link_many(self, conn: Connection, positions: list[int]) -> None:
        """Link a batch's events (in position order) with three statements: read their stored rows and the
        chain's head, hash and link them here, insert the links."""
        rows = conn.execute(_STORED, {"positions": positions}).all()
        if [row.notification_id for row in rows] != sorted(positions):  # pragma: no cover - just delivered
            raise RuntimeError(f"events at positions {sorted(set(positions) - {r.notification_id for r in rows})}"
                               " vanished before they were chained")
        head = conn.execute(select(chain.c.link).order_by(chain.c.position.desc()).limit(1)).scalar()
        link = bytes(head) if head is not None else GENESIS
        links = []
        for row in rows:
            digest = hashlib.sha256(canonical(row.originator_id, row.originator_version, row.topic,
                                              row.state)).digest()
            link = next_link(link, row.notification_id, digest)
            links.append({"position": row.notification_id, "event_digest": digest, "link": link})
        insert_row(conn, chain, links)
        for made in links:
            self._maybe_checkpoint(conn, made["position"], made["link"])

    def _maybe_checkpoint(self, conn: Connection, position: int, link: bytes) -> None:
        if self._last_checkpoint is None:
            self._last_checkpoint = conn.execute(select(func.max(checkpoints.c.position))).scalar() or 0
        if position - self._last_checkpoint >= self.interval:
            self.checkpoint(conn, position, link)

    def checkpoint(self, conn: Connection, position: int | None = None, head: bytes | None = None) -> dict[str, Any]:
        """Record (and sign, with a key) a checkpoint at the chain's head, or at the given link; once per position."""
        if position is None or head is None:
            last = conn.execute(select(chain).order_by(chain.c.position.desc()).limit(1)).first()
            if last is None:
                raise ValueError("the chain is empty")
            position, head = last.position, last.link
        existing = conn.execute(select(checkpoints).where(checkpoints.c.position == position)).first()
        if existing is not None:
            return checkpoint_json(existing.position, existing.head, existing.created_at, existing.signature,
                                   existing.public_key)
        created_at = datetime.now(timezone.utc)
        signature = public = None
        if self.signing_key is not None:
            signature = self.signing_key.sign(checkpoint_message(position, head, created_at))
            public = _raw_public(self.signing_key)
        conn.execute(checkpoints.insert().values(position=position, head=head, created_at=created_at,
                                                 signature=signature, public_key=public))
        self._last_checkpoint = position
        return checkpoint_json(position, head, created_at, signature, public)


def checkpoint_json(position: int, head: bytes, created_at: datetime, signature: bytes | None,
                    public_key: bytes | None) -> dict[str, Any]:
    """Return a checkpoint as exported."""
    return {
        "position": position, "head": head.hex(), "created_at": created_at.isoformat(),
        "signature": base64.b64encode(signature).decode() if signature else None,
        "public_key": base64.b64encode(public_key).decode() if public_key else None,
    }


def list_checkpoints(conn: Connection) -> list[dict[str, Any]]:
    """Return every checkpoint, oldest first."""
    return [checkpoint_json(r.position, r.head, r.created_at, r.signature, r.public_key)
            for r in conn.execute(select(checkpoints).order_by(checkpoints.c.position))]


def chain_head(conn: Connection) -> dict[str, Any] | None:
    """Return the chain's last position and link."""
    last = conn.execute(select(chain.c.position, chain.c.link).order_by(chain.c.position.desc()).limit(1)).first()
    return {"position": last.position, "head": last.link.hex()} if last else None


def _stored_events(conn: Connection) -> Iterator[Any]:
    result = conn.execution_options(yield_per=5000).execute(text(
        f"SELECT notification_id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
        "ORDER BY notification_id"))
    yield from result


def verify(engine: Engine) -> dict[str, Any]:
    """Recompute the chain from the stored events; name the first position where they disagree with it."""
    report: dict[str, Any] = {"ok": True, "events_checked": 0, "first_bad_position": None, "problem": None}

    def bad(position: int, problem: str) -> dict[str, Any]:
        report.update(ok=False, first_bad_position=position, problem=problem)
        return report

    with engine.connect() as events_conn, engine.connect() as chain_conn:
        links = chain_conn.execution_options(yield_per=5000).execute(
            select(chain.c.position, chain.c.event_digest, chain.c.link).order_by(chain.c.position))
        link_iter = iter(links)
        stored = next(link_iter, None)
        previous = GENESIS
        computed_at: dict[int, bytes] = {}
        marks = {r.position: r for r in chain_conn.execute(select(checkpoints))}
        last_position = 0
        for event in _stored_events(events_conn):
            position = event.notification_id
            if stored is not None and stored.position < position:
                return bad(stored.position, "an event the chain recorded is missing from the log (deleted)")
            if stored is None:
                break  # events after the chain's head: not yet chained
            if stored.position > position:
                return bad(position, "the log holds an event the chain never recorded (inserted)")
            digest = hashlib.sha256(canonical(event.originator_id, event.originator_version, event.topic,
                                              event.state)).digest()
            if digest != stored.event_digest:
                return bad(position, "the stored event differs from the one chained (changed or swapped)")
            previous = next_link(previous, position, digest)
            if previous != stored.link:
                return bad(position, "the chain's link does not follow from the links before it")
            if position in marks:
                computed_at[position] = previous
            report["events_checked"] += 1
            last_position = position
            stored = next(link_iter, None)
        if stored is not None:
            return bad(stored.position, "the log ends before the chain does (truncated)")
        for position, mark in sorted(marks.items()):
            if position > last_position:
                return bad(position, f"the log ends at {last_position}, before the checkpoint at {position} (truncated)")
            if computed_at.get(position) != mark.head:
                return bad(position, "the recomputed chain disagrees with a checkpoint")
            if mark.signature is not None:
                try:
                    Ed25519PublicKey.from_public_bytes(mark.public_key).verify(
                        mark.signature, checkpoint_message(position, mark.head, mark.created_at))
                except InvalidSignature:
                    return bad(position, "a checkpoint's signature does not verify")
        report["chain_head"] = previous.hex()
        report["last_position"] = last_position
        report["checkpoints_verified"] = len(marks)
    return report
