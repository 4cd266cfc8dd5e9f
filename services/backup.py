"""Backup and restore: the event store, the audit chain and everything else no rebuild can make again, from one
snapshot of the database, with a manifest; restored into an empty database, then the read models rebuilt and the
chain verified.

`backup(settings, directory)` opens a REPEATABLE READ transaction, exports its snapshot (`pg_export_snapshot`),
writes the manifest from it (the log's last position, each table's rows, the chain's head) and runs `pg_dump
--snapshot` on the same snapshot: the dump and the manifest describe the same instant, and every command
acknowledged before the backup began is in both. What is dumped is the data of every table of the schema but the
read models' (they are rebuilt from the events): the events, the snapshots, the chain and its checkpoints, the
documents' files, the rendered circulars, the passwords' hashes, the kept answers of idempotent commands.

`restore(settings, directory)` refuses a database that holds any row. It creates the schema as `methodical migrate`
does (from this code), loads the dump's rows (`pg_restore --data-only`, one transaction), checks each table's rows
against the manifest, rebuilds every read model, links the events the chain had not linked yet, and verifies the
chain. pg_dump and pg_restore are the server's own version (docs: deploy/backup.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg

from services.config import APPLICATION_NAME, Settings

FORMAT = "methodical-backup/1"
DUMP = "database.dump"
MANIFEST = "manifest.json"
EVENTS = f"{APPLICATION_NAME}_events"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, in one line."""


# pg_dump and pg_restore


def _major(version_num: int) -> int:
    return version_num // 10000


def _client_major(binary: Path) -> int | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else None


def _candidates(name: str, server_major: int) -> list[Path]:
    found = []
    try:  # the embedded server's own binaries (./scripts/run without DATABASE_URL)
        from pgserver._commands import POSTGRES_BIN_PATH

        found.append(Path(POSTGRES_BIN_PATH) / name)
    except Exception:  # noqa: BLE001, S110 - pgserver missing or changed: look elsewhere
        pass
    found.append(Path(f"/usr/lib/postgresql/{server_major}/bin") / name)  # Debian's and Ubuntu's layout
    found.append(Path(f"/usr/pgsql-{server_major}/bin") / name)  # the PGDG packages' on RHEL
    on_path = shutil.which(name)
    if on_path:
        found.append(Path(on_path))
    return [path for path in found if path.exists()]


def client_binary(name: str, server_major: int) -> Path:
    """Return pg_dump or pg_restore of the server's major version (or, failing that, the oldest newer one)."""
    versions = [(major, path) for path in _candidates(name, server_major)
                if (major := _client_major(path)) is not None and major >= server_major]
    if not versions:
        raise BackupError(f"no {name} of PostgreSQL {server_major} or newer found; install the server's client tools")
    exact = [path for major, path in versions if major == server_major]
    return exact[0] if exact else min(versions)[1]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        problem = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise BackupError(f"{Path(command[0]).name} failed: {problem}")


# What is backed up


def _read_model_tables() -> set[str]:
    from projections.base import schemas, tracking
    from projections.registry import READ_MODELS

    return {tracking.name, schemas.name} | {t.name for rm in READ_MODELS.values() for t in rm.tables}


def _schema_tables(conn: psycopg.Connection[Any]) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def backup(settings: Settings, directory: Path) -> dict[str, Any]:
    """Write DIR/database.dump and DIR/manifest.json from one snapshot of the database; return the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / MANIFEST).exists() or (directory / DUMP).exists():
        raise BackupError(f"{directory} already holds a backup; name an empty directory")
    rebuilt = _read_model_tables()
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        server = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
        tables = [t for t in _schema_tables(conn) if t not in rebuilt]
        if EVENTS not in tables:
            raise BackupError("the database holds no event store")
        up_to = int(conn.execute(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS}").fetchone()[0])  # type: ignore[index]
        head = conn.execute("SELECT position, link FROM audit_chain ORDER BY position DESC LIMIT 1").fetchone() \
            if "audit_chain" in tables else None
        rows = {table: _count(conn, table) for table in tables}
        pg_dump = client_binary("pg_dump", _major(server))
        # The transaction stays open (its snapshot exported) until pg_dump has taken it and finished.
        _run([str(pg_dump), "--dbname", settings.database_url, "--snapshot", snapshot, "--format=custom",
              "--data-only", "--no-owner", "--no-privileges", "--file", str(directory / DUMP),
              *(f"--table={_quoted(conn, t)}" for t in tables)])
        conn.rollback()
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "server_version_num": server,
        "pg_dump": str(pg_dump.name) + f" {_major(server)}",
        "up_to": up_to,
        "count": rows[EVENTS],
        "tables": rows,
        "chain_head": {"position": head[0], "link": bytes(head[1]).hex()} if head else None,
        "file": DUMP,
        "sha256": _file_sha256(directory / DUMP),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _quoted(conn: psycopg.Connection[Any], table: str) -> str:
    """The table as pg_dump's --table pattern names it exactly (schema-qualified, quoted)."""
    schema = conn.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
    return f'"{schema}"."{table}"'


# Restore


def _not_empty(conn: psycopg.Connection[Any]) -> list[str]:
    return [table for table in _schema_tables(conn) if conn.execute(
        f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]]  # type: ignore[index]


def restore(settings: Settings, directory: Path) -> dict[str, Any]:
    """Restore a backup into an empty database: its rows, then the read models rebuilt and the chain verified."""
    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        raise BackupError(f"{directory} holds no {MANIFEST}")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{manifest_path} is not a backup of this platform (format {manifest.get('format')!r})")
    dump = directory / manifest["file"]
    if not dump.exists() or _file_sha256(dump) != manifest["sha256"]:
        raise BackupError(f"{dump} is missing or its SHA-256 does not match the manifest")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        holding = _not_empty(conn)
        if holding:
            raise BackupError(f"the target database is not empty ({', '.join(holding[:3])}"
                              f"{' ...' if len(holding) > 3 else ''} hold rows); restore into an empty database")
        server = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]

    from projections.base import make_engine
    from projections.bulk import build_chain
    from projections.chain import verify
    from projections.registry import create_schema
    from projections.runner import rebuild_read_models
    from services.applications import Platform

    platform = Platform(env=settings.eventsourcing_env())  # the event store's tables, from this code
    engine = make_engine(settings.sqlalchemy_url(), 2)
    try:
        create_schema(engine)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            missing = sorted(set(manifest["tables"]) - set(_schema_tables(conn)))
            if missing:
                raise BackupError(f"this version of the platform has no table {', '.join(missing)} of the backup")
            forced = [row[0] for row in conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = CAST(current_schema() AS regnamespace)"
                " AND relforcerowsecurity AND relname = ANY(%s)", (list(manifest["tables"]),))]
            # The owner loads the rows past its own forced row security; forced again whatever happens.
            for table in forced:
                conn.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
            try:
                pg_restore = client_binary("pg_restore", max(_major(server), _major(manifest["server_version_num"])))
                _run([str(pg_restore), "--dbname", settings.database_url, "--data-only", "--single-transaction",
                      "--exit-on-error", "--no-owner", "--no-privileges", str(dump)])
            finally:
                for table in forced:
                    conn.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{EVENTS}', 'notification_id'),"
                         f" (SELECT coalesce(max(notification_id), 1) FROM {EVENTS}))")
            counts = {table: _count(conn, table) for table in manifest["tables"]}
        if counts != manifest["tables"]:
            wrong = [t for t in counts if counts[t] != manifest["tables"][t]]
            raise BackupError(f"restored rows differ from the manifest in {', '.join(wrong)}")
        head = manifest.get("chain_head")
        if head:
            with psycopg.connect(settings.database_url) as conn:
                found = conn.execute("SELECT link FROM audit_chain WHERE position = %s", (head["position"],)).fetchone()
            if found is None or bytes(found[0]).hex() != head["link"]:
                raise BackupError(f"the restored chain's link at {head['position']} is not the manifest's")
        rebuilt = rebuild_read_models(platform, engine)
        linked = build_chain(engine, settings.signing_key(), settings.checkpoint_interval)
        report = verify(engine)
        if settings.web_role:
            from services.database import secure

            secure(engine, settings.web_role)
    finally:
        engine.dispose()
        platform.close()
    if not report["ok"]:
        raise BackupError(f"the restored chain does not verify at position {report['first_bad_position']}:"
                          f" {report['problem']}")
    return {"restored": counts, "up_to": manifest["up_to"], "read_models_rebuilt": rebuilt, "chain_linked": linked,
            "chain": report}


# The commands


def backup_command(args: Any) -> int:
    """methodical backup DIR: print the manifest."""
    print(json.dumps(backup(Settings.from_env(), Path(args.directory))))
    return 0


def restore_command(args: Any) -> int:
    """methodical restore DIR: print what was restored, rebuilt and verified."""
    print(json.dumps(restore(Settings.from_env(), Path(args.directory)), default=str))
    return 0
