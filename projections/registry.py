"""Every read model, listed once: the projector follows these, the rebuilds replay them, the schema is made of them.

A read model is defined in its own module (its tables, its handlers, its queries); adding one is adding it here.
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, text

from projections import audit, chain, circulars, documents, notifications, people, security, tenants, unions, units
from projections.base import ReadModel, metadata, schemas, tracking

READ_MODELS: dict[str, ReadModel] = {rm.name: rm for rm in (
    tenants.read_model,
    people.read_model,
    units.read_model,
    audit.read_model,
    unions.read_model,
    circulars.read_model,
    documents.read_model,
    notifications.read_model,
)}


def tables() -> list[Table]:
    """Return every table of this package: the tracking positions, the read models' fingerprints, the read models',
    and the tamper-evidence chain's (which follows the log too, but no rebuild drops)."""
    return [tracking, schemas, *(t for rm in READ_MODELS.values() for t in rm.tables), chain.chain, chain.checkpoints]


def create_schema(engine: Engine) -> None:
    """Create the tables that do not exist yet, each protected one under its row security: this package's, and
    those the services define on the same metadata (attached files, kept answers, rendered circulars)."""
    security.protect(metadata)
    ours = tables()
    names = {table.name for table in ours}
    every = [*ours, *(t for t in metadata.sorted_tables if t.name not in names)]
    if engine.dialect.name != "postgresql":
        metadata.create_all(engine, tables=every)
        return
    # Processes starting together on a fresh database (two projectors, a projector and a dispatcher) created the
    # same tables at once, and PostgreSQL failed all but one on the tables' row types (15 of 18 concurrent starts):
    # one transaction at a time, under a lock of its own; the others then find the tables made.
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('methodical:ddl:read-models', 0))"))
        metadata.create_all(conn, tables=every)
