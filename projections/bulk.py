"""The bulk rebuild: every read model from one pass over the log, folded in memory and loaded with COPY.

The live projector applies each event with SQL statements (projections/*.py handlers), which is right for one
event at a time and far too slow for millions. Here each read model has a *folder* that keeps its rows in
memory (dicts keyed like the tables' primary keys, with the few indexes its handlers look rows up by) and
applies each event exactly as the read model's handler does in SQL; at the end the rows are written with
binary COPY into tables created without their secondary indexes, which are built afterwards. The audit index's
rows never change once written, so they go into their COPY while the log is read.

The events are read and decoded once for all read models. Everything happens in one transaction that
first locks the read models' tracking rows: a live runner that meets a new event meanwhile waits, then skips
what the rebuild covered, exactly as with the per-event rebuild (projections/base.py `rebuild`), and readers
never see a half-built read model. A read model without a folder falls back to that per-event rebuild.

`tests/integration/test_bulk_rebuild.py` checks that every table equals what the per-event handlers write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import logging
import operator
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from psycopg import Copy
from psycopg.types.json import set_json_dumps
from sqlalchemy import Connection, Engine, Table, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, DropIndex

from domain.audit import AuditGrant
from domain.documents import DOCUMENT_KINDS, SUBMITTED, MethodicalDocument
from domain.compliance import day_of
from domain.people import Person
from domain.plans import AnnualPlan
from domain.tenants import Tenant
from domain.unions import ACKNOWLEDGED, DELIVERED, FAILED, ISSUED, Circular, Decision, Union
from domain.units import UNIT_KINDS, Unit
from projections import audit as audit_rm
from projections import circulars as circulars_rm
from projections import documents as documents_rm
from projections import people as people_rm
from projections import tenants as tenants_rm
from projections import unions as unions_rm
from projections import units as units_rm
from projections.base import ReadModel, rebuild, record_fingerprint, tracking

log = logging.getLogger(__name__)

READ_BATCH = 5_000  # notifications read per query


def _person(meta: dict[str, Any]) -> UUID | None:
    person_id = (meta.get("actor") or {}).get("person_id")
    return UUID(person_id) if person_id else None


class Folder:
    """Keeps one read model's rows in memory while the log is replayed."""

    read_model: ReadModel

    def __init__(self) -> None:
        self.rows: dict[Table, Any] = {}
        self.handlers: dict[type, Any] = {}

    def apply(self, event: Any, position: int) -> None:
        handler = self.handlers.get(type(event))
        if handler is not None:
            handler(event, position)

    def table_rows(self, table: Table) -> Iterable[dict[str, Any]]:
        """Return the rows to load into the table."""
        rows = self.rows[table]
        return rows.values() if isinstance(rows, dict) else rows

    def streaming(self, conn: Connection) -> contextlib.AbstractContextManager[Any]:
        """While the log is read: write the rows that can no longer change as they are folded (only the audit
        index has such)."""
        return contextlib.nullcontext()

    def release(self) -> None:
        """Drop the handlers: bound methods of the folder, they make it a reference cycle, which would keep every
        row it folded until the cyclic collector's next full pass rather than free them as the rebuild ends."""
        self.handlers.clear()


class TenantsFolder(Folder):
    read_model = tenants_rm.read_model

    def __init__(self) -> None:
        super().__init__()
        self.tenants: dict[UUID, dict[str, Any]] = {}
        self.rows = {tenants_rm.tenants: self.tenants}
        self.handlers = {Tenant.Registered: self.registered, Tenant.CalendarSet: self.calendar}

    def registered(self, e: Any, position: int) -> None:
        self.tenants[e.originator_id] = dict(
            id=e.originator_id, tenant_id=e.originator_id, seq=position, name=e.name, kind=e.kind, bin=e.bin,
            region=e.region, parent_id=e.parent_id, language=e.language, email=e.email, quarters=None,
            registered_at=e.timestamp, updated_at=e.timestamp)

    def calendar(self, e: Any, position: int) -> None:
        row = self.tenants.get(e.originator_id)
        if row is not None:
            row.update(quarters=e.quarters, updated_at=e.timestamp)


class PeopleFolder(Folder):
    read_model = people_rm.read_model

    def __init__(self) -> None:
        super().__init__()
        self.people: dict[UUID, dict[str, Any]] = {}
        self.rows = {people_rm.people: self.people}
        self.handlers = {Person.Joined: self.joined, Person.Changed: self.changed, Person.Left: self.left,
                         Person.TokenIssued: self.token_issued, Person.TokenRevoked: self.token_revoked}

    def joined(self, e: Any, position: int) -> None:
        self.people[e.originator_id] = dict(
            id=e.originator_id, tenant_id=e.tenant, seq=position, full_name=e.full_name, roles=list(e.roles),
            subjects=list(e.subjects), status=people_rm.ACTIVE, joined_at=e.timestamp, left_at=None,
            updated_at=e.timestamp, tokens=[])

    def changed(self, e: Any, position: int) -> None:
        row = self.people.get(e.originator_id)
        if row is not None:
            row.update(full_name=e.full_name, roles=list(e.roles), subjects=list(e.subjects), updated_at=e.timestamp)

    def left(self, e: Any, position: int) -> None:
        row = self.people[e.originator_id]
        row.update(status=people_rm.LEFT, left_at=e.timestamp, updated_at=e.timestamp,
                   tokens=[{**t, "revoked": True} for t in row["tokens"]])

    def token_issued(self, e: Any, position: int) -> None:
        row = self.people[e.originator_id]
        row["tokens"] = [*row["tokens"], {"id": str(e.token_id), "issued_at": e.timestamp.isoformat(),
                                          "revoked": False}]

    def token_revoked(self, e: Any, position: int) -> None:
        row = self.people[e.originator_id]
        row["tokens"] = [{**t, "revoked": True} if t["id"] == str(e.token_id) else t for t in row["tokens"]]


class UnitsFolder(Folder):
    read_model = units_rm.read_model

    def __init__(self) -> None:
        super().__init__()
        self.units: dict[UUID, dict[str, Any]] = {}
        self.members: list[dict[str, Any]] = []
        self.members_of_unit: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
        self.members_of_person: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
        self.leaders: list[dict[str, Any]] = []
        self.leaders_of_unit: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
        self.plans: dict[UUID, dict[str, Any]] = {}
        self.meetings: list[dict[str, Any]] = []
        self.rows = {units_rm.units: self.units, units_rm.unit_members: self.members,
                     units_rm.unit_leaders: self.leaders, units_rm.plans: self.plans, units_rm.meetings: self.meetings}
        self.handlers = {Unit.Formed: self.formed, Unit.MemberJoined: self.joined, Unit.MemberLeft: self.left,
                         Person.Left: self.person_left, Unit.LeaderChosen: self.leader, Unit.MeetingHeld: self.meeting,
                         AnnualPlan.Drafted: self.plan_drafted, AnnualPlan.Revised: self.plan_revised,
                         AnnualPlan.Approved: self.plan_approved}

    def _member(self, row: dict[str, Any]) -> None:
        self.members.append(row)
        self.members_of_unit[row["unit_id"]].append(row)
        self.members_of_person[row["person_id"]].append(row)

    def _recount(self, unit_id: UUID, on: Any, at: Any) -> None:
        row = self.units.get(unit_id)
        if row is None:
            return
        current = [m for m in self.members_of_unit[unit_id] if m["left_at"] is None]
        count = len(current)
        since = row["below_minimum_since"]
        if count >= UNIT_KINDS[row["kind"]].minimum:
            since = None
        elif since is None:
            since = on
        row.update(member_count=count, below_minimum_since=since, updated_at=at)
        if row["leader_id"] is not None:
            leader_here = any(m["person_id"] == row["leader_id"] for m in current)
            row["leader_gone_since"] = None if leader_here else (row["leader_gone_since"] or on)

    def formed(self, e: Any, position: int) -> None:
        self.units[e.originator_id] = dict(
            id=e.originator_id, tenant_id=e.tenant, seq=position, kind=e.kind, name=e.name, subject=e.subject,
            formed_at=e.timestamp, member_count=len(e.members), below_minimum_since=None, leader_id=None,
            leader_method=None, leader_starts_on=None, leader_ends_on=None, leader_gone_since=None,
            updated_at=e.timestamp)
        for member in e.members:
            self._member(dict(unit_id=e.originator_id, person_id=UUID(member["person_id"]), seq=position,
                              tenant_id=e.tenant, member_tenant_id=UUID(member["tenant_id"]), joined_at=e.timestamp,
                              left_at=None, left_because=None))

    def joined(self, e: Any, position: int) -> None:
        self._member(dict(unit_id=e.originator_id, person_id=e.person_id, seq=position,
                          tenant_id=self.units[e.originator_id]["tenant_id"], member_tenant_id=e.member_tenant_id,
                          joined_at=e.timestamp, left_at=None, left_because=None))
        self._recount(e.originator_id, day_of(e.timestamp), e.timestamp)

    def left(self, e: Any, position: int) -> None:
        for m in self.members_of_unit[e.originator_id]:
            if m["person_id"] == e.person_id and m["left_at"] is None:
                m.update(left_at=e.timestamp, left_because="left the unit")
        self._recount(e.originator_id, day_of(e.timestamp), e.timestamp)

    def person_left(self, e: Any, position: int) -> None:
        affected = set()
        for m in self.members_of_person[e.originator_id]:
            if m["left_at"] is None:
                m.update(left_at=e.timestamp, left_because="left the organization")
                affected.add(m["unit_id"])
        for unit_id in affected:
            self._recount(unit_id, day_of(e.timestamp), e.timestamp)

    def leader(self, e: Any, position: int) -> None:
        unit = self.units[e.originator_id]
        row = dict(seq=position, unit_id=e.originator_id, tenant_id=unit["tenant_id"], person_id=e.person_id,
                   method=e.method, starts_on=e.starts_on, ends_on=e.ends_on, chosen_at=e.timestamp)
        self.leaders.append(row)
        self.leaders_of_unit[e.originator_id].append(row)
        latest = max(self.leaders_of_unit[e.originator_id], key=lambda r: (r["starts_on"], r["seq"]))
        unit.update(leader_id=latest["person_id"], leader_method=latest["method"],
                    leader_starts_on=latest["starts_on"], leader_ends_on=latest["ends_on"], leader_gone_since=None,
                    updated_at=e.timestamp)
        self._recount(e.originator_id, day_of(e.timestamp), e.timestamp)

    def meeting(self, e: Any, position: int) -> None:
        self.meetings.append(dict(
            id=e.meeting_id, tenant_id=self.units[e.originator_id]["tenant_id"], unit_id=e.originator_id, seq=position,
            held_on=e.held_on, agenda=e.agenda, minutes=e.minutes, attendee_ids=list(e.attendee_ids),
            recorded_by=_person(e.meta)))

    def plan_drafted(self, e: Any, position: int) -> None:
        self.plans[e.originator_id] = dict(
            id=e.originator_id, tenant_id=e.tenant, unit_id=e.unit_id, seq=position, academic_year=e.academic_year,
            items=e.items, status="draft", drafted_at=e.timestamp, approved_at=None, approved_by=None)

    def plan_revised(self, e: Any, position: int) -> None:
        row = self.plans.get(e.originator_id)
        if row is not None:
            row["items"] = e.items

    def plan_approved(self, e: Any, position: int) -> None:
        row = self.plans.get(e.originator_id)
        if row is not None:
            row.update(status="approved", approved_at=e.timestamp, approved_by=e.approved_by)


class DocumentsFolder(Folder):
    read_model = documents_rm.read_model

    def __init__(self) -> None:
        super().__init__()
        self.documents: dict[UUID, dict[str, Any]] = {}
        self.versions: dict[tuple[UUID, int], dict[str, Any]] = {}
        self.attachments: dict[UUID, dict[str, Any]] = {}
        self.conclusions: list[dict[str, Any]] = []
        self.conclusions_of: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
        self.rows = {documents_rm.documents: self.documents, documents_rm.versions: self.versions,
                     documents_rm.attachments: self.attachments, documents_rm.conclusions: self.conclusions}
        D = MethodicalDocument
        self.handlers = {D.Drafted: self.drafted, D.FileAttached: self.attached, D.Revised: self.revised,
                         D.Submitted: self.submitted, D.ConclusionIssued: self.concluded, D.Approved: self.approved,
                         D.Rejected: self.rejected, D.Withdrawn: self.withdrawn}

    def _add_attachments(self, document_id: UUID, tenant_id: UUID, version: int, files: list[dict[str, Any]]) -> None:
        for file in files:
            file_id = UUID(file["id"])
            if file_id not in self.attachments:
                self.attachments[file_id] = dict(
                    id=file_id, document_id=document_id, tenant_id=tenant_id, filename=file["filename"],
                    media_type=file["media_type"], size=file["size"], sha256=file["sha256"], first_version=version)

    def _refresh(self, document_id: UUID, at: Any) -> None:
        row = self.documents[document_id]
        awaiting, unit_id = None, None
        if row["status"] == SUBMITTED:
            given = {c["unit_id"]: c["positive"] for c in self.conclusions_of[document_id]
                     if c["version"] == row["version"]}
            awaiting = documents_rm.APPROVAL
            for step_unit in row["route"]:
                if given.get(step_unit) is True:
                    continue
                awaiting, unit_id = (documents_rm.REVISION if step_unit in given else documents_rm.REVIEW), step_unit
                break
        row.update(awaiting=awaiting, awaiting_unit_id=unit_id, updated_at=at)

    def drafted(self, e: Any, position: int) -> None:
        self.documents[e.originator_id] = dict(
            id=e.originator_id, tenant_id=e.tenant, seq=position, kind=e.kind, clause=DOCUMENT_KINDS[e.kind].clause,
            title=e.title, author_id=e.author_id, unit_id=e.unit_id, status="draft", version=1,
            content_hash=e.content_hash, route=[], awaiting=None, awaiting_unit_id=None, drafted_at=e.timestamp,
            submitted_at=None, updated_at=e.timestamp, decided_at=None, decided_by=None, reason=None)
        self.versions[(e.originator_id, 1)] = dict(
            document_id=e.originator_id, version=1, tenant_id=e.tenant, body=e.body, content_hash=e.content_hash,
            attachments=[], created_at=e.timestamp, created_by=e.author_id)

    def attached(self, e: Any, position: int) -> None:
        doc = self.documents[e.originator_id]
        version = self.versions[(e.originator_id, e.version)]
        version.update(attachments=[*version["attachments"], e.attachment], content_hash=e.content_hash)
        doc.update(content_hash=e.content_hash, updated_at=e.timestamp)
        self._add_attachments(e.originator_id, doc["tenant_id"], e.version, [e.attachment])

    def revised(self, e: Any, position: int) -> None:
        doc = self.documents[e.originator_id]
        self.versions[(e.originator_id, e.version)] = dict(
            document_id=e.originator_id, version=e.version, tenant_id=doc["tenant_id"], body=e.body,
            content_hash=e.content_hash, attachments=list(e.attachments), created_at=e.timestamp,
            created_by=_person(e.meta))
        doc.update(version=e.version, content_hash=e.content_hash)
        self._add_attachments(e.originator_id, doc["tenant_id"], e.version, list(e.attachments))
        self._refresh(e.originator_id, e.timestamp)

    def submitted(self, e: Any, position: int) -> None:
        self.documents[e.originator_id].update(status=SUBMITTED, route=list(e.route), submitted_at=e.timestamp)
        self._refresh(e.originator_id, e.timestamp)

    def concluded(self, e: Any, position: int) -> None:
        row = dict(seq=position, document_id=e.originator_id, tenant_id=self.documents[e.originator_id]["tenant_id"],
                   unit_id=e.unit_id, step=e.step, version=e.version, content_hash=e.content_hash,
                   positive=e.positive, remarks=e.remarks, given_by=e.given_by, given_at=e.timestamp)
        self.conclusions.append(row)
        self.conclusions_of[e.originator_id].append(row)
        self._refresh(e.originator_id, e.timestamp)

    def approved(self, e: Any, position: int) -> None:
        self.documents[e.originator_id].update(status="approved", decided_at=e.timestamp, decided_by=e.approved_by)
        self._refresh(e.originator_id, e.timestamp)

    def rejected(self, e: Any, position: int) -> None:
        self.documents[e.originator_id].update(status="rejected", decided_at=e.timestamp, decided_by=e.rejected_by,
                                               reason=e.reason)
        self._refresh(e.originator_id, e.timestamp)

    def withdrawn(self, e: Any, position: int) -> None:
        self.documents[e.originator_id].update(status="withdrawn", decided_at=e.timestamp,
                                               decided_by=_person(e.meta), reason=e.reason)
        self._refresh(e.originator_id, e.timestamp)


class AuditFolder(Folder):
    """Every event's index row (written as the log is read: they never change), and the grants."""

    read_model = audit_rm.read_model

    def __init__(self) -> None:
        super().__init__()
        self.grants: dict[UUID, dict[str, Any]] = {}
        self.rows = {audit_rm.audit_grants: self.grants}  # the index rows are not kept: `streaming` writes them
        self.columns = [c.name for c in audit_rm.audit_events.columns]
        self.types: dict[type, tuple[str, str, tuple[str, ...]]] = {}
        self.uuids: dict[str, UUID] = {}
        self.write: Any = None  # the open COPY's write_row while streaming

    @contextlib.contextmanager
    def streaming(self, conn: Connection) -> Iterator[None]:
        """Every index row goes into one COPY held open while the log is read: the server stores the rows meanwhile,
        on the other core, and only the last of them are waited for."""
        with copying(conn, audit_rm.audit_events, self.columns) as copy:
            self.write = copy.write_row
            try:
                yield
            finally:
                self.write = None

    def uuid(self, value: Any) -> UUID:
        """UUID(str(value)), remembered: the same tenants and people recur in every event's metadata."""
        found = self.uuids.get(value)
        if found is None:
            found = self.uuids[value] = UUID(str(value))
        return found

    def apply(self, event: Any, position: int) -> None:
        meta = getattr(event, "meta", None) or {}
        actor = meta.get("actor") or {}
        cls = type(event)
        known = self.types.get(cls)
        if known is None:
            # The event type's names and its own payload fields (audit.event_data's), worked out once per class.
            aggregate, type_ = audit_rm.event_type(event)
            fields = tuple(f.name for f in dataclasses.fields(event) if f.name not in audit_rm._BASE_FIELDS)
            known = self.types[cls] = (aggregate, type_, fields)
        uuid = self.uuid
        tenant, union, person = meta.get("tenant_id"), meta.get("union_id"), actor.get("person_id")
        # The payload as audit.event_data gives it: the COPY's JSON encoder writes what json_safe converts.
        self.write((
            position, uuid(tenant) if tenant else None, uuid(union) if union else None, event.originator_id,
            known[0], event.originator_version, known[1], event.timestamp, uuid(person) if person else None,
            actor.get("role"), meta.get("clause"), meta.get("request_id"),
            {name: getattr(event, name) for name in known[2]}))
        if cls is AuditGrant.Granted:
            self.grants[event.originator_id] = dict(
                id=event.originator_id, seq=position, tenant_id=event.tenant, union_id=event.union,
                auditor_id=event.auditor_id, until=event.until, granted_at=event.timestamp,
                granted_by=UUID(person) if person else None, revoked_at=None)
        elif cls is AuditGrant.Revoked:
            grant = self.grants.get(event.originator_id)
            if grant is not None:
                grant["revoked_at"] = event.timestamp


class UnionsFolder(Folder):
    read_model = unions_rm.read_model

    def __init__(self) -> None:
        super().__init__()
        self.unions: dict[UUID, dict[str, Any]] = {}
        self.members: dict[tuple[UUID, UUID], dict[str, Any]] = {}
        self.decisions: dict[UUID, dict[str, Any]] = {}
        self.rows = {unions_rm.unions: self.unions, unions_rm.union_members: self.members,
                     unions_rm.decisions: self.decisions}
        self.handlers = {Union.Founded: self.founded, Union.MemberAdmitted: self.admitted, Union.MemberLeft: self.left,
                         Union.ChairApproved: self.chair, Decision.Adopted: self.adopted}

    def _touch(self, e: Any) -> None:
        row = self.unions.get(e.originator_id)
        if row is not None:
            row["updated_at"] = e.timestamp

    def founded(self, e: Any, position: int) -> None:
        self.unions[e.originator_id] = dict(
            id=e.originator_id, union_id=e.originator_id, seq=position, name=e.name, sector=e.sector,
            specialties=list(e.specialties), coordinator_id=e.coordinator_id, chair=None, founded_at=e.timestamp,
            updated_at=e.timestamp)

    def admitted(self, e: Any, position: int) -> None:
        key = (e.originator_id, e.member_id)
        if key in self.members:
            raise ValueError(f"duplicate union member {key}")  # the table's primary key refuses it too
        self.members[key] = dict(union_id=e.originator_id, id=e.member_id, seq=position, tenant_id=e.member_tenant_id,
                                 kind=e.kind, name=e.name, specialties=list(e.specialties), admitted_at=e.timestamp)
        self._touch(e)

    def left(self, e: Any, position: int) -> None:
        member = self.members.pop((e.originator_id, e.member_id), None)
        union = self.unions.get(e.originator_id)
        chair = union["chair"] if union is not None else None
        if member and member["tenant_id"] and chair and chair.get("tenant_id") == str(member["tenant_id"]):
            union["chair"] = None
        self._touch(e)

    def chair(self, e: Any, position: int) -> None:
        row = self.unions.get(e.originator_id)
        if row is not None:
            row["chair"] = {
                "person_id": str(e.person_id), "tenant_id": str(e.person_tenant_id), "full_name": e.full_name,
                "council_decision": {"number": e.council_decision_number,
                                     "date": e.council_decision_date.isoformat()},
                "approved_at": e.timestamp.isoformat(),
            }
        self._touch(e)

    def adopted(self, e: Any, position: int) -> None:
        actor = e.meta.get("actor") or {}
        self.decisions[e.originator_id] = dict(
            id=e.originator_id, union_id=e.union_id, seq=position, number=e.number, title=e.title, text=e.text,
            direction=e.direction, specialties=list(e.specialties), circulars_expected=e.circulars_expected,
            adopted_by=UUID(actor["person_id"]) if actor.get("person_id") else None, adopted_on=e.timestamp.date(),
            adopted_at=e.timestamp)


class CircularsFolder(Folder):
    read_model = circulars_rm.read_model

    def __init__(self) -> None:
        super().__init__()
        self.circulars: dict[UUID, dict[str, Any]] = {}
        self.rows = {circulars_rm.circulars: self.circulars}
        self.handlers = {Circular.Issued: self.issued, Circular.Delivered: self.delivered,
                         Circular.DeliveryFailed: self.failed, Circular.DeliveryRetried: self.retried,
                         Circular.Acknowledged: self.acknowledged}

    def issued(self, e: Any, position: int) -> None:
        self.circulars[e.originator_id] = dict(
            id=e.originator_id, tenant_id=e.recipient_tenant_id, union_id=e.union_id, decision_id=e.decision_id,
            member_id=e.member_id, seq=position, number=e.number, union_name=e.union_name,
            decision_number=e.decision_number, title=e.title, text=e.text, direction=e.direction,
            specialties=list(e.specialties), recipient_name=e.recipient_name, language=e.language, status=ISSUED,
            issued_on=e.issued_on, issued_at=e.timestamp, delivered_at=None, document_sha256=None,
            notice_sent_to=None, error=None, failed_at=None, response=None, note=None, acknowledged_by=None,
            acknowledged_at=None, updated_at=e.timestamp)

    def _update(self, e: Any, **values: Any) -> None:
        row = self.circulars.get(e.originator_id)
        if row is not None:
            row.update(updated_at=e.timestamp, **values)

    def delivered(self, e: Any, position: int) -> None:
        self._update(e, status=DELIVERED, delivered_at=e.timestamp, document_sha256=e.document_sha256,
                     notice_sent_to=e.notice_sent_to, error=None)

    def failed(self, e: Any, position: int) -> None:
        self._update(e, status=FAILED, error=e.error, failed_at=e.timestamp)

    def retried(self, e: Any, position: int) -> None:
        self._update(e, status=ISSUED, error=None)

    def acknowledged(self, e: Any, position: int) -> None:
        self._update(e, status=ACKNOWLEDGED, response=e.response, note=e.note, acknowledged_by=_person(e.meta),
                     acknowledged_at=e.timestamp)


FOLDERS: dict[str, type[Folder]] = {f.read_model.name: f for f in (
    TenantsFolder, PeopleFolder, UnitsFolder, DocumentsFolder, AuditFolder, UnionsFolder, CircularsFolder)}


# COPY


_DIALECT = postgresql.dialect()


def _type_name(column: Any) -> str:
    return column.type.compile(dialect=_DIALECT).lower()


def _json_default(value: Any) -> Any:
    """What json.dumps cannot write itself, as audit.json_safe writes it (UUIDs, dates and times as strings)."""
    if isinstance(value, (UUID, datetime, date)):
        return audit_rm.json_safe(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_dumps = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":")).encode


@contextlib.contextmanager
def copying(conn: Connection, table: Table, columns: Sequence[str]) -> Iterator[Copy]:
    """A binary COPY into the table's `columns` on the connection; its JSON values may hold UUIDs and dates."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor:
        set_json_dumps(_dumps, context=cursor)
        with cursor.copy(f'COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([_type_name(table.c[c]) for c in columns])
            yield copy


def copy_tuples(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write rows (tuples in `columns` order) into the table with binary COPY; return how many."""
    count = 0
    with copying(conn, table, columns) as copy:
        write = copy.write_row
        for row in rows:
            write(row)
            count += 1
    return count


def copy_rows(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows (dicts by column name) into the table with binary COPY; return how many."""
    columns = [c.name for c in table.columns]
    values = operator.itemgetter(*columns)
    if len(columns) == 1:  # an itemgetter of one name gives the value, not a tuple
        return copy_tuples(conn, table, columns, ((values(row),) for row in rows))
    return copy_tuples(conn, table, columns, map(values, rows))


# The rebuild


def _ddl(conn: Connection, sql: Any) -> None:
    conn.execute(text(str(sql.compile(dialect=_DIALECT))))


def _unforce_row_security(conn: Connection, tables: Sequence[Table]) -> list[str]:
    """Let the owner COPY into the tables whose row-level security is forced (applies to their owner too): COPY FROM
    refuses such a table. Done inside the loading transaction, and undone (`_force_row_security`) before its commit,
    so no other session ever sees it; return the tables to force again."""
    forced = list(conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = ANY(CAST(:names AS text[])) AND n.nspname = current_schema() AND c.relforcerowsecurity"),
        {"names": [t.name for t in tables]}).scalars())
    for name in forced:
        conn.execute(text(f'ALTER TABLE "{name}" NO FORCE ROW LEVEL SECURITY'))
    return forced


def _force_row_security(conn: Connection, names: Sequence[str]) -> None:
    for name in names:
        conn.execute(text(f'ALTER TABLE "{name}" FORCE ROW LEVEL SECURITY'))


def _lock(conn: Connection, read_models: Sequence[ReadModel], application_name: str) -> None:
    """Take every read model's tracking row lock (creating missing rows): live runners wait until the commit."""
    names = sorted(rm.name for rm in read_models)
    conn.execute(text("INSERT INTO rm_tracking (read_model, application_name, notification_id)"
                      " SELECT name, :app, 0 FROM unnest(CAST(:names AS text[])) AS name"
                      " ON CONFLICT (read_model) DO NOTHING"), {"app": application_name, "names": names})
    conn.execute(select(tracking.c.notification_id).where(tracking.c.read_model.in_(names))
                 .order_by(tracking.c.read_model).with_for_update())


def notifications(app: Any, batch: int = READ_BATCH, stop: int | None = None, start: int = 1) -> Iterator[list[Any]]:
    """Yield the log's notifications in order from `start` (up to `stop`, if given), a batch at a time.

    Each query has a lower bound only, never `stop`: given both bounds on a log whose statistics are older than its
    last load (as after any large import, until autovacuum's next ANALYZE), PostgreSQL guessed a few thousand rows
    in the range and planned a bitmap scan that sorts the whole rest of the log for every batch; reading 200,000
    events took 4.6 s instead of 1.0. The limit never asks for more ids than are left up to `stop` (ids only grow,
    with gaps where a transaction rolled back), and any row past `stop` is dropped."""
    while stop is None or start <= stop:
        limit = batch if stop is None else min(batch, stop - start + 1)
        found = app.recorder.select_notifications(start=start, limit=limit)
        if stop is not None and found and found[-1].id > stop:
            found = [n for n in found if n.id <= stop]
        if not found:
            return
        yield found
        start = found[-1].id + 1


def rebuild_all(app: Any, engine: Engine, names: Sequence[str] | None = None,
                read_models: dict[str, ReadModel] | None = None) -> dict[str, int]:
    """Drop and rebuild the named read models (default: all) from one pass over the log; return the events
    each replayed. Read models without a folder are rebuilt event by event after the others."""
    if read_models is None:
        from projections.runner import READ_MODELS as read_models  # noqa: N811
    chosen = [read_models[n] for n in (names or list(read_models))]
    bulk = [rm for rm in chosen if rm.name in FOLDERS]
    slow = [rm for rm in chosen if rm.name not in FOLDERS]
    replayed: dict[str, int] = {}
    if bulk:
        count = _rebuild_bulk(app, engine, bulk)
        replayed.update({rm.name: count for rm in bulk})
    for rm in slow:
        from projections.runner import stored_events

        replayed[rm.name] = rebuild(engine, rm, stored_events(app), app.name)
    return replayed


@contextlib.contextmanager
def _without_cyclic_collection() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees everything else).

    The fold keeps millions of rows alive, and every full pass of the collector walks all of them: at a million
    events its passes took about a third of the rebuild (30 of 85 s), while the fold makes no garbage cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rebuild_bulk(app: Any, engine: Engine, read_models: Sequence[ReadModel]) -> int:
    folders = [FOLDERS[rm.name]() for rm in read_models]
    with _without_cyclic_collection():
        try:
            return _fold_and_load(app, engine, read_models, folders)
        finally:
            # Freed while the collector still rests: all of it is young (never examined since the fold began), and
            # the collector's first pass after it resumed walked every row still held (0.6 of 9.8 s at 200,000).
            while folders:
                folders.pop().release()


def _fold_and_load(app: Any, engine: Engine, read_models: Sequence[ReadModel], folders: list[Folder]) -> int:
    tables = [table for rm in read_models for table in rm.tables]
    mapper = app.mapper
    replayed = 0
    with engine.begin() as conn:
        # The transaction waits on the log between its statements, and its last statements load every row.
        conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        _lock(conn, read_models, app.name)
        # What this rebuild covers: the log as committed now (ids commit in order); the live runners, waiting on
        # the tracking rows, go on from there.
        stop = app.recorder.max_notification_id() or 0
        for table in reversed(tables):
            table.drop(conn, checkfirst=True)
        for table in tables:
            # Created as the live path creates them (with whatever listens to their creation), then without their
            # secondary indexes until the rows are in: building an index once is cheaper than maintaining it.
            table.create(conn)
            for index in table.indexes:
                _ddl(conn, DropIndex(index))
        forced = _unforce_row_security(conn, tables)
        started = time.perf_counter()
        # Which folders follow which event class, worked out once per class.
        routes: dict[type, list[Any]] = {}
        with contextlib.ExitStack() as streams:
            for folder in folders:
                streams.enter_context(folder.streaming(conn))
            for batch in notifications(app, stop=stop):
                for notification in batch:
                    event = mapper.to_domain_event(notification)
                    cls = type(event)
                    appliers = routes.get(cls)
                    if appliers is None:
                        appliers = routes[cls] = [f.handlers[cls] for f in folders if cls in f.handlers]
                        appliers += [f.apply for f in folders if isinstance(f, AuditFolder)]
                    position = notification.id
                    for apply in appliers:
                        apply(event, position)
                replayed += len(batch)
        folded = time.perf_counter()
        for folder in folders:
            for table in folder.rows:  # the tables whose rows it held to the end
                copy_rows(conn, table, folder.table_rows(table))
        loaded = time.perf_counter()
        for table in tables:
            for index in sorted(table.indexes, key=lambda i: i.name or ""):
                _ddl(conn, CreateIndex(index))
            # Statistics now, not whenever autovacuum comes: the first reads are planned on the real row counts.
            conn.execute(text(f"ANALYZE {table.name}"))
        log.info("rebuild of %s: %d events read and folded in %.1f s, the rows loaded in %.1f s, indexed and analyzed"
                 " in %.1f s", ", ".join(rm.name for rm in read_models), replayed, folded - started, loaded - folded,
                 time.perf_counter() - loaded)
        _force_row_security(conn, forced)
        conn.execute(tracking.update().where(tracking.c.read_model.in_([rm.name for rm in read_models]))
                     .values(notification_id=stop, application_name=app.name))
        for rm in read_models:
            record_fingerprint(conn, rm)
    return replayed


# The tamper-evidence chain, computed in bulk for the events it has not linked yet


def build_chain(engine: Engine, signing_key: Any = None, interval: int = 1000) -> dict[str, Any]:
    """Link every event after the chain's head (as the live Chainer does, with a checkpoint every `interval`
    events); in one transaction holding the chain's tracking row. Return how many were linked."""
    from projections.chain import EVENTS_TABLE, GENESIS, Chainer, canonical, chain, next_link

    chainer = Chainer(signing_key, interval)
    linked = 0
    with engine.begin() as conn:
        _lock(conn, [chainer.read_model], _application_name())
        head = conn.execute(select(chain.c.position, chain.c.link).order_by(chain.c.position.desc()).limit(1)).first()
        previous, after = (bytes(head.link), head.position) if head else (GENESIS, 0)
        last_checkpoint = conn.execute(text("SELECT coalesce(max(position), 0) FROM audit_checkpoints")).scalar_one()
        raw = conn.connection.dbapi_connection
        assert raw is not None
        marks: list[tuple[int, bytes]] = []
        rows: list[tuple[int, bytes, bytes]] = []
        with raw.cursor(name="chain_events") as cursor:
            cursor.itersize = 10_000
            cursor.execute("SELECT notification_id, originator_id, originator_version, topic, state"
                           f" FROM {EVENTS_TABLE}"
                           " WHERE notification_id > %s ORDER BY notification_id", (after,))
            for position, originator_id, version, topic, state in cursor:
                digest = hashlib.sha256(canonical(originator_id, version, topic, bytes(state))).digest()
                previous = next_link(previous, position, digest)
                rows.append((position, digest, previous))
                if position - last_checkpoint >= interval:
                    marks.append((position, previous))
                    last_checkpoint = position
        forced = _unforce_row_security(conn, [chain])
        linked = copy_tuples(conn, chain, ["position", "event_digest", "link"], rows)
        _force_row_security(conn, forced)
        for position, link in marks:
            chainer.checkpoint(conn, position, link)
        if rows:
            conn.execute(tracking.update().where(tracking.c.read_model == chainer.read_model.name)
                         .values(notification_id=rows[-1][0]))
    return {"linked": linked, "checkpoints": len(marks)}


def _application_name() -> str:
    from services.config import APPLICATION_NAME

    return APPLICATION_NAME
