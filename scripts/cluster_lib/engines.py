"""The engines each test host runs: PostgreSQL primary and streaming standby, PgBouncer, Redis, HAProxy, and the
platform's own processes (gunicorn, projector, dispatcher, rq workers), with the settings that join them."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import string
import subprocess
import time
from pathlib import Path
from typing import Any

from scripts.cluster_lib.hosts import HOSTS, PG_BIN, PG_USER, ROOT, VAR, in_host, save_state, sh, start, wait_tcp

WEB_LOGIN = "methodical_web"  # the web hosts' login role: acts as methodical_app (ALTER ROLE ... SET role)
PY = str(ROOT / ".venv" / "bin" / "python")


def ip(host: str) -> str:
    return HOSTS[host].back_ip


def _chown(path: Path) -> None:
    shutil.chown(path, PG_USER, PG_USER)
    for child in path.rglob("*"):
        shutil.chown(child, PG_USER, PG_USER)


def psql(host: str | None, sql: str, db: str = "postgres", at: str | None = None, timeout: float = 20) -> str:
    """Run SQL on the PostgreSQL of `at` (default: the host itself), from the host (None: from this machine, on
    the back bridge), each statement in its own transaction; return the output."""
    statements = [part for statement in sql.split("; ") for part in ("-c", statement)]
    target = at or host
    assert target is not None
    argv = [str(PG_BIN / "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-h", ip(target), "-U", "postgres",
            "-d", f"dbname={db} connect_timeout=3", *statements]
    if host is not None:
        argv = in_host(host, *argv)
    return sh(*argv, timeout=timeout).stdout.strip()


def _pg_conf(host: str, extra: str = "") -> str:
    return (f"listen_addresses = '{ip(host)}'\nport = 5432\nunix_socket_directories = ''\n"
            "max_connections = 300\nshared_buffers = 128MB\nwal_level = replica\nmax_wal_senders = 5\n"
            "hot_standby = on\nhot_standby_feedback = on\nwal_keep_size = 256MB\n"
            # An acknowledged command is on the standby's disk too: a failover loses none (no standby: writes wait).
            "synchronous_commit = on\n"
            f"cluster_name = '{host}'\nlog_min_messages = warning\n{extra}")


def _hba(path: Path) -> None:
    (path / "pg_hba.conf").write_text(
        "# The test hosts only (the back bridge): trust, as a private test network.\n"
        "host all all 10.58.0.0/16 trust\nhost replication all 10.58.0.0/16 trust\n")


def start_postgres(state: dict[str, Any], host: str) -> None:
    data = VAR / host / "data"
    start(state, f"postgres-{host}", host, [str(PG_BIN / "postgres"), "-D", str(data)], user=PG_USER)
    wait_tcp(host, ip(host), 5432, 60)
    deadline = time.monotonic() + 60
    while True:
        ready = subprocess.run(in_host(host, str(PG_BIN / "pg_isready"), "-h", ip(host), "-U", "postgres", "-q"), timeout=10)
        if ready.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL on {host} does not accept connections")
        time.sleep(0.2)


def make_primary(state: dict[str, Any], host: str) -> None:
    """initdb and start the primary."""
    data = VAR / host / "data"
    data.mkdir(parents=True)
    _chown(VAR / host)
    os.chmod(data, 0o700)
    sh(*in_host(host, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                "-E", "UTF8", "--locale=C.UTF-8", user=PG_USER), timeout=120)
    # Synchronous from when the standby has joined (require_standby): until then a commit would wait for it.
    (data / "postgresql.auto.conf").write_text(_pg_conf(host))
    _hba(data)
    start_postgres(state, host)


def make_standby(state: dict[str, Any], host: str, primary: str) -> None:
    """Copy the primary (pg_basebackup) and start a streaming standby of it."""
    data = VAR / host / "data"
    if (VAR / host).exists():
        shutil.rmtree(VAR / host)
    (VAR / host).mkdir(parents=True)
    _chown(VAR / host)
    sh(*in_host(host, str(PG_BIN / "pg_basebackup"), "-h", ip(primary), "-U", "postgres", "-D", str(data),
                "-R", "-X", "stream", "-c", "fast", user=PG_USER), timeout=180)
    (data / "postgresql.auto.conf").write_text(
        _pg_conf(host) + f"primary_conninfo = 'host={ip(primary)} port=5432 user=postgres application_name={host}'\n")
    _hba(data)
    start_postgres(state, host)


def require_standby(primary: str, standby: str) -> None:
    """Make the primary acknowledge a commit only once the standby has it on disk."""
    psql(primary, f"ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 ({standby})'; SELECT pg_reload_conf()")


def promote(host: str) -> None:
    """Promote the standby (PostgreSQL's own failover, done by hand or by this script)."""
    sh(*in_host(host, str(PG_BIN / "pg_ctl"), "promote", "-w", "-t", "30", "-D", str(VAR / host / "data"),
                user=PG_USER), timeout=40)
    # Until a new standby joins, commits must not wait for one.
    psql(host, "ALTER SYSTEM SET synchronous_standby_names = ''; SELECT pg_reload_conf()")


def write_pgbouncer(primary: str) -> Path:
    run = VAR / "pgb"
    run.mkdir(parents=True, exist_ok=True)
    template = string.Template((ROOT / "deploy" / "pgbouncer.ini").read_text())
    (run / "pgbouncer.ini").write_text(template.substitute(PRIMARY=ip(primary), LISTEN=ip("pgb"), RUN=str(run)))
    (run / "users.txt").write_text(f'"postgres" ""\n"{WEB_LOGIN}" ""\n')
    _chown(run)
    return run / "pgbouncer.ini"


def start_pgbouncer(state: dict[str, Any], primary: str) -> None:
    config = write_pgbouncer(primary)
    start(state, "pgbouncer", "pgb", ["/usr/sbin/pgbouncer", str(config)], user=PG_USER)
    wait_tcp("pgb", ip("pgb"), 6432, 20)


def repoint_pgbouncer(state: dict[str, Any], primary: str) -> None:
    """Point PgBouncer at the new primary and reload it (its clients keep their connections to it)."""
    write_pgbouncer(primary)
    os.kill(state["processes"]["pgbouncer"]["pid"], signal.SIGHUP)
    # runuser passes the signal on? It does not: send it to PgBouncer itself.
    pid_file = VAR / "pgb" / "pgbouncer.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGHUP)
        except (ProcessLookupError, ValueError):
            pass


def start_redis(state: dict[str, Any]) -> None:
    (VAR / "redis").mkdir(parents=True, exist_ok=True)
    start(state, "redis", "redis", ["/usr/bin/redis-server", "--bind", ip("redis"), "--port", "6379", "--save", "",
                                    "--appendonly", "no", "--dir", str(VAR / "redis"), "--protected-mode", "no"])
    wait_tcp("redis", ip("redis"), 6379, 20)


def database_urls(primary: str, standby: str) -> dict[str, dict[str, str]]:
    """The settings of each kind of host: web and workers through PgBouncer, the control hosts directly (libpq's
    list of hosts, the writable one chosen: they follow a promotion by themselves)."""
    pgb = f"postgresql://{WEB_LOGIN}@{ip('pgb')}:6432"
    direct = (f"host={ip('db1')},{ip('db2')} port=5432,5432 dbname=methodical user=postgres "
              "target_session_attrs=read-write connect_timeout=2")
    pooled = {"DATABASE_URL": f"{pgb}/methodical", "EVENT_STORE_URL": f"{pgb}/methodical_session",
              "DATABASE_PREPARED_STATEMENTS": "0", "DATABASE_WEB_ROLE": "methodical_app"}
    return {
        # Reads: whichever of the two is a standby now (libpq chooses), the primary while neither is.
        "web": {**pooled, "READ_DATABASE_URL": f"host={ip('db1')},{ip('db2')} port=5432,5432 dbname=methodical "
                                               f"user={WEB_LOGIN} target_session_attrs=prefer-standby connect_timeout=2"},
        # The workers act as the owner: their Application may create the event store's tables, as the run does.
        "worker": {"DATABASE_URL": f"postgresql://postgres@{ip('pgb')}:6432/methodical",
                   "EVENT_STORE_URL": f"postgresql://postgres@{ip('pgb')}:6432/methodical_session",
                   "DATABASE_PREPARED_STATEMENTS": "0", "DATABASE_WEB_ROLE": ""},
        # libpq tries each host for PGCONNECT_TIMEOUT: the pool's wait (DB_CONNECT_TIMEOUT) outlasts a dead first one.
        "ctl": {"DATABASE_URL": direct, "PGTARGETSESSIONATTRS": "read-write", "PGCONNECT_TIMEOUT": "2",
                "DB_CONNECT_TIMEOUT": "6", "DATABASE_WEB_ROLE": ""},
    }


def base_env(state: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "PG"))}
    env.update({"REDIS_URL": f"redis://{ip('redis')}:6379/0", "OPERATOR_TOKEN": state["operator_token"],
                "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), "WEB_COOKIE_SECURE": "0", "DB_CONNECT_TIMEOUT": "2",
                "MIN_POSITION_TIMEOUT": "5",
                # A job's limit: the dispatcher enqueues again the job of a worker killed mid-delivery after about
                # twice this (services/dispatcher.py), so the fault's figure comes within a minute.
                "DELIVERY_TIMEOUT": "10"})
    return env


def migrate(state: dict[str, Any]) -> None:
    """Create the database, the schema (as its owner, from a control host) and the web's login role."""
    primary = state["primary"]
    psql("ctl1", "CREATE DATABASE methodical", at=primary)
    env = {**base_env(state), **database_urls(primary, state["standby"])["ctl"], "DATABASE_WEB_ROLE": "methodical_app"}
    sh(*in_host("ctl1", PY, "-m", "services.cli", "migrate"), env=env, cwd=ROOT, timeout=180)
    psql("ctl1", f"CREATE ROLE {WEB_LOGIN} LOGIN IN ROLE methodical_app; "
                 f"ALTER ROLE {WEB_LOGIN} SET role = 'methodical_app'; ALTER ROLE {WEB_LOGIN} SET jit = off",
         db="methodical", at=primary)


def start_web(state: dict[str, Any], host: str) -> None:
    env = {**base_env(state), **database_urls(state["primary"], state["standby"])["web"],
           "HOST": HOSTS[host].front_ip, "PORT": "8000", "WEB_WORKERS": os.environ.get("CLUSTER_WEB_WORKERS", "2"),
           "WEB_THREADS": "4", "ACCESS_LOG": "",
           # The lag is the projector's, the same for every host: past it all leave the rotation at once. Longer than
           # a projector's takeover (about 5 s), so that a takeover is not an outage of the whole platform.
           "READY_MAX_LAG": "30"}
    start(state, f"web-{host}", host, [PY, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")], env)


def start_ctl(state: dict[str, Any], host: str) -> None:
    env = {**base_env(state), **database_urls(state["primary"], state["standby"])["ctl"]}
    for command in ("projector", "dispatcher"):
        start(state, f"{command}-{host}", host, [PY, "-m", "services.cli", command], {**env, "LOG_LEVEL": "INFO"})
    start(state, f"cron-{host}", host, [PY, "-m", "services.cli", "cron"], {**env, "LOG_LEVEL": "INFO"})


def start_worker(state: dict[str, Any], host: str) -> None:
    env = {**base_env(state), **database_urls(state["primary"], state["standby"])["worker"]}
    start(state, f"worker-{host}", host, [PY, "-m", "services.cli", "worker"], env)


def haproxy_env(state: dict[str, Any]) -> dict[str, str]:
    return {**os.environ, "LISTEN": f"{HOSTS['lb'].front_ip}:80", "STATS_SOCKET": str(VAR / "lb" / "admin.sock"),
            "WEB1": f"{HOSTS['web1'].front_ip}:8000", "WEB2": f"{HOSTS['web2'].front_ip}:8000",
            # Two of a host's eight threads (2 workers x 4) stay free for the health check.
            "SERVER_MAXCONN": "6"}


def start_lb(state: dict[str, Any]) -> None:
    (VAR / "lb").mkdir(parents=True, exist_ok=True)
    start(state, "haproxy", "lb", ["/usr/sbin/haproxy", "-W", "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
          haproxy_env(state))
    wait_tcp("lb", HOSTS["lb"].front_ip, 80, 20)


def haproxy_command(command: str) -> str:
    """Send a command to HAProxy's admin socket (e.g. 'disable server web_hosts/web2')."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(VAR / "lb" / "admin.sock"))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def new_operator_token() -> str:
    return f"cluster-{secrets.token_hex(16)}"


def restart_host(state: dict[str, Any], host: str) -> None:
    """Start again what a host ran (after `fail`)."""
    if host.startswith("web"):
        start_web(state, host)
    elif host.startswith("ctl"):
        start_ctl(state, host)
    elif host.startswith("work"):
        start_worker(state, host)
    elif host == "redis":
        start_redis(state)
    elif host == "pgb":
        start_pgbouncer(state, state["primary"])
    elif host == "lb":
        start_lb(state)
    save_state(state)

