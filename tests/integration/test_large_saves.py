"""A save is stored whole, in one transaction, in log order: a small one by one call of the append function, under
the table lock; a large one (a decision to hundreds of member organizations, p.34) by several statements, through
any connection (services/persistence.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from domain.base import Actor, Context
from domain.requests import IdempotentRequest
from services import persistence


@dataclass
class _CommandEvent:
    meta: dict[str, Any]
    timestamp: datetime
    originator_id: uuid.UUID


def _records(n: int, caller: str | None = None) -> list[IdempotentRequest]:
    ctx = Context(Actor.operator(), request_id=uuid.uuid4().hex, now=datetime.now(timezone.utc), ids=uuid.uuid4)
    tenant_id = uuid.uuid4()
    first = _CommandEvent(ctx.meta(tenant_id, None), ctx.at, tenant_id)
    caller = caller or uuid.uuid4().hex
    return [IdempotentRequest.receive(first, caller, f"key-{i}", "f" * 64) for i in range(n)]


def test_a_save_larger_than_one_statement_is_stored_whole_and_in_order(platform: Any) -> None:
    records = _records(1500)
    stored_events = [platform.mapper.to_stored_event(r.pending_events[0]) for r in records]
    assert len(list(persistence.chunks(stored_events))) > 1  # the split path, not eventsourcing's own
    recordings = platform.save(*records)
    positions = [r.notification.id for r in recordings]
    assert len(positions) == 1500
    assert positions == sorted(positions) and len(set(positions)) == 1500
    stored = platform.recorder.select_notifications(start=positions[0], limit=1500, stop=positions[-1])
    assert [n.originator_id for n in stored if n.originator_id in {r.id for r in records}] == [r.id for r in records]


def test_a_large_save_that_conflicts_late_stores_nothing(platform: Any) -> None:
    caller = uuid.uuid4().hex
    records = _records(1200, caller)
    platform.save(_records(1200, caller)[-1])  # the last one exists already: the save's last statement conflicts
    before = platform.recorder.max_notification_id()
    with pytest.raises(IntegrityError):
        platform.save(*records)
    assert platform.recorder.max_notification_id() == before
    for record in records[:-1]:
        assert platform.recorder.select_events(record.id) == []


def test_chunks_keep_order_and_bound_each_run() -> None:
    class Stored:
        def __init__(self, size: int):
            self.state = b"x" * size

    events = [Stored(s) for s in (10, 60, 40, 100, 5, 200, 1)]
    runs = list(persistence.chunks(events, limit=100))
    assert [e for run in runs for e in run] == events
    assert all(sum(len(e.state) for e in run) <= 100 or len(run) == 1 for run in runs)
    assert [len(run) for run in runs] == [2, 1, 1, 1, 1, 1]


def test_a_small_save_is_one_call_that_waits_for_the_table_lock(platform: Any, settings: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A save under CHUNK_BYTES is one statement (the append function, its own transaction), which takes the table
    lock before it inserts: while another transaction holds that lock, the save waits, and lands after it."""
    import threading

    import psycopg

    records = _records(3)
    sent: list[bytes] = []
    original = psycopg.Cursor.execute

    def counting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is saver:
            sent.append(query if isinstance(query, bytes) else str(query).encode())
        return original(self, query, *args, **kwargs)

    result: list[Any] = []
    saver = threading.Thread(target=lambda: result.append(platform.save(*records)))
    with psycopg.connect(settings.database_url) as holder:
        before = platform.recorder.max_notification_id() or 0
        holder.execute("LOCK TABLE methodical_events IN EXCLUSIVE MODE")
        monkeypatch.setattr(psycopg.Cursor, "execute", counting)
        saver.start()
        saver.join(timeout=1.0)
        assert saver.is_alive(), "the save did not wait for the table lock"
        waiting = holder.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                 " AND query LIKE '%%methodical_events_append%%'").fetchone()[0]
        assert waiting == 1
        holder.commit()
        saver.join(timeout=10)
    assert not saver.is_alive()
    positions = [r.notification.id for r in result[0]]
    assert positions[0] > before and positions == list(range(positions[0], positions[0] + 3))
    assert len(sent) == 1 and b"methodical_events_append" in sent[0]
    assert [n.originator_id for n in platform.recorder.select_notifications(start=positions[0], limit=3)] == \
        [r.id for r in records]


def test_a_small_save_that_conflicts_stores_nothing(platform: Any) -> None:
    caller = uuid.uuid4().hex
    platform.save(_records(3, caller)[-1])
    before = platform.recorder.max_notification_id()
    with pytest.raises(IntegrityError):
        platform.save(*_records(3, caller))
    assert platform.recorder.max_notification_id() == before
