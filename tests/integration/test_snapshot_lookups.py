"""Loading from the store asks for a snapshot only where one can exist: Tenant, Person and Unit are snapshotted."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from domain.base import Actor, Context, Recorded
from domain.people import Person
from domain.tenants import BinRegistration, Tenant
from domain.unions import Circular
from services.applications import Platform
from support import valid_bin

CALENDARS = ([["09-01", "10-26"], ["11-03", "12-29"], ["01-08", "03-19"], ["03-30", "05-25"]],
             [["09-02", "10-26"], ["11-03", "12-29"], ["01-08", "03-19"], ["03-30", "05-25"]])


def test_an_aggregate_never_snapshotted_is_loaded_without_a_snapshot_lookup(platform: Any, settings: Any,
                                                                             monkeypatch: Any) -> None:
    ctx = Context(Actor.operator(), uuid.uuid4().hex, datetime.now(timezone.utc), ids=uuid.uuid4)
    tenant = platform.register_tenant(ctx, name="Мектеп", kind="school", bin=valid_bin(), region="Атырау").aggregate
    for n in range(55):  # past the interval of 50: the tenant has a snapshot
        loaded = platform.load(tenant.id, Tenant, "tenant")
        loaded.set_calendar(ctx, CALENDARS[n % 2])
        platform.commit(loaded)

    cold = Platform(env=settings.eventsourcing_env(create_tables=False))  # an empty aggregate cache
    try:
        lookups: list[Any] = []
        select = cold.snapshots.recorder.select_events
        monkeypatch.setattr(cold.snapshots.recorder, "select_events",
                            lambda *a, **kw: lookups.append(a) or select(*a, **kw))

        registration = cold.load(BinRegistration.id_for(tenant.bin), BinRegistration, "registration")
        assert registration.claimed_by == tenant.id and lookups == []

        again = cold.load(tenant.id, Tenant, "tenant")
        assert len(lookups) == 1 and again.version == 56 and again.quarters == CALENDARS[0]
        assert [s.originator_version for s in platform.snapshots.get(tenant.id)] == [50]  # what it started from

        # Loaded as a class a snapshotted one could be, the lookup is made.
        assert cold.load(uuid.UUID(int=tenant.id.int), Recorded, "aggregate").id == tenant.id
    finally:
        cold.close()
    assert len(lookups) == 1  # the Recorded load found the tenant in the cache: no lookup at all
    assert Platform.never_snapshotted(Circular) and Platform.never_snapshotted(BinRegistration)
    assert not any(Platform.never_snapshotted(c) for c in (Tenant, Person, Recorded))
