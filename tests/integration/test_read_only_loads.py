"""Aggregates loaded only to be read are the aggregate cache's own instances, and can never be saved."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from domain.base import Actor, Context
from domain.tenants import Tenant
from support import valid_bin

QUARTERS = [["09-01", "10-26"], ["11-03", "12-29"], ["01-08", "03-19"], ["03-30", "05-25"]]


def test_a_read_only_tenant_is_not_copied_and_is_refused_at_commit(platform: Any) -> None:
    ctx = Context(Actor.operator(), uuid.uuid4().hex, datetime.now(timezone.utc), ids=uuid.uuid4)
    tenant_id = platform.register_tenant(ctx, name="Мектеп", kind="school", bin=valid_bin(), region="Атырау").aggregate.id

    read = platform.get_tenant(tenant_id)
    assert platform.get_tenant(tenant_id) is read  # the cache's instance, not a copy
    to_change = platform.load(tenant_id, Tenant, "tenant")
    assert to_change is not read and to_change.version == read.version

    before = platform.recorder.max_notification_id()
    read.set_calendar(ctx, QUARTERS)
    with pytest.raises(RuntimeError, match="read-only"):
        platform.commit(read)
    assert platform.recorder.max_notification_id() == before

    to_change.set_calendar(ctx, QUARTERS)
    platform.commit(to_change)  # a loaded copy is saved as always
    assert platform.recorder.max_notification_id() > before


def test_a_cached_tenant_is_read_without_asking_the_store_and_a_calendar_is_set_on_a_loaded_one(platform: Any) -> None:
    ctx = Context(Actor.operator(), uuid.uuid4().hex, datetime.now(timezone.utc), ids=uuid.uuid4)
    tenant_id = platform.register_tenant(ctx, name="Колледж", kind="tvet_college", bin=valid_bin(),
                                         region="Атырау").aggregate.id
    platform.get_tenant(tenant_id)  # now in the aggregate cache
    selects: list[Any] = []
    select = platform.recorder.select_events
    platform.recorder.select_events = lambda *args, **kwargs: selects.append(args) or select(*args, **kwargs)
    try:
        assert platform.get_tenant(tenant_id).kind == "tvet_college"
        assert selects == []  # its registration never changes: no round trip

        platform.set_calendar(ctx, tenant_id, QUARTERS)  # loads the tenant itself, with its newest events
        assert selects
        assert platform.load(tenant_id, Tenant, "tenant").quarters == QUARTERS
    finally:
        del platform.recorder.select_events
