"""Test hosts on one machine: network namespaces on two bridges, and the engines each host runs.

The front bridge joins the load balancer and the web hosts (and this machine, which sends the load); the back
bridge joins the web, control and worker hosts to PgBouncer, PostgreSQL and Redis. A web host's link to the
databases can so be cut (`ip link set down`) while the balancer still reaches it. Everything made is recorded in
var/cluster/state.json, and `down` removes exactly that.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var" / "cluster"
STATE = VAR / "state.json"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PREFIX = "mc"  # namespaces, bridges and links made here are named mc-*: nothing else is touched
FRONT, BACK = "mc-front", "mc-back"
FRONT_NET, BACK_NET = "10.58.1", "10.58.2"
TCP_SETTINGS = {"net.ipv4.tcp_keepalive_time": 2, "net.ipv4.tcp_keepalive_intvl": 1,
                "net.ipv4.tcp_keepalive_probes": 3, "net.ipv4.tcp_retries2": 3}
PG_USER = "postgres"  # PostgreSQL and PgBouncer refuse to run as root


@dataclass(frozen=True)
class Host:
    """A test host: a namespace with a link to the front bridge, the back bridge, or both."""

    name: str
    number: int
    front: bool = False
    back: bool = True

    @property
    def netns(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def front_ip(self) -> str:
        return f"{FRONT_NET}.{self.number}"

    @property
    def back_ip(self) -> str:
        return f"{BACK_NET}.{self.number}"


HOSTS = {h.name: h for h in (
    Host("lb", 2, front=True, back=False),
    Host("web1", 11, front=True), Host("web2", 12, front=True),
    Host("ctl1", 21), Host("ctl2", 22),
    Host("work1", 31), Host("work2", 32),
    Host("pgb", 40), Host("db1", 51), Host("db2", 52), Host("redis", 60),
)}


def sh(*argv: str, check: bool = True, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, bounded in time; raise with its output when it fails."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done


def in_host(host: str, *argv: str, user: str | None = None) -> list[str]:
    """The command line that runs argv on the host (as the user, when given)."""
    prefix = ["ip", "netns", "exec", HOSTS[host].netns]
    return prefix + (["runuser", "-u", user, "--"] if user else []) + list(argv)


def load_state() -> dict[str, Any]:
    if STATE.exists():
        return json.loads(STATE.read_text())
    return {"netns": [], "links": [], "processes": {}, "primary": "db1", "standby": "db2"}


def save_state(state: dict[str, Any]) -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state, indent=1))


def link_name(host: Host, side: str) -> str:
    return f"{PREFIX}{side[0]}-{host.name}"  # e.g. mcf-web1, mcb-web1 (at most 15 characters)


def build_network(state: dict[str, Any]) -> None:
    """Make the bridges, the namespaces and their links; record each as it is made."""
    for bridge, net in ((FRONT, FRONT_NET), (BACK, BACK_NET)):
        sh("ip", "link", "add", bridge, "type", "bridge")
        state["links"].append(bridge)
        sh("ip", "addr", "add", f"{net}.1/24", "dev", bridge)
        sh("ip", "link", "set", bridge, "up")
    save_state(state)
    for host in HOSTS.values():
        sh("ip", "netns", "add", host.netns)
        state["netns"].append(host.netns)
        save_state(state)
        sh("ip", "-n", host.netns, "link", "set", "lo", "up")
        # A peer that vanished (its host killed, its link down) is given up within seconds, not TCP's 15 minutes:
        # libpq turns keepalives on for every connection, and these make them probe soon and often; a send that
        # is never acknowledged fails after a few retries.
        for key, value in TCP_SETTINGS.items():
            sh("ip", "netns", "exec", host.netns, "sysctl", "-q", "-w", f"{key}={value}")
        for side, wanted, bridge, ip in (("front", host.front, FRONT, host.front_ip),
                                         ("back", host.back, BACK, host.back_ip)):
            if not wanted:
                continue
            outer = link_name(host, side)
            inner = "eth0" if side == "front" else "eth1"
            sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", host.netns)
            state["links"].append(outer)
            save_state(state)
            sh("ip", "link", "set", outer, "master", bridge)
            sh("ip", "link", "set", outer, "up")
            sh("ip", "-n", host.netns, "addr", "add", f"{ip}/24", "dev", inner)
            sh("ip", "-n", host.netns, "link", "set", inner, "up")


def set_link(host: str, side: str, up: bool) -> None:
    """Bring a host's link on one bridge up or down (the cable pulled, or plugged back)."""
    sh("ip", "link", "set", link_name(HOSTS[host], side), "up" if up else "down")


def start(state: dict[str, Any], name: str, host: str, argv: list[str], env: dict[str, str] | None = None,
          user: str | None = None) -> int:
    """Start a long-running process on a host, in a session of its own, logging to var/cluster/logs/NAME.log."""
    logs = VAR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(in_host(host, *argv, user=user), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=ROOT, start_new_session=True)
    state["processes"][name] = {"host": host, "pid": proc.pid, "argv": argv, "user": user,
                                "env": {k: v for k, v in (env or {}).items() if k not in os.environ
                                        or os.environ[k] != v}}
    save_state(state)
    return proc.pid


def kill_host(host: str, sig: int = signal.SIGKILL) -> int:
    """Kill every process running in the host's namespace (the host dies); return how many were killed."""
    netns = HOSTS[host].netns
    done = sh("ip", "netns", "pids", netns, check=False)
    pids = [int(p) for p in done.stdout.split()]
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return len(pids)


def wait_tcp(host: str, ip: str, port: int, timeout: float = 30) -> None:
    """Wait until something listens at ip:port, seen from the host."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = subprocess.run(in_host(host, "bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}"),
                               capture_output=True, timeout=5)
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens at {ip}:{port} (seen from {host}) after {timeout:.0f} s")


def tear_down() -> dict[str, int]:
    """Kill what was started, delete the namespaces and links made, remove var/cluster; return what was removed."""
    state = load_state()
    killed = 0
    for netns in state["netns"]:
        host = netns[len(PREFIX) + 1:]
        if host in HOSTS:
            for _ in range(3):
                found = kill_host(host)
                killed += found
                if not found:
                    break
                time.sleep(0.3)
    for entry in state["processes"].values():  # anything that escaped its namespace's list
        try:
            os.killpg(entry["pid"], signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            pass
    removed_netns = 0
    for netns in state["netns"]:
        if sh("ip", "netns", "del", netns, check=False).returncode == 0:
            removed_netns += 1
    removed_links = 0
    for link in state["links"]:
        if sh("ip", "link", "del", link, check=False).returncode == 0:
            removed_links += 1
    if VAR.exists():
        shutil.rmtree(VAR)
    return {"processes_killed": killed, "namespaces_removed": removed_netns, "links_removed": removed_links}


def leftovers() -> dict[str, list[str]]:
    """Namespaces, links and processes of this tool still present (none after `down`)."""
    netns = [line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines()
             if line.startswith(f"{PREFIX}-")]
    links = [line.split(":")[1].strip().split("@")[0] for line in sh("ip", "-o", "link").stdout.splitlines()
             if line.split(":")[1].strip().startswith((f"{PREFIX}-", f"{PREFIX}f-", f"{PREFIX}b-"))]
    procs = [line for line in sh("ps", "-eo", "pid,args").stdout.splitlines() if str(VAR) in line]
    return {"namespaces": netns, "links": links, "processes": procs}
