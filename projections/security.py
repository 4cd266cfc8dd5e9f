"""Row-level security on the read models: defence in depth beneath the API's own tenant filters.

Every read-model table with tenant data has row-level security enabled and forced. Two policies decide:

- `owner_all`, for the role that creates the tables (the projector, migrations, rebuilds, workers): every row;
- `scoped`, for any other role (the web role): only rows within the scope of the transaction's caller.

The scope is a set of per-transaction settings (`set_config(..., true)`), which PostgreSQL drops at commit or
rollback, so a pooled connection never carries one request's scope into the next; a transaction that never
entered a scope sees no row at all. The web process enters the caller's scope at the start of every
transaction with `methodical_enter(person, tenant, operator, today)`, a SECURITY DEFINER function: it looks up
what the caller may see (as the owner, so the policies never recurse) and sets

- `methodical.all`      the platform operator: every row;
- `methodical.caller`   someone authenticated: the unions' public facts (api.md, Unions);
- `methodical.tenants`  the caller's organization, the departments above it (cross-organization units, p.16,
                         p.27), the organizations below a department (p.5, p.16), and the organizations an
                         auditor holds an active grant for;
- `methodical.unions`   the unions the organization belongs to or coordinates, or an auditor's union grants;
- `methodical.chaired`  the unions whose every member's circulars the caller sees: chair and coordinator (p.34).

The scope is coarser than the API's rules (a school sees its district's rows, not only the units its people
belong to): it bounds what a flaw in one query could show to the caller's own part of the hierarchy.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from sqlalchemy import DDL, Connection, MetaData, Table, event, text


# `(SELECT f())` makes PostgreSQL evaluate the setting once per query (an InitPlan), not once per row.
_ALL = "(SELECT methodical_all())"
# (the cast keeps `= ANY (...)` an array comparison, not the `ANY (subquery)` form)
_TENANTS = "(SELECT methodical_scope('methodical.tenants'))::uuid[]"
_UNIONS = "(SELECT methodical_scope('methodical.unions'))::uuid[]"
_CHAIRED = "(SELECT methodical_scope('methodical.chaired'))::uuid[]"
_CALLER = "(SELECT current_setting('methodical.caller', true) <> '')"

_BY_TENANT = f"{_ALL} OR tenant_id = ANY ({_TENANTS})"

# Each protected table and who may see its rows; a table with tenant data that is missing here fails a test.
POLICIES: dict[str, str] = {
    "rm_tenants": _BY_TENANT,
    "rm_people": _BY_TENANT,
    "rm_units": _BY_TENANT,
    "rm_unit_members": _BY_TENANT,
    "rm_unit_leaders": _BY_TENANT,
    "rm_plans": _BY_TENANT,
    "rm_meetings": _BY_TENANT,
    "rm_documents": _BY_TENANT,
    "rm_document_versions": _BY_TENANT,
    "rm_document_attachments": _BY_TENANT,
    "rm_document_conclusions": _BY_TENANT,
    # A union's name, sector, specialties and members are public to anyone authenticated.
    "rm_unions": f"{_ALL} OR {_CALLER}",
    "rm_union_members": f"{_ALL} OR {_CALLER}",
    "rm_union_decisions": f"{_ALL} OR union_id = ANY ({_UNIONS})",
    # A member organization sees its own circulars; the chair and the coordinator every member's (p.34).
    "rm_circulars": f"{_BY_TENANT} OR union_id = ANY ({_CHAIRED})",
    "rm_audit_events": f"{_BY_TENANT} OR union_id = ANY ({_UNIONS})",
    "rm_audit_grants": f"{_BY_TENANT} OR union_id = ANY ({_UNIONS})",
    # Not read models, but tenant data the web reads: rendered circulars, uploaded attachments, kept answers.
    "circular_documents": f"{_BY_TENANT} OR union_id = ANY ({_CHAIRED})",
    "document_files": _BY_TENANT,
    # The kept answers of idempotent commands (an operator's have no tenant: the operator's alone).
    "idempotent_responses": _BY_TENANT,
    # Reminders (ADR 023): each person's notifications and reads are kept in the person's own tenant.
    "rm_notifications": _BY_TENANT,
    "rm_notification_reads": _BY_TENANT,
    "rm_mail_recipients": _BY_TENANT,
    "rm_reminder_settings": _BY_TENANT,
    "mail_outbox": _BY_TENANT,
    "reminder_passes": _BY_TENANT,
}
# Tables the web role also appends to: only within its caller's own scope.
INSERTS: dict[str, str] = {"document_files": _BY_TENANT, "idempotent_responses": _BY_TENANT}

FUNCTIONS = """
CREATE OR REPLACE FUNCTION methodical_all() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('methodical.all', true), '') = 'on' $$;

CREATE OR REPLACE FUNCTION methodical_scope(setting text) RETURNS uuid[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting(setting, true), ''), '{}')::uuid[] $$;

CREATE OR REPLACE FUNCTION methodical_enter(person uuid, tenant uuid, operator boolean, today date)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  tenants uuid[];
  unions uuid[];
  chaired uuid[];
BEGIN
  PERFORM set_config('methodical.all', CASE WHEN operator THEN 'on' ELSE '' END, true);
  PERFORM set_config('methodical.caller', CASE WHEN operator THEN 'operator' ELSE coalesce(person::text, '') END,
                     true);
  IF operator OR person IS NULL OR tenant IS NULL THEN
    RETURN;
  END IF;
  tenants := ARRAY[tenant]
    || ARRAY(SELECT up.id FROM rm_tenants t JOIN rm_tenants up ON up.id IN (t.parent_id,
               (SELECT p.parent_id FROM rm_tenants p WHERE p.id = t.parent_id)) WHERE t.id = tenant)
    || ARRAY(SELECT down.id FROM rm_tenants down WHERE down.parent_id = tenant
             OR down.parent_id IN (SELECT c.id FROM rm_tenants c WHERE c.parent_id = tenant))
    || ARRAY(SELECT g.tenant_id FROM rm_audit_grants g WHERE g.auditor_id = person AND g.tenant_id IS NOT NULL
             AND g.revoked_at IS NULL AND g.until >= today);
  unions := ARRAY(SELECT m.union_id FROM rm_union_members m WHERE m.tenant_id = tenant)
    || ARRAY(SELECT u.id FROM rm_unions u WHERE u.coordinator_id = tenant)
    || ARRAY(SELECT g.union_id FROM rm_audit_grants g WHERE g.auditor_id = person AND g.union_id IS NOT NULL
             AND g.revoked_at IS NULL AND g.until >= today);
  chaired := ARRAY(SELECT u.id FROM rm_unions u
                   WHERE u.coordinator_id = tenant OR u.chair ->> 'person_id' = person::text);
  PERFORM set_config('methodical.tenants', tenants::text, true);
  PERFORM set_config('methodical.unions', unions::text, true);
  PERFORM set_config('methodical.chaired', chaired::text, true);
END $$;
"""


def policy_ddl(table: str) -> str:
    """Return the statements that put the table under row-level security (run by its owner, who keeps every row)."""
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;"
        f" ALTER TABLE {table} FORCE ROW LEVEL SECURITY;"
        f" DROP POLICY IF EXISTS owner_all ON {table};"
        f" CREATE POLICY owner_all ON {table} TO CURRENT_USER USING (true) WITH CHECK (true);"
        f" DROP POLICY IF EXISTS scoped ON {table};"
        f" CREATE POLICY scoped ON {table} FOR SELECT USING ({POLICIES[table]});"
        f" DROP POLICY IF EXISTS scoped_insert ON {table};"
        + (f" CREATE POLICY scoped_insert ON {table} FOR INSERT WITH CHECK ({INSERTS[table]});"
           if table in INSERTS else "")
    )


def protect(metadata: MetaData) -> None:
    """Make every creation of a protected table of the metadata put it under its policies at once (called by what
    creates tables: `projections.registry.create_schema` and the rebuilds, before they create any)."""
    for table in metadata.tables.values():
        if table.name in POLICIES and not event.contains(table, "after_create", _protect_created):
            event.listen(table, "after_create", _protect_created)


def _protect_created(target: Table, connection: Connection, **kw: object) -> None:
    # The functions its policy names first (a no-op when they exist).
    connection.execute(DDL(FUNCTIONS))
    connection.execute(DDL(policy_ddl(target.name)))


def secure_existing(conn: Connection) -> None:
    """Put every protected table that exists under its policies (for databases made before they existed)."""
    conn.execute(DDL(FUNCTIONS))
    existing = {row[0] for row in conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
    for table in POLICIES:
        if table in existing:
            conn.execute(DDL(policy_ddl(table)))


def enter(conn: Connection, person: UUID | None, tenant: UUID | None, operator: bool, today: date) -> None:
    """Enter the caller's scope for the rest of this transaction."""
    conn.exec_driver_sql("SELECT methodical_enter(%s, %s, %s, %s)", (person, tenant, operator, today))

