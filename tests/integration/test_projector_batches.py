"""The live projector's batches (events already read from the log, applied in one transaction) keep exactly-once."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from sqlalchemy import BigInteger, Column, MetaData, Table, select, text

from projections.base import ReadModel, ReadModelProjection, ReadModelView

own = MetaData()
applied = Table("test_batch_applied", own, Column("position", BigInteger, primary_key=True))


class Boom(Exception):
    pass


def make(engine: Any, name: str, fail_at: int | None = None) -> tuple[ReadModel, ReadModelProjection]:
    def record(rows: Any, event: Any, position: int) -> None:
        if position == fail_at:
            raise Boom(position)
        rows.insert(applied, dict(position=position))

    read_model = ReadModel(name, [applied], fallback=record)
    return read_model, ReadModelProjection(ReadModelView(engine, [read_model]))


def positions(engine: Any) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(applied.c.position).order_by(applied.c.position)).scalars())


@pytest.fixture
def clean(engine: Any) -> Any:
    own.create_all(engine)
    with engine.begin() as conn:
        conn.execute(applied.delete())
        conn.execute(text("DELETE FROM rm_tracking WHERE read_model LIKE 'test_batch%'"))
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rm_tracking WHERE read_model LIKE 'test_batch%'"))
    own.drop_all(engine)


def batch(*numbers: int) -> list[tuple[Any, Tracking]]:
    return [(object(), Tracking("app", n)) for n in numbers]


def test_a_batch_applies_only_what_the_read_model_has_not_reached_and_only_once(engine, clean):
    read_model, projection = make(engine, "test_batch_once")
    with engine.begin() as conn:
        # As if a rebuild had covered up to 11.
        conn.execute(text("INSERT INTO rm_tracking VALUES ('test_batch_once', 'app', 11)"))

    projection.process_events(batch(10, 11, 12, 13))
    projection.process_events(batch(10, 11, 12, 13))  # delivered again (a restart): nothing twice

    assert positions(engine) == [12, 13]
    with engine.connect() as conn:
        assert read_model.position(conn) == 13


def test_a_failure_in_a_batch_rolls_the_whole_batch_back(engine, clean):
    read_model, projection = make(engine, "test_batch_fail", fail_at=22)

    with pytest.raises(Boom):
        projection.process_events(batch(20, 21, 22, 23))

    assert positions(engine) == []
    with engine.connect() as conn:
        assert read_model.position(conn) == 0
    _, fixed = make(engine, "test_batch_fail")
    fixed.process_events(batch(20, 21, 22, 23))
    assert positions(engine) == [20, 21, 22, 23]


# The audit index and the chain leave their writes to the end of a batch (projections.rows.defer): a batch
# writes what event-by-event processing writes, and the chain it links verifies.

@pytest.fixture
def own_store(servers: dict[str, str]) -> Any:
    """An event store and read models of their own, so the chain holds only this test's events."""
    from projections.base import make_engine
    from projections.registry import create_schema
    from services.applications import Platform
    from services.config import Settings
    from support import fresh_database

    with fresh_database(servers["DATABASE_URL"], "test_batch_chain") as url:
        settings = Settings(database_url=url, redis_url=servers["REDIS_URL"], operator_token="unused")
        app = Platform(env=settings.eventsourcing_env())
        engine = make_engine(settings.sqlalchemy_url(), 2)
        create_schema(engine)
        try:
            yield app, engine
        finally:
            engine.dispose()
            app.close()


def test_a_batch_indexes_and_links_what_one_event_at_a_time_does(own_store):
    import random
    import sys
    from pathlib import Path

    from projections import audit
    from projections.chain import Chainer, checkpoints, chain, verify
    from projections.runner import stored_events

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from benchmarks import country
    from test_bulk_rebuild import small_region

    app, engine = own_store
    seed = random.randrange(1 << 30)
    restore = country._seed_ids(random.Random(seed))
    try:
        country.Builder(app, random.Random(seed)).region(small_region(seed))
    finally:
        restore()
    events = [(event, Tracking(app.name, position)) for position, event in stored_events(app)]
    assert len(events) > 100

    def written() -> dict[str, list[tuple[Any, ...]]]:
        with engine.connect() as conn:
            return {
                "index": [tuple(r) for r in conn.execute(select(audit.audit_events).order_by("position"))],
                "chain": [tuple(r) for r in conn.execute(select(chain).order_by("position"))],
                "checkpoints": [(r.position, bytes(r.head)) for r in conn.execute(
                    select(checkpoints).order_by("position"))],
            }

    def projection() -> ReadModelProjection:
        return ReadModelProjection(ReadModelView(engine, [audit.read_model, Chainer(interval=7).read_model]))

    one_by_one = projection()
    for event, tracking in events:
        one_by_one.process_event(event, tracking)
    expected = written()
    assert verify(engine)["ok"]

    with engine.begin() as conn:
        for table in (audit.audit_events, audit.audit_grants, chain, checkpoints):
            conn.execute(table.delete())
        conn.execute(text("DELETE FROM rm_tracking"))
    batched, rng, start = projection(), random.Random(seed), 0
    while start < len(events):
        size = rng.randint(2, 40)
        batched.process_events(events[start:start + size])
        start += size

    assert written() == expected
    assert len(expected["index"]) == len(expected["chain"]) == len(events) and expected["checkpoints"]
    report = verify(engine)
    assert report["ok"] and report["events_checked"] == len(events)


class _Log:
    """A subscription whose events arrive at given moments, as eventsourcing's LISTEN/NOTIFY one hands them over:
    `_buffered` sees what has been read from the log and not yet taken."""

    def __init__(self, gaps: list[float]):
        import queue

        self.subscription = self
        self._notifications: list[Any] = []
        self._notifications_index = 0
        self._notifications_queue: Any = queue.Queue()
        self.arrived: dict[int, float] = {}
        self.gaps = gaps

    def feed(self) -> None:
        import time

        for position, gap in enumerate(self.gaps, start=1):
            time.sleep(gap)
            self.arrived[position] = time.monotonic()
            self._notifications_queue.put((object(), Tracking("app", position)))
        time.sleep(0.5)  # the log ends (the runner stops) well after the last batch has been applied
        self._notifications_queue.put(None)

    def __iter__(self) -> Any:
        while (item := self._notifications_queue.get()) is not None:
            yield item


def _batches(gaps: list[float], linger: float) -> tuple[list[list[int]], _Log, dict[int, float]]:
    import threading
    import time
    import types

    from projections.runner import BatchingRunner

    log, batches, applied_at = _Log(gaps), [], {}

    class Recording:
        def process_events(self, batch: list[tuple[Any, Tracking]]) -> None:
            batches.append([t.notification_id for _, t in batch])
            for _, t in batch:
                applied_at[t.notification_id] = time.monotonic()

    runner = types.SimpleNamespace(linger=linger)
    feeder = threading.Thread(target=log.feed)
    feeder.start()
    BatchingRunner._process_events_loop(log, Recording(), threading.Event(), lambda: runner)
    feeder.join()
    return batches, log, applied_at


def test_a_quiet_log_is_followed_event_by_event_without_waiting():
    # Events a little more than a third of the linger apart: too few would share a batch to be worth the wait.
    batches, log, applied_at = _batches([0.0] + [0.05] * 9, linger=0.1)
    assert batches == [[p] for p in range(1, 11)]
    # Nothing lingered: each event applied long before the linger would have ended.
    assert all(applied_at[p] - log.arrived[p] < 0.09 for p in applied_at)


def test_under_load_a_batch_lingers_for_the_events_that_follow():
    batches, log, applied_at = _batches([0.0] + [0.004] * 149, linger=0.1)
    assert [p for batch in batches for p in batch] == list(range(1, 151))
    # The first events find the projector idle and are applied one by one; once the moving average of their gaps
    # says several arrive per linger, they are gathered, about three to a transaction.
    assert batches[0] == [1]
    late = [b for b in batches if b[0] > 100]
    assert sum(len(b) for b in late) / len(late) >= 2, batches
    # A batch waits for more only up to the linger from its first event (with the scheduler's slack)...
    for batch in batches[1:]:
        assert applied_at[batch[0]] - log.arrived[batch[0]] < 0.1 + 0.15
    # ...and once the average gap is a few milliseconds, for about two of them, not the whole linger: the events
    # of the last batches were applied in a fraction of the linger's 100 ms.
    waits = sorted(applied_at[b[0]] - log.arrived[b[0]] for b in late)
    assert waits[len(waits) // 2] < 0.05, waits


def test_without_linger_only_events_already_read_share_a_batch():
    batches, _, _ = _batches([0.0] + [0.03] * 9, linger=0.0)
    assert batches == [[p] for p in range(1, 11)]
