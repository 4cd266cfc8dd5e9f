"""The projector: one runner per read model, each following the event log by LISTEN/NOTIFY."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ExitStack
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.projection import BaseProjectionRunner
from sqlalchemy import Engine

from projections import bulk
from projections.base import Follower, ReadModel, ReadModelProjection, ReadModelView, stale_read_models
from projections.chain import Chainer
from projections.registry import READ_MODELS, create_schema

log = logging.getLogger(__name__)

__all__ = ["READ_MODELS", "Projector", "migrate_read_models", "rebuild_read_model", "rebuild_read_models",
           "stored_events"]


# Events applied in one transaction at most, when that many are already read from the log.
BATCH_LIMIT = 200
# The weight of the latest gap between two events' arrivals in their moving average.
GAP_WEIGHT = 0.05
# A lingering batch waits for about this many more arrivals (their average gap each): less than the linger, since
# a batch lingers only while three gaps are.
LINGER_GAPS = 2


def _buffered(subscription: Any) -> bool:
    """Whether the subscription holds events already read from the log (so taking the next one does not wait)."""
    inner = getattr(subscription, "subscription", None)
    try:
        return (inner._notifications_index < len(inner._notifications)  # noqa: SLF001
                or not inner._notifications_queue.empty())  # noqa: SLF001
    except AttributeError:  # another kind of subscription: one event at a time
        return False


def _wait_buffered(subscription: Any, timeout: float) -> bool:
    """Wait up to `timeout` seconds until the subscription's queue holds events read from the log (the caller has
    just found none taken from it and not yet handed over); whether it does."""
    if timeout <= 0:
        return False
    try:
        pending = subscription.subscription._notifications_queue  # noqa: SLF001
        with pending.not_empty:  # the queue's own condition, notified by each put
            return bool(pending.not_empty.wait_for(pending._qsize, timeout))  # noqa: SLF001
    except AttributeError:  # another kind of subscription: no waiting
        return False


class BatchingRunner(BaseProjectionRunner[Any]):
    """A projection runner that, while a backlog waits, hands the projection several events at once.

    The batch closes as soon as the next event is not already read from the log, so a quiet log is followed
    event by event. Under load, while events arrive at least three times per `linger` seconds (the average gap
    between arrivals, over the last twenty or so), the batch waits from its first event for about two more
    arrivals (two average gaps), never longer than `linger`: several events share one transaction (its tracking,
    its audit index and chain statements, its commit) instead of each paying for its own, at the price of a few
    milliseconds more until they show. At lower rates nothing waits: a batch of one or two would save little and
    cost every event the wait.
    """

    def __init__(self, *args: Any, linger: float = 0.0, **kwargs: Any) -> None:
        self.linger = linger
        super().__init__(*args, **kwargs)

    @staticmethod
    def _process_events_loop(subscription: Any, projection: Any, is_stopping: threading.Event, runner: Any) -> None:
        found = runner()  # a weak reference, as eventsourcing passes it
        linger = found.linger if found is not None else 0.0
        del found
        batch: list[Any] = []
        first = 0.0
        previous = time.monotonic()
        gap = linger  # the moving average of the time between two events' arrivals, each counted up to `linger`
        try:
            for domain_event, tracking in subscription:
                now = time.monotonic()
                gap += GAP_WEIGHT * (min(now - previous, linger) - gap)
                previous = now
                if not batch:
                    first = now
                batch.append((domain_event, tracking))
                if len(batch) < BATCH_LIMIT and _buffered(subscription):
                    continue
                if linger and len(batch) < BATCH_LIMIT and 3 * gap < linger:
                    if _wait_buffered(subscription, first + LINGER_GAPS * gap - time.monotonic()):
                        continue
                projection.process_events(batch)
                batch = []
        except BaseException as error:  # noqa: BLE001 - handed to the runner, as eventsourcing's loop does
            found = runner()
            if found is not None:
                found._thread_error = error  # noqa: SLF001
        finally:
            is_stopping.set()


class Projector:
    """Follows the event log (LISTEN/NOTIFY) and keeps read models and the tamper-evidence chain up to date.

    By default one runner carries every read model, so each event is read and decoded once and the
    process holds few connections; `groups` splits them over several runners (one per read model, say)
    when they need to scale apart.
    """

    def __init__(
        self, application_class: type[Application[Any]], env: Mapping[str, str], engine: Engine,
        read_models: Sequence[ReadModel] | None = None, chainer: Chainer | None = None,
        groups: Sequence[Sequence[Follower]] | None = None, linger: float = 0.0,
    ):
        self._stack = ExitStack()
        self.runners: list[BaseProjectionRunner[Any]] = []
        if groups is None:
            chosen: list[Follower] = list(READ_MODELS.values()) if read_models is None else list(read_models)
            # The chain follows the log like a read model, but no rebuild ever drops it.
            groups = [chosen + [(chainer or Chainer()).read_model]]
        for group in groups:
            view = ReadModelView(engine, group)
            runner = BatchingRunner(
                projection=ReadModelProjection(view),
                application_class=application_class,
                tracking_recorder=view,
                topics=(),
                linger=linger,
                # Each runner's Application reads the log through a small pool of its own.
                env={**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"},
            )
            self.runners.append(self._stack.enter_context(runner))

    def run_until(self, stop: threading.Event) -> None:
        """Block until asked to stop or a runner fails; re-raise a runner's error."""
        with self._stack:
            while not stop.is_set():
                for runner in self.runners:
                    if runner.is_interrupted.is_set():
                        runner.run_forever(timeout=0)  # re-raises the runner's error
                        raise RuntimeError("a projection runner stopped")
                stop.wait(0.5)


def stored_events(app: Application[Any], batch: int = 2000) -> Iterator[tuple[int, Any]]:
    """Yield every event of the application's log in order, with its position."""
    start = 1
    while True:
        notifications = app.recorder.select_notifications(start=start, limit=batch)
        if not notifications:
            return
        for notification in notifications:
            yield notification.id, app.mapper.to_domain_event(notification)
        start = notifications[-1].id + 1


def rebuild_read_model(app: Application[Any], engine: Engine, name: str) -> int:
    """Rebuild one read model from the whole event log beside its live tables; return the events replayed."""
    return rebuild_read_models(app, engine, [name])[name]


def rebuild_read_models(app: Application[Any], engine: Engine, names: Sequence[str] | None = None) -> dict[str, int]:
    """Rebuild the named read models (default: all) in one pass over the log, beside the live tables, and swap them
    in (projections/bulk.py, ADR 025); return the events each replayed."""
    return bulk.rebuild_all(app, engine, names)


def migrate_read_models(app: Application[Any], engine: Engine) -> dict[str, int]:
    """Create missing tables, and rebuild every read model whose table definitions changed; return the replays."""
    create_schema(engine)
    stale = [rm.name for rm in stale_read_models(engine, READ_MODELS.values())]
    return rebuild_read_models(app, engine, stale) if stale else {}
