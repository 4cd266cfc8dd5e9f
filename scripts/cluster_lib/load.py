"""A fixed-rate client through the balancer: each operation adds a teacher (a command with an Idempotency-Key,
retried with the same key until acknowledged) and reads them back with X-Min-Position (read-your-writes, from
whichever web host and database the read lands on). Records every attempt, for the figures of a fault."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

RETRY_FOR = 90.0  # seconds a client keeps retrying one command before it gives up (a lost command)


@dataclass
class Attempt:
    at: float
    kind: str
    ok: bool
    status: int
    seconds: float


@dataclass
class Run:
    """What a load run saw."""

    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # full name -> position
    given_up: list[str] = field(default_factory=list)
    answer_lost: list[str] = field(default_factory=list)  # carried out, its answer not kept: retries get 409
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)


def _request(session: requests.Session, run: Run, kind: str, method: str, url: str, **kwargs: Any) -> Any:
    started = time.monotonic()
    try:
        response = session.request(method, url, timeout=10, **kwargs)
        status = response.status_code
    except requests.RequestException:
        response, status = None, 0
    run.record(Attempt(started, kind, 200 <= status < 300, status, time.monotonic() - started))
    return response


class Client:
    """Sends operations to `base` (the balancer, or one web host directly) as the head of one school."""

    def __init__(self, base: str, tenant: str, headers: dict[str, str]):
        self.base, self.tenant, self.headers = base, tenant, headers
        self.local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def operate(self, run: Run, name: str, read: bool = True) -> None:
        """Add one teacher (retried with the same key until acknowledged) and read them back."""
        key = str(uuid.uuid4())
        deadline = time.monotonic() + RETRY_FOR
        people = f"{self.base}/api/v1/tenants/{self.tenant}/people"
        body = {"full_name": name, "roles": ["teacher"], "subjects": ["Математика"]}
        while True:
            response = _request(self.session(), run, "command", "POST", people, json=body,
                                headers={**self.headers, "Idempotency-Key": key})
            if response is not None and response.status_code == 201:
                created = response.json()
                with run.lock:
                    run.acknowledged[name] = created["position"]
                break
            if response is not None and response.status_code == 409 and "Idempotency-Key" in response.text:
                # Carried out, but the host died before it kept the answer (services/idempotency.py): the command
                # is in the log, its answer is not; a client reads the resource instead.
                with run.lock:
                    run.answer_lost.append(name)
                return
            if response is not None and 400 <= response.status_code < 500 and response.status_code not in (409, 429):
                raise RuntimeError(f"the platform refused a valid command: {response.status_code} {response.text}")
            if time.monotonic() > deadline:
                with run.lock:
                    run.given_up.append(name)
                return
            time.sleep(0.5)
        if not read:
            return
        while time.monotonic() < deadline:
            got = _request(self.session(), run, "read", "GET", f"{people}/{created['id']}",
                           headers={**self.headers, "X-Min-Position": created["position"]})
            if got is not None and got.status_code == 200:
                return
            time.sleep(0.5)


def fixed_rate(client: Client, rate: float, seconds: float, prefix: str, run: Run | None = None,
               read: bool = True) -> Run:
    """Start `rate` operations a second for `seconds` (each in its own thread of a pool); wait for them all."""
    run = run or Run()
    interval = 1.0 / rate
    count = int(rate * seconds)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        futures = []
        for i in range(count):
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(client.operate, run, f"{prefix} {i:05d}", read))
        for future in futures:
            future.result()
    return run


def closed_loop(client: Client, concurrency: int, seconds: float, prefix: str) -> dict[str, float]:
    """As many operations as `concurrency` clients can send back to back for `seconds`: requests/s and p99."""
    run = Run()
    stop = time.monotonic() + seconds
    counter = iter(range(10**9))
    lock = threading.Lock()

    def loop() -> None:
        while time.monotonic() < stop:
            with lock:
                i = next(counter)
            client.operate(run, f"{prefix} {i:06d}")

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = sorted(a.seconds for a in run.attempts if a.ok)
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    return {"requests_per_s": round(len(latencies) / elapsed, 1), "p99_ms": round(p99 * 1000, 1),
            "median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else float("nan"),
            "failed": sum(1 for a in run.attempts if not a.ok)}


def stored_names(client: Client, position: int) -> Counter[str]:
    """Every teacher's name in the school as the platform lists it, once it has caught up with `position`."""
    names: Counter[str] = Counter()
    cursor = None
    session = requests.Session()
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        for _ in range(60):
            got = session.get(f"{client.base}/api/v1/tenants/{client.tenant}/people", params=params, timeout=10,
                              headers={**client.headers, "X-Min-Position": str(position)})
            if got.status_code == 200:
                break
            time.sleep(1)
        got.raise_for_status()
        page = got.json()
        names.update(p["full_name"] for p in page["items"])
        cursor = page.get("next_cursor") or page.get("cursor")
        if not cursor:
            return names


def figures(run: Run, client: Client, fault_at: float) -> dict[str, Any]:
    """Requests failed, duplicates, data lost and seconds to recover, from a run around a fault at `fault_at`."""
    position = max((int(p) for p in run.acknowledged.values()), default=0)
    names = stored_names(client, position)
    ours = {n: c for n, c in names.items() if n in run.acknowledged or n in run.given_up or n in run.answer_lost}
    failed = [a for a in run.attempts if not a.ok]
    after = [a for a in failed if a.at >= fault_at - 1]
    last_failure = max((a.at + a.seconds for a in after), default=fault_at)
    return {
        "requests": len(run.attempts),
        "requests_failed": len(failed),
        "commands_acknowledged": len(run.acknowledged),
        "commands_given_up": len(run.given_up),
        "carried_out_answer_lost": len(run.answer_lost),
        "answer_lost_but_in_the_log": sum(1 for n in run.answer_lost if names.get(n, 0) == 1),
        "duplicates": sum(c - 1 for c in ours.values() if c > 1),
        "data_lost": sum(1 for n in run.acknowledged if names.get(n, 0) == 0),
        "seconds_to_recover": round(max(0.0, last_failure - fault_at), 1),
        "failed_by_status": dict(Counter(f"{a.kind} {a.status or 'no answer'}" for a in failed)),
        "failed_at_s": sorted({round(a.at - fault_at) for a in failed})[:40],
    }
