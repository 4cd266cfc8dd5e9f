"""Concurrency: conflicting commands on one aggregate, and commands that record several events at once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any
from uuid import UUID

from support import Tour, valid_bin


def _at_once(app: Any, count: int, request: Any) -> list[int]:
    """Send `count` requests from as many threads, released together; return their statuses."""
    barrier = threading.Barrier(count)
    statuses: list[int] = [0] * count

    def worker(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        statuses[i] = request(client, i).status_code

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def test_32_concurrent_approvals_of_one_plan_give_one_success_and_409_for_the_rest(app, tour: Tour, client, platform):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    teachers = [tour.person(school["id"], head, ["teacher"], ["Биология"])[0] for _ in range(3)]
    unit = client.post(f"/api/v1/tenants/{school['id']}/units", headers=head, json={
        "kind": "methodical_association", "name": "МО биологов", "subject": "Биология",
        "member_ids": [t["id"] for t in teachers]}).get_json()
    deputy = tour.person(school["id"], head, ["deputy_head"])[1]
    plan = client.post(f"/api/v1/tenants/{school['id']}/units/{unit['id']}/plans", headers=deputy, json={
        "academic_year": "2026-2027", "items": [{"direction": "p.7.3", "title": "Открытые уроки"}]})
    assert plan.status_code == 201, plan.get_json()

    url = f"/api/v1/tenants/{school['id']}/units/{unit['id']}/plans/2026-2027/approval"
    statuses = _at_once(app, 32, lambda c, i: c.post(url, headers=head))
    counts = Counter(statuses)
    assert counts == {200: 1, 409: 31}
    approvals = [e for e in platform.events.get(UUID(plan.get_json()["id"])) if type(e).__name__ == "Approved"]
    assert len(approvals) == 1
    print(json.dumps({"test": "concurrent_conflicting_commands", "requests": 32, "succeeded": counts[200],
                      "conflicts": counts[409]}))


def test_concurrent_registrations_of_one_bin_write_all_or_none_of_their_events(app, platform, settings):
    bin_ = valid_bin()
    operator = {"Authorization": f"Bearer {settings.operator_token}"}
    statuses = _at_once(app, 20, lambda c, i: c.post("/api/v1/tenants", headers=operator, json={
        "name": f"Мектеп {i}", "kind": "school", "bin": bin_, "region": "Шымкент"}))
    assert Counter(statuses) == {201: 1, 409: 19}
    # The registration records two events (the tenant and its BIN claim) in one transaction:
    # the losers left neither behind.
    registered = 0
    for notification in platform.recorder.select_notifications(start=1, limit=1_000_000):
        if notification.topic == "domain.tenants:Tenant.Registered" and bin_.encode() in notification.state:
            registered += 1
    assert registered == 1
