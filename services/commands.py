"""What every area's commands share: loading aggregates, committing them, and what a command returns."""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import EventStore, IntegrityError

from domain.base import NotFound, Recorded
from services.idempotency import pending_key

A = TypeVar("A", bound=Recorded)


class StaleWrite(Exception):
    """Raised when another command changed the same aggregate first (optimistic concurrency)."""


@dataclass(frozen=True)
class Done:
    """What a command returns: the aggregate it changed and the log position of its last event."""

    aggregate: Any
    position: int


# Set while an aggregate of a class that is never snapshotted is loaded: its snapshot could only be missing.
_SNAPSHOTLESS: ContextVar[bool] = ContextVar("methodical_snapshotless", default=False)


class SnapshotLookup(EventStore[UUID]):
    """The snapshot store as the repository reads it: without a query while `Commands.load` loads an aggregate of a
    class that is never snapshotted (a circular, a decision, a document): one round trip of the two a load from
    the store costs."""

    def get(self, originator_id: UUID, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
        if _SNAPSHOTLESS.get():
            return iter(())
        return super().get(originator_id, **kwargs)


class Commands:
    """Mixed into the Application: each area of the platform adds its commands as a subclass."""

    repository: Any
    recorder: Any
    events: Any
    save: Any

    def load(self, aggregate_id: UUID, cls: type[A], what: str, tenant_id: UUID | None = None,
             read_only: bool = False) -> A:
        """Return the aggregate of the given class, or raise NotFound (also for another tenant's).

        `read_only`: the caller only reads it (authentication, a tenant's kind): the aggregate cache's own
        instance is returned, not a copy (a deep copy is a tenth of a command's CPU). Such an aggregate must
        never be changed: `commit` refuses it.
        """
        token = _SNAPSHOTLESS.set(self.never_snapshotted(cls))
        try:
            aggregate = self.repository.get(aggregate_id, deepcopy_from_cache=not read_only)
        except AggregateNotFoundError:
            raise NotFound(what) from None
        finally:
            _SNAPSHOTLESS.reset(token)
        if not isinstance(aggregate, cls):
            raise NotFound(what)
        if tenant_id is not None and aggregate.tenant_id != tenant_id:
            raise NotFound(what)
        return aggregate

    @classmethod
    @cache
    def never_snapshotted(cls, aggregate_class: type) -> bool:
        """Whether no aggregate loaded as `aggregate_class` can have a snapshot: neither it nor any class it could
        be (its subclasses) nor any class it is (its bases) is snapshotted."""
        snapshotted = getattr(cls, "snapshotting_intervals", None) or {}
        return not any(issubclass(aggregate_class, s) or issubclass(s, aggregate_class) for s in snapshotted)

    def cached(self, aggregate_id: UUID) -> Any | None:
        """Return the aggregate cache's own instance of the aggregate (never to be changed), or None."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return cache.get(aggregate_id)
        except KeyError:
            return None

    def commit(self, *aggregates: Recorded) -> int:
        """Save the aggregates in one transaction and return the position of the last event.

        A request's Idempotency-Key is recorded in the same transaction: all of it or none of it is stored.
        """
        for aggregate in aggregates:
            if self.cached(aggregate.id) is aggregate:
                raise RuntimeError(f"{type(aggregate).__name__} {aggregate.id} was loaded read-only: load it to "
                                   "change it")
        pending = pending_key.get()
        record = pending.record(aggregates) if pending is not None else None
        try:
            recordings = self.save(*aggregates, *([record] if record else []))
        except IntegrityError as error:
            raise StaleWrite(str(error)) from error
        if record is not None and pending is not None:
            pending.recorded = True
        if not recordings:
            return self.recorder.max_notification_id() or 0
        return recordings[-1].notification.id
