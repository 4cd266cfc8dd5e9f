"""Defence in depth in PostgreSQL: the web process acts as a role that owns nothing, and events are append-only.

`methodical migrate` (run as the database's owner) sets this up; the web process then switches every
connection it opens to the role (libpq's `options=-c role=...`), so a flaw in the API cannot alter
history or the schema: the role may read, append events and store uploaded files, nothing else. And what it reads is bounded by
row-level security (projections/security.py): each transaction sees only the rows of the caller whose scope it
entered, and nothing without one.
"""

from __future__ import annotations

import os

from sqlalchemy import Engine, text

from projections import security
from services.config import APPLICATION_NAME

EVENTS = f"{APPLICATION_NAME}_events"
SNAPSHOTS = f"{APPLICATION_NAME}_snapshots"
# Tables the web process appends to, besides the event log.
WEB_APPENDS = (SNAPSHOTS, "document_files", "audit_checkpoints", "idempotent_responses", "person_passwords")


def secure(engine: Engine, role: str) -> None:
    """Create the web role if missing, grant it only what the web needs, and make the event log append-only."""
    ident = f'"{role}"'
    with engine.begin() as conn:
        conn.execute(text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
            f"CREATE ROLE {ident} NOLOGIN; END IF; END $$"))
        # The owner (who runs the migration) may then switch to the role.
        conn.execute(text(f"GRANT {ident} TO CURRENT_USER"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ident}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {ident}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ident}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ident}"))
        # Read models rebuilt later by the owner are readable too.
        conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {ident}"))
        # eventsourcing takes LOCK TABLE ... IN EXCLUSIVE MODE to order appends, which PostgreSQL allows only
        # to a role with UPDATE (or DELETE/TRUNCATE): UPDATE is granted, and the trigger below refuses it.
        conn.execute(text(f"GRANT INSERT, UPDATE ON {EVENTS} TO {ident}"))
        for table in WEB_APPENDS:
            conn.execute(text(f"GRANT INSERT ON {table} TO {ident}"))
        conn.execute(text(
            "CREATE OR REPLACE FUNCTION methodical_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'the event log is append-only: % on % refused', TG_OP, TG_TABLE_NAME "
            "USING ERRCODE = 'insufficient_privilege'; END $$"))
        conn.execute(text(f"DROP TRIGGER IF EXISTS {EVENTS}_append_only ON {EVENTS}"))
        conn.execute(text(f"CREATE TRIGGER {EVENTS}_append_only BEFORE UPDATE OR DELETE ON {EVENTS} "
                          "FOR EACH ROW EXECUTE FUNCTION methodical_append_only()"))
        conn.execute(text(f"DROP TRIGGER IF EXISTS {EVENTS}_no_truncate ON {EVENTS}"))
        conn.execute(text(f"CREATE TRIGGER {EVENTS}_no_truncate BEFORE TRUNCATE ON {EVENTS} "
                          "FOR EACH STATEMENT EXECUTE FUNCTION methodical_append_only()"))
        # Read models and other tenant data: each row only within the scope the transaction entered.
        security.secure_existing(conn)


def configure_web_connections(role: str) -> None:
    """Make every PostgreSQL connection this process opens from now on (libpq's PGOPTIONS) act as the role, if
    one is named, and run without JIT compilation: the web's statements are short lookups, which JIT only
    slows (PostgreSQL compiled a 1 ms compliance statement for 130 ms when, on fresh statistics, its estimate
    passed jit_above_cost)."""
    options = [os.environ.get("PGOPTIONS", ""), "-c jit=off"] + ([f"-c role={role}"] if role else [])
    os.environ["PGOPTIONS"] = " ".join(o for o in options if o)
