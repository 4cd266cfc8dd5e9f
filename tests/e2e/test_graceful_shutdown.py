"""End to end: the platform's processes under load, scraped for metrics, then stopped with SIGTERM as a supervisor
stops them: every command answered 201 is in the event log, and no delivery job is left half-done."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import Http, free_port, fresh_database, valid_bin

ROOT = Path(__file__).resolve().parents[2]
WELDING = "0911000"


@pytest.fixture
def platform_env(servers: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    with fresh_database(servers["DATABASE_URL"], "e2e_stop") as url:
        env = {
            **os.environ, "DATABASE_URL": url, "REDIS_URL": servers["REDIS_URL"],
            "OPERATOR_TOKEN": secrets.token_urlsafe(24), "PORT": str(free_port()), "WEB_WORKERS": "2",
            "METRICS_PORT": str(free_port()), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
            "DELIVERY_QUEUE": f"circulars-stop-{secrets.token_hex(4)}", "LOG_LEVEL": "INFO",
        }
        subprocess.run([sys.executable, "-m", "services.cli", "migrate"], env=env, check=True, cwd=ROOT,
                       capture_output=True)
        yield env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def _scrape(port: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _union_with_chair(http: Http, operator: str) -> tuple[str, str]:
    """A regional department, two colleges of one specialty, their union and its chair's token."""
    def tenant(kind: str, parent: str | None = None) -> str:
        body = {"name": f"Ұйым {secrets.token_hex(2)}", "kind": kind, "bin": valid_bin(), "region": "Алматы",
                "language": "kk", **({"parent_id": parent} if parent else {})}
        return http.ok("POST", "/tenants", operator, body, 201)["id"]

    def head(tid: str) -> tuple[str, str]:
        person = http.ok("POST", f"/tenants/{tid}/people", operator, {"full_name": "Басшы", "roles": ["head"]}, 201)
        token = http.ok("POST", f"/tenants/{tid}/people/{person['id']}/tokens", operator, None, 201)["token"]
        return person["id"], token

    region = tenant("regional_department")
    _, region_head = head(region)
    first, second = tenant("tvet_college", region), tenant("tvet_college", region)
    chair_id, chair = head(first)
    union = http.ok("POST", "/unions", chair, {"name": "ОӘБ", "sector": "Өнеркәсіп", "specialties": [WELDING],
                                                 "coordinator_id": region}, 201)["id"]
    http.ok("POST", f"/unions/{union}/members", region_head, {"tenant_id": second, "specialties": [WELDING]}, 201)
    http.ok("POST", f"/unions/{union}/chair", region_head,
            {"person_id": chair_id, "council_decision": {"number": "1", "date": "2025-09-01"}})
    return union, chair


def test_sigterm_during_load_loses_no_acknowledged_command_and_leaves_no_job_half_done(
        platform_env: dict[str, str], tmp_path: Path) -> None:
    env = platform_env
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    web = _start([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")], env,
                 logs_dir / "web.log")
    others = [_start([sys.executable, "-m", "services.cli", name], env, logs_dir / f"{name}-{i}.log")
              for i, name in enumerate(["projector", "dispatcher", "worker", "worker"])]
    processes = [web, *others]
    http = Http(f"http://127.0.0.1:{env['PORT']}/api/v1")
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if http.call("GET", "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (logs_dir / "web.log").read_text()[-2000:]
            time.sleep(0.2)
        operator = env["OPERATOR_TOKEN"]
        union, chair = _union_with_chair(http, operator)
        school = http.ok("POST", "/tenants", operator, {"name": "Мектеп", "kind": "school", "bin": valid_bin(),
                                                       "region": "Алматы"}, 201)["id"]
        head_id = http.ok("POST", f"/tenants/{school}/people", operator, {"full_name": "Директор", "roles": ["head"]},
                          201)["id"]
        head = http.ok("POST", f"/tenants/{school}/people/{head_id}/tokens", operator, None, 201)["token"]

        acknowledged: list[tuple[str, str]] = []  # (kind, aggregate id) of every 201
        lock = threading.Lock()
        stop_load = threading.Event()

        def load(kind: str, index: int) -> None:
            n = 0
            while not stop_load.is_set() and n < 400:
                n += 1
                try:
                    if kind == "person":
                        status, body = http.call("POST", f"/tenants/{school}/people", head,
                                                 {"full_name": f"Мұғалім {index}-{n}", "roles": ["teacher"]})
                    else:
                        status, body = http.call("POST", f"/unions/{union}/decisions", chair, {
                            "title": f"Ұсыным {index}-{n}", "text": "Енгізу ұсынылады.", "direction": "p.33.4",
                            "specialties": [WELDING]})
                except OSError:
                    time.sleep(0.05)  # refused: the web process has stopped listening
                    continue
                if status == 201:
                    with lock:
                        acknowledged.append((kind, body["id"]))

        threads = [threading.Thread(target=load, args=(kind, i), daemon=True)
                   for i, kind in enumerate(["person", "person", "person", "decision"])]
        for thread in threads:
            thread.start()
        time.sleep(1.5)

        # During the load, /metrics (the master's own port) sums both workers' requests: at least those answered
        # before the scrape began.
        with lock:
            people_so_far = sum(1 for kind, _ in acknowledged if kind == "person")
        scrape_started = time.monotonic()
        samples = _scrape(env["METRICS_PORT"])
        scrape_seconds = time.monotonic() - scrape_started
        posted = sum(v for labels, v in samples["methodical_http_request_duration_seconds_count"]
                     if labels["route"] == "/api/v1/tenants/<uuid:tid>/people" and labels["status"] == "201")
        assert posted >= people_so_far > 0
        assert any(labels["kind"] == "Person.Joined" for labels, _ in samples["methodical_events_appended_total"])

        # A supervisor's stop: SIGTERM to every process, the web first, while the load goes on.
        time.sleep(0.5)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in processes]
        stop_load.set()
        for thread in threads:
            thread.join(timeout=30)
        assert codes == [0] * len(processes), [(p.args, c) for p, c in zip(processes, codes)]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    kinds = {kind for kind, _ in acknowledged}
    assert kinds == {"person", "decision"}, acknowledged[:5]
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        in_log = {row[0] for row in conn.execute("SELECT DISTINCT originator_id::text FROM methodical_events")}
        lost = [(kind, aid) for kind, aid in acknowledged if aid not in in_log]
        assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged commands are not in the log: {lost[:3]}"
        # No job half-done: every circular whose document a job stored has its Delivered event, and rq holds no job
        # as started (a worker stopped in the middle of one would leave it there).
        stored = {row[0] for row in conn.execute("SELECT circular_id::text FROM circular_documents")}
        topics = {}
        for originator, topic in conn.execute("SELECT originator_id::text, topic FROM methodical_events "
                                              "WHERE topic LIKE '%Circular.%'"):
            topics.setdefault(originator, set()).add(topic.rsplit(".", 1)[-1])
    delivered = {cid for cid, names in topics.items() if "Delivered" in names}
    assert stored <= delivered, stored - delivered
    from redis import Redis
    from rq import Queue
    from rq.registry import StartedJobRegistry
    from rq.serializers import JSONSerializer

    queue = Queue(env["DELIVERY_QUEUE"], connection=Redis.from_url(env["REDIS_URL"]), serializer=JSONSerializer)
    assert StartedJobRegistry(queue=queue).get_job_ids() == []
    # The JSON log lines: one per request, each with its request id.
    lines = [json.loads(line) for line in (logs_dir / "web.log").read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert len(requests) >= len(acknowledged) and all(line["request_id"] for line in requests)
    print(json.dumps({"test": "graceful_shutdown", "acknowledged": len(acknowledged),
                      "decisions": sum(1 for k, _ in acknowledged if k == "decision"), "lost": 0,
                      "circulars_delivered": len(delivered), "circulars_issued": len(topics),
                      "request_lines": len(requests), "scrape_seconds_under_load": round(scrape_seconds, 3)}))
    queue.empty()
