"""The `methodical` command: run the platform, its processes, and the operator's tools."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from services import audit_tools, heap, logs, singleton
from services.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("methodical")


def main(argv: list[str] | None = None) -> int:
    """Run the command named on the command line."""
    parser = argparse.ArgumentParser(prog="methodical", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="set up and run every process of the platform, with embedded defaults")
    commands.add_parser("migrate", help="create the event store and read-model tables")
    commands.add_parser("projector", help="follow the event log and keep the read models up to date")
    commands.add_parser("worker", help="run an rq worker that renders and delivers circulars")
    commands.add_parser("dispatcher", help="move recorded circulars into rq (again, whenever Redis lost them)")
    commands.add_parser("cron", help="run rq's cron scheduler: the reminders' tick every quarter hour (ADR 023)")
    rebuild = commands.add_parser("rebuild", help="rebuild read models from the events beside the live ones; swap them in")
    rebuild.add_argument("read_models", nargs="*", help="names (default: all)")
    commands.add_parser("verify", help="recompute the tamper-evidence chain; name the first bad position")
    commands.add_parser("checkpoint", help="record (and sign) a checkpoint of the chain's head; print it")
    export = commands.add_parser("export", help="write a tenant's history as JSON Lines with a manifest")
    export.add_argument("tenant_id")
    export.add_argument("directory", help="where events.jsonl and manifest.json are written")
    import_ = commands.add_parser("import", help="import an export into an empty store and rebuild the read models")
    import_.add_argument("directory", help="holding events.jsonl and manifest.json")
    health = commands.add_parser("health", help="exit 0 when PostgreSQL and Redis answer (a container's health check)")
    health.add_argument("--lag", action="store_true", help="and every read model is within READY_MAX_LAG seconds")
    health.add_argument("--workers", action="store_true", help="and an rq worker of this host is registered")
    backup = commands.add_parser("backup", help="dump the event store and the chain consistently, with a manifest")
    backup.add_argument("directory", help="an empty directory: database.dump and manifest.json are written there")
    restore = commands.add_parser("restore", help="restore a backup into an empty database; rebuild and verify")
    restore.add_argument("directory", help="holding database.dump and manifest.json")
    args = parser.parse_args(argv)
    logs.configure(args.command)  # one JSON line a record (LOG_FORMAT=text: plain lines)
    command = {"run": run, "migrate": migrate, "projector": projector, "rebuild": rebuild_command,
               "worker": worker, "dispatcher": dispatcher, "cron": cron, "verify": audit_tools.verify_command,
               "checkpoint": audit_tools.checkpoint_command, "export": audit_tools.export_command,
               "import": audit_tools.import_command, "health": health_command, "backup": _backup,
               "restore": _restore}[args.command]
    if args.command != "run":
        # Beside a running ./scripts/run, the tools use the private servers it started (it announces them).
        from services.embedded import running

        for key, value in running(PROJECT_ROOT / "var").items():
            os.environ.setdefault(key, value)
    try:
        return command(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - an operator's command ends with one line, not a traceback
        log.debug("the command failed", exc_info=True)
        print(f"methodical {args.command}: {_one_line(error)}", file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    """Return what went wrong in one line (the first line of the message, or the error's kind)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def migrate(args: argparse.Namespace | None = None) -> int:
    """Create the event store's and the read models' tables."""
    from projections.base import make_engine
    from projections.runner import migrate_read_models
    from services.applications import Platform

    settings = Settings.from_env()
    # Two migrations at once (two hosts deploying, a job started twice) take turns: the second waits, then finds the
    # tables made and nothing to rebuild. They used to refuse each other, or fail on each other's grants.
    with singleton.one_at_a_time(settings.lock_url(), "migrate"):
        platform = Platform(env=settings.eventsourcing_env())
        engine = make_engine(settings.sqlalchemy_url(), 2)
        for name, replayed in migrate_read_models(platform, engine).items():
            log.info("read model %s rebuilt for its new tables (%d events replayed)", name, replayed)
        if settings.web_role:
            from services.database import secure

            secure(engine, settings.web_role)
        engine.dispose()
        platform.close()
    return 0


def projector(args: argparse.Namespace | None = None) -> int:
    """Run the projection runners until SIGTERM or SIGINT."""
    from projections.base import make_engine
    from projections.registry import create_schema
    from projections.runner import Projector
    from services.applications import Platform

    settings = Settings.from_env()
    engine = singleton.guard(make_engine(settings.sqlalchemy_url(), 4))
    create_schema(engine)
    heap.settle()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    from projections.chain import Chainer

    # A lost database (restarted, failed over, network cut) ends the runners' subscriptions: LISTEN dies with
    # its connection. Start them again from their tracking records once it answers; any other error is a
    # defect and ends the process non-zero for its supervisor (`methodical run` restarts it).
    def follow(stopping: threading.Event) -> None:
        pause = 0.5
        while not stopping.is_set():
            try:
                running = Projector(Platform, settings.eventsourcing_env(), engine,
                                    chainer=Chainer(settings.signing_key(), settings.checkpoint_interval),
                                    linger=settings.projector_linger)
                log.info("projector following the event log with %d read models", len(running.runners))
                pause = 0.5
                running.run_until(stopping)
            except Exception as error:  # noqa: BLE001 - sorted just below
                if not _database_unavailable(error):
                    raise
                log.warning("projector lost the database (%s); following again in %.1f s", error, pause)
                stopping.wait(pause)
                pause = min(pause * 2, 5.0)

    # One projector works at a time, whichever host it runs on; another takes over when it dies (services/singleton.py).
    singleton.run_alone(settings.lock_url(), "projector", stop, follow)
    return 0


def _database_unavailable(error: BaseException) -> bool:
    """Whether the error (or one it was raised from) says the database could not be reached or went away."""
    import psycopg
    import sqlalchemy.exc
    from eventsourcing import persistence
    from psycopg_pool import PoolTimeout

    kinds = (psycopg.OperationalError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError,
             persistence.OperationalError, persistence.InterfaceError, PoolTimeout)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def worker(args: argparse.Namespace | None = None) -> int:
    """Run an rq worker on the delivery queue (JSON serializer) until SIGTERM; it waits out a Redis that is down.

    A SimpleWorker runs each job in this process: the eventsourcing Application and its pool are
    opened once here, never before a fork (rq still stops a job at its timeout).
    """
    import socket

    from redis import Redis
    from redis.exceptions import RedisError
    from rq.serializers import JSONSerializer

    from services import circular_pdf, jobs
    from services.jobs import DeliveryWorker

    settings = Settings.from_env()
    if not settings.redis_url:
        log.error("REDIS_URL is not set: the worker has no queue to work")
        return 2
    jobs.configure(jobs.JobRuntime.from_settings(settings))
    circular_pdf.prepare()  # the fonts, parsed once per process before the first job rather than during it
    heap.settle()
    connection = Redis.from_url(settings.redis_url)
    queue = jobs.delivery_queue(connection, settings)
    from services import reminders

    work_queues = [queue, *reminders.queues(connection, settings)]  # circulars first, then reminders' passes and emails
    attempt = 0
    while True:
        attempt += 1
        name = f"methodical-{socket.gethostname()}-{os.getpid()}-{attempt}"
        try:
            # Registering the worker (its name on the connection) needs Redis already: a worker started, or
            # started again, while Redis is down waits here with the rest.
            running = DeliveryWorker(work_queues, connection=connection, serializer=JSONSerializer, name=name)
            log.info("worker %s delivering circulars from queue %s", name, settings.delivery_queue)
            running.work(with_scheduler=True, logging_level=os.environ.get("LOG_LEVEL", "INFO"))
            if running.stop_requested:
                jobs.configure(None)  # ends the SMTP session politely
                return 0  # a warm shutdown (SIGTERM or SIGINT)
            # rq's loop also returns when an error it did not expect ends it (Redis lost while a job was
            # finishing): the work is recorded, so start again.
            log.warning("worker %s stopped on an error (logged above); starting again in 2 s", name)
        except RedisError as error:
            # Redis went away outside rq's own reconnecting loop: the work is recorded, so wait and start again.
            log.warning("worker lost Redis (%s); starting again in 2 s", error)
        time.sleep(2)


def dispatcher(args: argparse.Namespace | None = None) -> int:
    """Sweep the recorded circulars into rq as they start waiting and every DISPATCH_INTERVAL seconds, until SIGTERM
    or SIGINT."""
    from projections import circulars as circulars_rm
    from projections.base import make_engine
    from projections.registry import create_schema
    from services import dispatcher as dispatching

    settings = Settings.from_env()
    engine = singleton.guard(make_engine(settings.sqlalchemy_url(), 2))
    create_schema(engine)
    with engine.begin() as conn:  # a table made before the read model announced waiting circulars does now
        circulars_rm.announce_waiting(conn)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("dispatcher sweeping recorded circulars into queue %s", settings.delivery_queue)
    # One dispatcher works at a time, whichever host it runs on (services/singleton.py).
    singleton.run_alone(settings.lock_url(), "dispatcher", stop,
                        lambda stopping: dispatching.run(engine, settings, stopping))
    return 0


def health_command(args: argparse.Namespace) -> int:
    """Print what the health check found as JSON; exit 0 when all is well, 1 otherwise (ADR 024)."""
    import socket

    from redis import Redis
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from services import metrics

    settings = Settings.from_env()
    report: dict[str, object] = {}
    engine = create_engine(settings.sqlalchemy_url(), poolclass=NullPool,
                           connect_args={"connect_timeout": settings.db_connect_timeout})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        report["postgres"] = "ok"
        if args.lag:
            behind = {lag["read_model"]: round(lag["seconds_behind"], 1) for lag in metrics.projection_lag(engine)
                      if settings.ready_max_lag > 0 and lag["seconds_behind"] > settings.ready_max_lag}
            report["lagging"] = behind
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
            redis.ping()
            report["redis"] = "ok"
            if args.workers:
                from rq import Worker

                here = socket.gethostname()
                report["workers_here"] = sum(1 for w in Worker.all(connection=redis) if w.hostname == here)
    except Exception as error:  # noqa: BLE001 - a health check reports, it does not raise
        report["error"] = _one_line(error)
    finally:
        engine.dispose()
    healthy = "error" not in report and not report.get("lagging") and report.get("workers_here", 1) != 0
    report["status"] = "ok" if healthy else "failing"
    print(json.dumps(report, ensure_ascii=False))
    return 0 if healthy else 1


def _backup(args: argparse.Namespace) -> int:
    from services.backup import backup_command

    return backup_command(args)


def _restore(args: argparse.Namespace) -> int:
    from services.backup import restore_command

    return restore_command(args)


def cron(args: argparse.Namespace | None = None) -> int:
    """Run rq's cron scheduler with the reminders' tick until SIGTERM or SIGINT (rq's own loop: ADR 023)."""
    from redis import Redis

    from services import reminders

    settings = Settings.from_env()
    if not settings.redis_url:
        log.error("REDIS_URL is not set: the scheduler has no queue to feed")
        return 2
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        stop.set()

    def work(stopping: threading.Event) -> None:
        # rq's loop ends only on a signal (its own handlers, installed by start): when it must stop (the lock lost,
        # or a signal that came before its handlers), this process sends itself one, once rq's handlers are in
        # place (a signal before them reaches ours, which would stop for good), again every half second until
        # rq's loop has ended.
        scheduler = reminders.cron_scheduler(Redis.from_url(settings.redis_url), settings)
        finished = threading.Event()

        def end_when_stopping() -> None:
            stopping.wait()
            while not finished.wait(0.5):
                if scheduler.listening.is_set():
                    os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=end_when_stopping, name="cron-lock", daemon=True).start()
        log.info("cron scheduler enqueueing the reminders' tick (%s) on queue %s", reminders.TICK_CRON,
                 settings.reminders_queue)
        try:
            scheduler.start()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, on_signal)
            finished.set()
        if not stopping.is_set():
            stop.set()  # a signal from outside ended rq's loop, not a lost lock

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    # One scheduler works at a time, whichever host it runs on (services/singleton.py).
    singleton.run_alone(settings.lock_url(), "scheduler", stop, work)
    return 0


def rebuild_command(args: argparse.Namespace) -> int:
    """Rebuild the named read models beside the live ones, printing how many events each replayed."""
    from projections.base import make_engine
    from projections.registry import create_schema
    from projections.runner import READ_MODELS, rebuild_read_models
    from services.applications import Platform

    names = args.read_models or list(READ_MODELS)
    unknown = [n for n in names if n not in READ_MODELS]
    if unknown:
        print(f"unknown read model(s): {', '.join(unknown)}; known: {', '.join(READ_MODELS)}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    platform = Platform(env=settings.eventsourcing_env())
    engine = make_engine(settings.sqlalchemy_url(), 2)
    create_schema(engine)
    # One pass over the log for all of them.
    for name, replayed in rebuild_read_models(platform, engine, names).items():
        print(json.dumps({"read_model": name, "events_replayed": replayed}))
    return 0


def run(args: argparse.Namespace | None = None) -> int:
    """Start what is missing (PostgreSQL, Redis), then the web, projector, dispatcher and worker processes; stop all on a signal."""
    from services.embedded import announce, start_missing, withdraw

    env = dict(os.environ)
    var_dir = PROJECT_ROOT / "var"
    embedded = start_missing(var_dir, env)
    env.update(embedded.env)
    announce(var_dir, embedded)
    generated_token = not env.get("OPERATOR_TOKEN")
    if generated_token:
        env["OPERATOR_TOKEN"] = _operator_token(var_dir)
    # On loopback the pages are served over plain HTTP, where a browser drops a Secure cookie.
    if env.get("HOST", "127.0.0.1") in ("127.0.0.1", "localhost", "::1"):
        env.setdefault("WEB_COOKIE_SECURE", "0")
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process started here counts into one directory, emptied now; the web's master serves the sum.
        import shutil

        metrics_dir = var_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ.update(env)
    children: list[subprocess.Popen[bytes]] = []
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        migrate()
        port = env.get("PORT", "8000")
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py")]
        children.append(subprocess.Popen(gunicorn, env=env))
        # The followers are restarted when they exit (they resume from their records); gunicorn supervises
        # its own workers, and if it exits the platform stops.
        followers = [[sys.executable, "-m", "services.cli", "projector"],
                     [sys.executable, "-m", "services.cli", "dispatcher"],
                     [sys.executable, "-m", "services.cli", "cron"]]
        followers += [[sys.executable, "-m", "services.cli", "worker"]
                      for _ in range(int(env.get("DELIVERY_WORKERS", "2")))]
        for command in followers:
            children.append(subprocess.Popen(command, env=env))
        argv_of = {child.pid: command for child, command in zip(children[1:], followers)}
        restarts: list[float] = []
        ready = _wait_until_ready(f"http://127.0.0.1:{port}/api/v1/health/ready", stopping, children[0])
        metrics_port = env.get("METRICS_PORT", "9120")
        print(
            f"\nThe platform listens on http://127.0.0.1:{port}/api/v1 (OpenAPI: /api/v1/openapi.json);"
            f" its pages are at http://127.0.0.1:{port}/.\n"
            + ("The operator token is in var/operator-token (cat var/operator-token).\n"
               if generated_token else "The operator token is the OPERATOR_TOKEN you set.\n")
            + ("Embedded PostgreSQL and Redis run under var/.\n" if embedded.env else "")
            + (f"Metrics: http://127.0.0.1:{metrics_port}/metrics.\n" if metrics_port != "0" else "")
            + ("" if ready else "It is not ready yet (GET /api/v1/health/ready says why).\n")
            + "Stop with Ctrl-C.\n",
            flush=True,
        )
        while not stopping.is_set():
            for index, child in enumerate(children):
                if child.poll() is None or stopping.is_set():
                    continue
                command = argv_of.get(child.pid)
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < 60]
                if command is None or len(restarts) >= 5:
                    log.error("%s exited (code %s); stopping the platform",
                              " ".join(command[-1:]) if command else "the web process", child.returncode)
                    stopping.set()
                    break
                log.warning("%s exited (code %s); starting it again", command[-1], child.returncode)
                restarts.append(now)
                replacement = subprocess.Popen(command, env=env)
                argv_of[replacement.pid] = command
                children[index] = replacement
            stopping.wait(0.5)
    finally:
        # The web first: it stops taking requests and finishes those under way (their commands are appended or
        # not at all). Then the others: each worker finishes the job it is doing, the projector its batch.
        _stop_all(children[:1])
        _stop_all(children[1:])
        withdraw(var_dir)
        embedded.stop()
    return 0


def _stop_all(children: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM the children, wait for each to finish what it is doing, and kill one that outlasts the timeout."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("process %d did not stop within %d s; killing it", child.pid, timeout)
            child.kill()
            child.wait()


def _wait_until_ready(url: str, stopping: threading.Event, web: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """Wait until the web process says it is ready (GET /api/v1/health/ready answers 200); False past the timeout."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping.is_set() and web.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own loopback address
                if answer.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        stopping.wait(0.3)
    return False


def _saved_token(var_dir: Path) -> str | None:
    path = var_dir / "operator-token"
    return path.read_text().strip() if path.exists() else None


def _operator_token(var_dir: Path) -> str:
    """Return this installation's operator token, generating it on first run (never a fixed default)."""
    token = _saved_token(var_dir)
    if not token:
        token = secrets.token_urlsafe(32)
        path = var_dir / "operator-token"
        path.write_text(token + "\n")
        path.chmod(0o600)
    return token


if __name__ == "__main__":
    sys.exit(main())
