"""scripts/cluster up | load | fail HOST | down | all: test hosts on one machine, faults under load, figures.

Each command prints one JSON line per figure. `up` also starts a reaper that runs `down` after CLUSTER_TTL seconds
(default 1800), so a forgotten cluster stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from scripts.cluster_lib import engines, load
from scripts.cluster_lib.hosts import (HOSTS, PG_BIN, ROOT, STATE, VAR, build_network, in_host, kill_host, leftovers,
                                       load_state, save_state, set_link, sh, tear_down)

LB = f"http://{HOSTS['lb'].front_ip}"
FAULTS = ("web1", "web2", "work1", "work2", "work1-delivery", "work2-delivery", "ctl", "web1-db", "primary", "redis")


def emit(**figure: Any) -> None:
    print(json.dumps(figure, ensure_ascii=False), flush=True)


def missing() -> str | None:
    """Why the cluster cannot be built here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth links)"
    for tool in ("/usr/sbin/haproxy", "/usr/sbin/pgbouncer", "/usr/bin/redis-server", str(PG_BIN / "postgres"),
                 "/usr/sbin/ip"):
        if not Path(tool).exists() and not shutil.which(Path(tool).name):
            return f"{tool} is not installed (apt-get install haproxy pgbouncer redis-server postgresql-15 iproute2)"
    return None


def up(args: argparse.Namespace) -> int:
    reason = missing()
    if reason:
        print(f"scripts/cluster: {reason}", file=sys.stderr)
        return 2
    if STATE.exists():
        print("scripts/cluster: a cluster is already up (scripts/cluster down removes it)", file=sys.stderr)
        return 1
    started = time.monotonic()
    state = load_state()
    state["id"] = uuid.uuid4().hex
    state["operator_token"] = engines.new_operator_token()
    state["ttl_until"] = time.time() + args.ttl
    save_state(state)
    try:
        build_network(state)
        engines.make_primary(state, "db1")
        engines.make_standby(state, "db2", "db1")
        engines.require_standby("db1", "db2")
        engines.start_redis(state)
        engines.start_pgbouncer(state, "db1")
        engines.migrate(state)
        for host in ("web1", "web2"):
            engines.start_web(state, host)
        for host in ("ctl1", "ctl2"):
            engines.start_ctl(state, host)
        for host in ("work1", "work2"):
            engines.start_worker(state, host)
        engines.start_lb(state)
        wait_in_rotation(["web1", "web2"], 90)
        state.update(school(state))
        save_state(state)
    except BaseException:
        print("scripts/cluster: up failed; removing what it made (logs were in var/cluster/logs)", file=sys.stderr)
        _show_logs()
        tear_down()
        raise
    subprocess.Popen([sys.executable, "-m", "scripts.cluster_lib.main", "reap", str(args.ttl), state["id"]], cwd=ROOT,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    emit(figure="cluster_up", hosts=len(HOSTS), seconds=round(time.monotonic() - started, 1),
         balancer=LB, stops_by_itself_after_s=args.ttl)
    return 0


def _show_logs() -> None:
    for log in sorted((VAR / "logs").glob("*.log")) if (VAR / "logs").exists() else []:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        if tail:
            print(f"--- {log.name}\n" + "\n".join(tail), file=sys.stderr)


def in_rotation() -> dict[str, str]:
    """Each web host's state in the balancer (UP, DOWN, MAINT)."""
    stat = engines.haproxy_command("show stat")
    found = {}
    for line in stat.splitlines():
        cells = line.split(",")
        if len(cells) > 17 and cells[0] == "web_hosts" and cells[1] in ("web1", "web2"):
            found[cells[1]] = cells[17]
    return found


def wait_in_rotation(hosts: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = in_rotation()
        if all(seen.get(h) == "UP" for h in hosts):
            return
        time.sleep(0.3)
    raise RuntimeError(f"web hosts not in the balancer's rotation after {timeout:.0f} s: {in_rotation()}")


def school(state: dict[str, Any]) -> dict[str, Any]:
    """Register a school and its head through the balancer; return what the load needs."""
    import random

    from domain.tenants import bin_check_digit

    while (digit := bin_check_digit(first := f"08014{random.randrange(10**5, 10**6)}")) is None:
        pass
    valid_bin = lambda: first + str(digit)  # noqa: E731
    op = {"Authorization": f"Bearer {state['operator_token']}"}
    session = requests.Session()
    tenant = session.post(f"{LB}/api/v1/tenants", headers=op, timeout=30, json={
        "name": "Кластер мектебі", "kind": "school", "bin": valid_bin(), "region": "Астана"})
    tenant.raise_for_status()
    tid = tenant.json()["id"]
    head = session.post(f"{LB}/api/v1/tenants/{tid}/people", headers=op, timeout=30,
                        json={"full_name": "Директор", "roles": ["head"]})
    head.raise_for_status()
    token = session.post(f"{LB}/api/v1/tenants/{tid}/people/{head.json()['id']}/tokens", headers=op, timeout=30)
    token.raise_for_status()
    return {"tenant": tid, "head_token": token.json()["token"]}


def client(state: dict[str, Any], base: str = LB) -> load.Client:
    return load.Client(base, state["tenant"], {"Authorization": f"Bearer {state['head_token']}"})


def require_up() -> dict[str, Any]:
    if not STATE.exists() or "tenant" not in load_state():
        raise SystemExit("scripts/cluster: no cluster is up (scripts/cluster up)")
    return load_state()


def load_command(args: argparse.Namespace) -> int:
    state = require_up()
    seconds, concurrency = args.seconds, args.concurrency
    direct = load.closed_loop(client(state, f"http://{HOSTS['web1'].front_ip}:8000"), concurrency, seconds, "direct")
    emit(figure="direct_to_one_web_host", concurrency=concurrency, seconds=seconds, **direct)
    two = load.closed_loop(client(state), concurrency, seconds, "two")
    emit(figure="balancer_two_web_hosts", concurrency=concurrency, seconds=seconds, **two)
    engines.haproxy_command("disable server web_hosts/web2")
    try:
        one = load.closed_loop(client(state), concurrency, seconds, "one")
    finally:
        engines.haproxy_command("enable server web_hosts/web2")
    emit(figure="balancer_one_web_host", concurrency=concurrency, seconds=seconds, **one)
    emit(figure="balancer_overhead", two_hosts_vs_direct=round(1 - two["requests_per_s"] / direct["requests_per_s"], 3),
         one_host_vs_direct=round(1 - one["requests_per_s"] / direct["requests_per_s"], 3), target="<= 0.15")
    return 0


def projector_holder() -> str | None:
    """The control host whose projector holds the lock."""
    rows = engines.psql(None, "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE "
                        "'methodical projector pid %'", db="methodical", at=load_state()["primary"])
    state = load_state()
    for line in rows.splitlines():
        pid = int(line.rsplit(" ", 1)[1])
        for name, entry in state["processes"].items():
            if name.startswith("projector-") and _descends(pid, entry["pid"]):
                return entry["host"]
    return None


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def fail(args: argparse.Namespace) -> int:
    state = require_up()
    fault = args.host
    if fault in ("work1-delivery", "work2-delivery"):
        emit(figure=f"fault_{fault}", **fail_worker_mid_delivery(state, fault.split("-")[0], args.members))
        return 0
    if fault not in FAULTS:
        print(f"scripts/cluster: fail what? one of {', '.join(FAULTS)}", file=sys.stderr)
        return 2
    run = load.Run()
    c = client(state)
    window = args.seconds if fault != "primary" else max(args.seconds, 75)
    loader = threading.Thread(target=load.fixed_rate, args=(c, args.rate, window, f"fail-{fault}-{int(time.time())}",
                                                           run))
    loader.start()
    time.sleep(5)
    fault_at = time.monotonic()
    extra: dict[str, Any] = {}
    try:
        if fault in ("web1", "web2", "work1", "work2"):
            kill_host(fault)
            for side in ("front", "back"):
                if HOSTS[fault].front or side == "back":
                    set_link(fault, side, False)
            if fault.startswith("web"):
                extra["balancer_dropped_it_after_s"] = _until(lambda: in_rotation().get(fault) != "UP", 15)
            time.sleep(10)
            for side in ("front", "back"):
                if HOSTS[fault].front or side == "back":
                    set_link(fault, side, True)
            engines.restart_host(state, fault)
        elif fault == "ctl":
            holder = projector_holder()
            extra["killed"] = holder
            kill_host(holder)
            set_link(holder, "back", False)
            other = "ctl2" if holder == "ctl1" else "ctl1"
            extra["other_host_took_over_after_s"] = _until(lambda: projector_holder() == other, 30)
            time.sleep(3)
            set_link(holder, "back", True)
            engines.restart_host(state, holder)
        elif fault == "web1-db":
            set_link("web1", "back", False)
            extra["balancer_dropped_it_after_s"] = _until(lambda: in_rotation().get("web1") != "UP", 15)
            # What web1 itself answers meanwhile, asked directly (the balancer no longer sends it anything).
            try:
                direct = requests.get(f"http://{HOSTS['web1'].front_ip}:8000/api/v1/tenants/{state['tenant']}/people",
                                      headers=c.headers, params={"limit": 1}, timeout=15)
                extra["web1_answers_meanwhile"] = f"{direct.status_code} Retry-After: {direct.headers.get('Retry-After')}"
            except requests.RequestException as error:
                extra["web1_answers_meanwhile"] = f"no answer ({type(error).__name__})"
            time.sleep(max(0.0, 10 - (time.monotonic() - fault_at)))
            set_link("web1", "back", True)
            extra["back_in_rotation_after_link_up_s"] = _until(lambda: in_rotation().get("web1") == "UP", 30)
        elif fault == "primary":
            old, new = state["primary"], state["standby"]
            kill_host(old)
            set_link(old, "back", False)
            # PostgreSQL's own failover, as an operator (or a Patroni) does it: promote, then point PgBouncer at it.
            time.sleep(2)  # the time an operator's check takes to call the primary dead
            engines.promote(new)
            engines.repoint_pgbouncer(state, new)
            extra["promoted_after_s"] = round(time.monotonic() - fault_at, 1)
            state["primary"], state["standby"] = new, old
            save_state(state)
        elif fault == "redis":
            kill_host("redis")
            time.sleep(10)
            engines.restart_host(state, "redis")
    finally:
        loader.join()  # the load goes on to its end either way
    emit(figure=f"fault_{fault}", rate=args.rate, seconds=window, **extra, **load.figures(run, c, fault_at))
    if fault == "primary":
        emit(figure="chain_after_failover", **verify_chain(state))
        # The old primary comes back as the new one's standby (a fresh copy), and commits wait for it again.
        set_link(old, "back", True)
        sh("rm", "-rf", str(VAR / old))
        engines.make_standby(state, old, new)
        engines.require_standby(new, old)
        emit(figure="standby_rebuilt", host=old, primary=new)
    return 0


WELDING = "0911000"


def union_with_members(state: dict[str, Any], members: int) -> tuple[str, dict[str, str]]:
    """A regional department, `members` colleges in one union for welding (the first's head chairs it), made
    through the balancer as the operator and the department's head would; return the union and the chair."""
    import random

    from domain.tenants import bin_check_digit

    session = requests.Session()
    op = {"Authorization": f"Bearer {state['operator_token']}"}
    used: set[str] = set()

    def new_bin() -> str:
        while True:
            first = f"{random.randrange(0, 100):02d}{random.randrange(1, 13):02d}4{random.randrange(10**6):06d}"
            digit = bin_check_digit(first)
            if digit is not None and first not in used:
                used.add(first)
                return first + str(digit)

    def post(path: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = session.post(f"{LB}/api/v1{path}", headers=headers, json=body, timeout=30)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def head_of(tenant: str, name: str) -> tuple[str, dict[str, str]]:
        person = post(f"/tenants/{tenant}/people", op, {"full_name": name, "roles": ["head"]})
        token = post(f"/tenants/{tenant}/people/{person['id']}/tokens", op)["token"]
        return person["id"], {"Authorization": f"Bearer {token}"}

    department = post("/tenants", op, {"name": "Облыстық білім басқармасы", "kind": "regional_department",
                                       "bin": new_bin(), "region": "Алматы"})["id"]
    _, coordinator = head_of(department, "Басқарма басшысы")
    colleges = [post("/tenants", op, {"name": f"№{n + 1} колледж", "kind": "tvet_college", "bin": new_bin(),
                                      "region": "Алматы", "language": "kk" if n % 2 else "ru",
                                      "parent_id": department})["id"] for n in range(members)]
    chair_id, chair = head_of(colleges[0], "Әсел Құрманғазиева")
    union = post("/unions", chair, {"name": "Дәнекерлеу ОӘБ", "sector": "Өнеркәсіп", "specialties": [WELDING],
                                    "coordinator_id": department})["id"]
    for college in colleges[1:]:
        post(f"/unions/{union}/members", coordinator, {"tenant_id": college, "specialties": [WELDING]})
    post(f"/unions/{union}/chair", coordinator, {"person_id": chair_id,
                                                 "council_decision": {"number": "1", "date": "2025-09-01"}})
    return union, chair


def deliveries(state: dict[str, Any], decision: str) -> tuple[int, int, dict[int, int]]:
    """(circulars of the decision, those delivered in the read model, circulars by their count of Delivered
    events), read on the primary."""
    rows = engines.psql(None, f"SELECT count(*), count(*) FILTER (WHERE status = 'delivered') FROM rm_circulars "
                        f"WHERE decision_id = '{decision}'", db="methodical", at=state["primary"])
    total, delivered = (int(v) for v in rows.split("|"))
    counts = engines.psql(None, "SELECT n, count(*) FROM (SELECT c.id, (SELECT count(*) FROM methodical_events e "
                          "WHERE e.originator_id = c.id AND e.topic LIKE '%Circular.Delivered') AS n FROM rm_circulars c "
                          f"WHERE c.decision_id = '{decision}') per GROUP BY n", db="methodical", at=state["primary"])
    return total, delivered, {int(n): int(c) for n, c in (line.split("|") for line in counts.splitlines())}


def fail_worker_mid_delivery(state: dict[str, Any], host: str, members: int) -> dict[str, Any]:
    """Adopt a decision for `members` colleges, kill a worker host while their circulars are being delivered,
    and count how many were delivered, and how many times each."""
    union, chair = union_with_members(state, members)
    answer = requests.post(f"{LB}/api/v1/unions/{union}/decisions", headers=chair, timeout=30, json={
        "title": "Дәнекерлеушілерді оқытудағы цифрлық тренажерлер", "direction": "p.33.4", "specialties": [WELDING],
        "text": "Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады."})
    answer.raise_for_status()
    decision = answer.json()["id"]
    adopted = time.monotonic()
    _until(lambda: deliveries(state, decision)[1] >= members // 10, 120)
    kill_host(host)
    set_link(host, "back", False)
    killed = time.monotonic()
    at_kill = deliveries(state, decision)[1]
    done = _until(lambda: deliveries(state, decision)[1] >= members, 180)
    total, delivered, counts = deliveries(state, decision)
    set_link(host, "back", True)
    engines.restart_host(state, host)
    return {"circulars": total, "delivered_when_killed": at_kill, "delivered": delivered,
            "delivered_twice_or_more": sum(c for n, c in counts.items() if n > 1),
            "not_delivered": counts.get(0, 0), "all_delivered_after_kill_s": done,
            "adoption_to_kill_s": round(killed - adopted, 1)}


def verify_chain(state: dict[str, Any]) -> dict[str, Any]:
    env = {**engines.base_env(state), **engines.database_urls(state["primary"], state["standby"])["ctl"]}
    done = subprocess.run(in_host("ctl1", engines.PY, "-m", "services.cli", "verify"), env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    return {"verified": done.returncode == 0, "output": (done.stdout or done.stderr).strip()[-300:]}


def _until(check: Any, timeout: float) -> float | None:
    """Seconds until check() holds (None: not within the timeout), counted from now."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return round(time.monotonic() - started, 1)
        time.sleep(0.2)
    return None


def down(args: argparse.Namespace) -> int:
    removed = tear_down()
    left = leftovers()
    emit(figure="cluster_down", **removed, left=left)
    return 0 if not any(left.values()) else 1


def reap(args: argparse.Namespace) -> int:
    """Run `down` after the given seconds, unless this cluster is gone already (down, or another one up)."""
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        time.sleep(5)
        if not STATE.exists() or load_state().get("id") != args.cluster:
            return 0
    tear_down()
    return 0


def everything(args: argparse.Namespace) -> int:
    code = up(args)
    if code:
        return code
    try:
        load_command(args)
        for fault in args.faults.split(","):
            fail(argparse.Namespace(host=fault, rate=args.rate, seconds=args.seconds * 2, members=args.members))
    finally:
        down(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("up", help="build the test hosts and start every engine")
    p.add_argument("--ttl", type=int, default=int(os.environ.get("CLUSTER_TTL", "1800")))
    p = commands.add_parser("load", help="throughput and p99 through the balancer (two hosts, one) and direct")
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--concurrency", type=int, default=16)
    p = commands.add_parser("fail", help=f"a fault under fixed-rate load: {', '.join(FAULTS)}")
    p.add_argument("host")
    p.add_argument("--rate", type=float, default=10)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--members", type=int, default=300, help="colleges a decision is delivered to (work*-delivery)")
    commands.add_parser("down", help="remove every namespace, link, process and file the cluster made")
    p = commands.add_parser("all", help="up, load, each fault in turn, down")
    p.add_argument("--ttl", type=int, default=1800)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rate", type=float, default=10)
    p.add_argument("--faults", default="web1,work1-delivery,ctl,web1-db,primary")
    p.add_argument("--members", type=int, default=300)
    p = commands.add_parser("reap")
    p.add_argument("seconds", type=float)
    p.add_argument("cluster")
    args = parser.parse_args(argv)
    return {"up": up, "load": load_command, "fail": fail, "down": down, "all": everything,
            "reap": reap}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
