"""Methodical documents and their approval routes (p.18 – p.21).

A document is drafted by its author (a teacher, or a structural unit through its leader), sent along an
ordered route of the organization's own reviewing units, concluded on by each of them in turn, and approved
by the role its kind's clause names. Every content change makes a new version; a conclusion counts only for
the version (content hash) it was given on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import policy
from domain.base import Conflict, Context, InvalidValue, Phrase, Recorded, RuleViolation, Series, Term, Unsupported

METHODICAL_DOCUMENTATION = "methodical_documentation"
WORKING_CURRICULUM = "working_curriculum"
WORKING_PROGRAM = "working_program"
LESSON_PLAN = "lesson_plan"
METHODICAL_GUIDELINES = "methodical_guidelines"

DRAFT, SUBMITTED, APPROVED, REJECTED, WITHDRAWN = "draft", "submitted", "approved", "rejected", "withdrawn"
STATUSES = (DRAFT, SUBMITTED, APPROVED, REJECTED, WITHDRAWN)
FINAL = (APPROVED, REJECTED, WITHDRAWN)

# The capacities in which someone speaks for a unit: its leader (chair, head), or, in a unit the Rules give
# no leader (an office, a cabinet, a section), one of its members.
UNIT_LEADER = policy.UNIT_LEADER_CAPACITY
UNIT_MEMBER = policy.UNIT_MEMBER_CAPACITY
UNIT_VOICES = (UNIT_LEADER, UNIT_MEMBER)
# The capacity in which the author (the drafter, or the current leader of the developing unit) acts.
AUTHOR = policy.AUTHOR_CAPACITY

METHODICAL_COUNCIL = "methodical_council"  # domain/units.py's code; the route rules name councils

# Files: PDF, DOCX and ODT, up to 20 MB each (decimal megabytes, as the request limit counts them).
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
MEDIA_TYPES = (PDF, DOCX, ODT)
MAX_ATTACHMENT_BYTES = 20_000_000
MAX_ATTACHMENTS = 20

# Who develops a document (p.18 – p.21).
BY_UNIT = "unit"
BY_TEACHER = "teacher"
# Teachers, masters, class teachers, preschool educators and librarians author programs, plans and guidelines.
TEACHER_AUTHORS = policy.TEACHER_AUTHORS

# What a route must contain.
EVERY_COUNCIL = "every_council"
SOME_COUNCIL = "some_council"


@dataclass(frozen=True)
class DocumentKind:
    """What the Rules say of one kind of document: who develops it, what it must pass, who approves it."""

    code: str
    clause: str
    developed_by: str
    approval: policy.Action
    route_rule: str
    russian: str

    @property
    def approvers(self) -> tuple[str, ...]:
        """Return the roles that approve this kind (domain/policy.py)."""
        return self.approval.roles


DOCUMENT_KINDS: dict[str, DocumentKind] = {
    k.code: k
    for k in (
        # p.18: developed by the structural units; discussed in commissions, departments, the methodical
        # councils of the units and of the organization; approved by the head or the deputy head.
        DocumentKind(METHODICAL_DOCUMENTATION, "p.18", BY_UNIT, policy.APPROVE_METHODICAL_DOCUMENTATION,
                     SOME_COUNCIL, "учебно-методическая документация"),
        # p.19: developed by structural units; a positive conclusion in *all* relevant methodical councils;
        # approved by the head of the organization.
        DocumentKind(WORKING_CURRICULUM, "p.19", BY_UNIT, policy.APPROVE_WORKING_CURRICULUM, EVERY_COUNCIL,
                     "рабочий учебный план"),
        # p.20: developed by teachers; reviewed by the methodical council; approved by the deputy head.
        DocumentKind(WORKING_PROGRAM, "p.20", BY_TEACHER, policy.APPROVE_WORKING_PROGRAM, SOME_COUNCIL,
                     "рабочая учебная программа"),
        DocumentKind(LESSON_PLAN, "p.20", BY_TEACHER, policy.APPROVE_LESSON_PLAN, SOME_COUNCIL,
                     "поурочный план"),
        # p.21: developed by teachers; a positive conclusion in commissions, departments, councils of the
        # units and of the organization; approved by the deputy head.
        DocumentKind(METHODICAL_GUIDELINES, "p.21", BY_TEACHER, policy.APPROVE_METHODICAL_GUIDELINES, SOME_COUNCIL,
                     "методические указания и рекомендации"),
    )
}


@dataclass(frozen=True)
class ReviewingUnit:
    """What a route needs to know of a unit: whose it is and what kind."""

    unit_id: UUID
    tenant_id: UUID
    kind: str
    name: str = ""


class UnsupportedFile(Unsupported):
    """Raised when an attached file is not a PDF, DOCX or ODT document by its content."""


def check_kind(kind: str) -> DocumentKind:
    """Return the document kind, or refuse an unknown one."""
    found = DOCUMENT_KINDS.get(kind)
    if found is None:
        raise InvalidValue("Unknown document kind %(kind)r; one of %(kinds)s.", field="kind", kind=kind,
                           kinds=", ".join(DOCUMENT_KINDS))
    return found


def content_hash(body: str, attachments: Sequence[dict[str, Any]]) -> str:
    """Return the SHA-256 that names a version's content: its body and the hashes of its files, in order."""
    canonical = json.dumps({"body": body, "files": [a["sha256"] for a in attachments]}, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_filename(filename: str) -> str:
    """Return a file's name if it is one a download can bear: not blank, no folders, no control characters."""
    if (not filename.strip() or "/" in filename or "\\" in filename or len(filename) > 255
            or any(ord(c) < 32 or ord(c) == 127 for c in filename)):
        raise InvalidValue("Name the file (up to 255 characters, no folders or control characters).",
                           field="filename")
    return filename


def check_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    """Return an attachment's description if it is one the platform keeps."""
    if attachment.get("media_type") not in MEDIA_TYPES:
        raise UnsupportedFile("Attach PDF, DOCX or ODT documents only.", field="file")
    size = int(attachment.get("size", 0))
    if size <= 0:
        raise InvalidValue("The file is empty.", field="file")
    if size > MAX_ATTACHMENT_BYTES:
        raise InvalidValue("A file is at most %(bytes)s bytes.", field="file", bytes=MAX_ATTACHMENT_BYTES)
    sha = str(attachment.get("sha256", ""))
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise InvalidValue("A file is named by the hex SHA-256 of its bytes.", field="file")
    filename = check_filename(str(attachment.get("filename") or ""))
    return {"id": str(attachment["id"]), "filename": filename, "media_type": attachment["media_type"],
            "size": size, "sha256": sha}


class MethodicalDocument(Recorded):
    """A methodical document: its versions, its route of reviewing units, their conclusions, its fate."""

    class Drafted(Recorded.Created):
        tenant: UUID
        kind: str
        title: str
        author_id: UUID | None
        unit_id: UUID | None
        body: str
        content_hash: str

    class FileAttached(Recorded.Event):
        """A file added to a draft's current version (nobody has reviewed it yet)."""

        version: int
        attachment: dict[str, Any]
        content_hash: str

        def apply(self, doc: MethodicalDocument) -> None:
            current = doc.versions[-1]
            current["attachments"].append(dict(self.attachment))
            current["content_hash"] = self.content_hash

    class Submitted(Recorded.Event):
        route: list[UUID]
        version: int

        def apply(self, doc: MethodicalDocument) -> None:
            doc.route = list(self.route)
            doc.status = SUBMITTED

    class ConclusionIssued(Recorded.Event):
        unit_id: UUID
        step: int
        version: int
        content_hash: str
        positive: bool
        remarks: str
        given_by: UUID | None

        def apply(self, doc: MethodicalDocument) -> None:
            doc.conclusions.append({
                "unit_id": self.unit_id, "step": self.step, "version": self.version,
                "content_hash": self.content_hash, "positive": self.positive, "remarks": self.remarks,
                "given_by": self.given_by, "given_at": self.timestamp,
            })

    class Revised(Recorded.Event):
        version: int
        body: str
        attachments: list[dict[str, Any]]
        content_hash: str

        def apply(self, doc: MethodicalDocument) -> None:
            doc.versions.append({"version": self.version, "body": self.body,
                                 "attachments": [dict(a) for a in self.attachments],
                                 "content_hash": self.content_hash, "created_at": self.timestamp})

    class Approved(Recorded.Event):
        version: int
        content_hash: str
        approved_by: UUID | None

        def apply(self, doc: MethodicalDocument) -> None:
            doc.status = APPROVED
            doc.decided_by = self.approved_by
            doc.decided_at = self.timestamp

    class Rejected(Recorded.Event):
        reason: str
        rejected_by: UUID | None

        def apply(self, doc: MethodicalDocument) -> None:
            doc.status = REJECTED
            doc.decided_by = self.rejected_by
            doc.decided_at = self.timestamp
            doc.reason = self.reason

    class Withdrawn(Recorded.Event):
        reason: str

        def apply(self, doc: MethodicalDocument) -> None:
            doc.status = WITHDRAWN
            doc.reason = self.reason
            doc.decided_at = self.timestamp
            doc.decided_by = UUID(self.meta["actor"]["person_id"]) if self.meta["actor"]["person_id"] else None

    def __init__(self, tenant: UUID, kind: str, title: str, author_id: UUID | None, unit_id: UUID | None,
                 body: str, content_hash: str, meta: dict[str, Any]):
        self.tenant = tenant
        self.kind = kind
        self.title = title
        self.author_id = author_id
        self.unit_id = unit_id
        self.versions: list[dict[str, Any]] = [
            {"version": 1, "body": body, "attachments": [], "content_hash": content_hash,
             "created_at": self.created_on}
        ]
        self.route: list[UUID] = []
        self.conclusions: list[dict[str, Any]] = []
        self.status = DRAFT
        self.decided_by: UUID | None = None
        self.decided_at: datetime | None = None
        self.reason: str | None = None

    @property
    def tenant_id(self) -> UUID:
        return self.tenant

    @property
    def rules(self) -> DocumentKind:
        """Return what the Rules say of this document's kind."""
        return DOCUMENT_KINDS[self.kind]

    @property
    def current(self) -> dict[str, Any]:
        """Return the current version."""
        return self.versions[-1]

    @property
    def current_version(self) -> int:
        """Return the current version's number (the aggregate's own `version` counts its events)."""
        return self.current["version"]

    def attachment(self, attachment_id: UUID) -> dict[str, Any] | None:
        """Return a file of any version by its id, or None."""
        for version in reversed(self.versions):
            for attachment in version["attachments"]:
                if attachment["id"] == str(attachment_id):
                    return attachment
        return None

    # Drafting (p.18 – p.21)

    @classmethod
    def draft(cls, ctx: Context, *, tenant_id: UUID, kind: str, title: str, body: str,
              unit: ReviewingUnit | None) -> MethodicalDocument:
        """Draft version 1 of a document; its author is a teacher or a unit, as the kind's clause says."""
        doc_kind = check_kind(kind)
        if not title.strip():
            raise InvalidValue("The title must not be blank.", field="title")
        if unit is not None and unit.tenant_id != tenant_id:
            raise InvalidValue("The unit is not one of this organization's.", field="unit_id")
        if doc_kind.developed_by == BY_UNIT:
            if unit is None:
                raise RuleViolation("A %(kind)s is developed by a structural unit (%(cited)s): name it.",
                                    doc_kind.clause, "unit_id", kind=Term(kind), cited=doc_kind.clause)
            if ctx.actor.role not in UNIT_VOICES:
                raise policy.DRAFT_UNIT_DOCUMENT.refused(doc_kind.clause)
        elif ctx.actor.role not in TEACHER_AUTHORS:
            raise policy.DRAFT_TEACHER_DOCUMENT.refused(doc_kind.clause)
        return cls._create(
            cls.Drafted, id=ctx.new_id(), timestamp=ctx.at, meta=ctx.meta(tenant_id, doc_kind.clause),
            tenant=tenant_id, kind=kind, title=title, author_id=ctx.actor.person_id,
            unit_id=unit.unit_id if unit else None, body=body, content_hash=content_hash(body, []),
        )

    def check_attachable(self, ctx: Context, filename: str) -> None:
        """Refuse, before any bytes are kept, a file this actor may not attach now or a name it may not bear."""
        self._by_author(ctx, policy.ATTACH_FILE)
        self._open("attach files to")
        check_filename(filename)
        if len(self.current["attachments"]) >= MAX_ATTACHMENTS:
            raise InvalidValue("A version has at most %(files)s files.", field="file", files=MAX_ATTACHMENTS)

    def attach(self, ctx: Context, attachment: dict[str, Any]) -> None:
        """Add a file: to the current version of a draft, or, once submitted, as a new version."""
        checked = check_attachment(attachment)
        self.check_attachable(ctx, checked["filename"])
        files = self.current["attachments"]
        if self.status == DRAFT:
            self.record(self.FileAttached, ctx, self.rules.clause, version=self.current_version, attachment=checked,
                        content_hash=content_hash(self.current["body"], [*files, checked]))
        else:
            self._new_version(ctx, self.current["body"], [*files, checked])

    def revise(self, ctx: Context, body: str, keep: Collection[UUID] | None = None) -> None:
        """Make a new version with this body (and the current files, or those named in keep)."""
        self._by_author(ctx, policy.REVISE_DOCUMENT)
        self._open("revise")
        files = self.current["attachments"]
        if keep is not None:
            wanted = {str(a) for a in keep}
            unknown = wanted - {a["id"] for a in files}
            if unknown:
                raise InvalidValue("Not files of the current version: %(files)s.", files=", ".join(sorted(unknown)),
                                   field="attachment_ids")
            files = [a for a in files if a["id"] in wanted]
        self._new_version(ctx, body, files)

    def _new_version(self, ctx: Context, body: str, files: list[dict[str, Any]]) -> None:
        # The new version voids the conclusions on earlier ones: the route starts again from its first step.
        self.record(self.Revised, ctx, self.rules.clause, version=self.current_version + 1, body=body,
                    attachments=[dict(a) for a in files], content_hash=content_hash(body, files))

    # The route (p.18 – p.21)

    def submit(self, ctx: Context, route: Sequence[ReviewingUnit], councils: Collection[UUID]) -> None:
        """Fix the ordered route of the organization's reviewing units, checked against the kind's clause.

        `councils` are the organization's methodical councils: a working curriculum must reach all of them
        (p.19); the other kinds must reach at least one (p.18, p.20, p.21).
        """
        self._by_author(ctx, policy.SUBMIT_DOCUMENT)
        clause = self.rules.clause
        if self.status != DRAFT:
            raise Conflict("The document is already %(status)s; its route was fixed when it was submitted.",
                           clause, status=Term(self.status))
        if not route:
            raise RuleViolation("A %(kind)s passes review before approval (%(cited)s): name the reviewing "
                                "units in order.", clause, "route", kind=Term(self.kind), cited=clause)
        seen: set[UUID] = set()
        for unit in route:
            if unit.tenant_id != self.tenant:
                raise InvalidValue("The unit %(unit)s is not one of this organization's units.", unit=str(unit.unit_id),
                                   field="route")
            if unit.unit_id in seen:
                raise InvalidValue("The unit %(unit)s appears twice in the route.", field="route",
                                   unit=str(unit.unit_id))
            seen.add(unit.unit_id)
        on_route_councils = {u.unit_id for u in route if u.kind == METHODICAL_COUNCIL}
        if self.rules.route_rule == EVERY_COUNCIL:
            if not councils:
                raise RuleViolation(
                    "A working curriculum is approved after a positive conclusion in all the relevant methodical "
                    "councils (p.19); this organization has no methodical council yet.", clause, "route")
            missing = sorted(str(c) for c in set(councils) - on_route_councils)
            if missing:
                raise RuleViolation(
                    "A working curriculum needs a positive conclusion in all the relevant methodical councils "
                    "(p.19); the route skips: %(councils)s.", clause, "route", councils=", ".join(missing))
        elif not on_route_councils:
            raise RuleViolation(
                "A %(kind)s is reviewed by a methodical council of the organization or of its unit (%(cited)s); "
                "the route names none.", clause, "route", kind=Term(self.kind), cited=clause)
        self.record(self.Submitted, ctx, clause, route=[u.unit_id for u in route], version=self.current_version)

    def next_step(self) -> int | None:
        """Return the index of the first route step without a positive conclusion on this version."""
        if self.status != SUBMITTED:
            return None
        given = self.current_conclusions()
        for step, unit_id in enumerate(self.route):
            found = given.get(unit_id)
            if found is None or not found["positive"]:
                return step
        return None

    def current_conclusions(self) -> dict[UUID, dict[str, Any]]:
        """Return the conclusions given on the current version, by unit."""
        return {c["unit_id"]: c for c in self.conclusions if c["version"] == self.current_version}

    def conclude(self, ctx: Context, unit_id: UUID, positive: bool, remarks: str, speaks_for_unit: bool,
                 by_author: bool = False, names: Callable[[UUID], str] | None = None) -> None:
        """Record a unit's conclusion on the current version, in route order; never by the document's author."""
        clause = self.rules.clause
        if self.status != SUBMITTED:
            raise Conflict("Conclusions are given on a submitted document; this one is %(status)s.", clause,
                           status=Term(self.status))
        # p.18 - p.21: a document is discussed and concluded on by the bodies that review it, not by whoever
        # developed it: its drafter, or the leader speaking for the developing unit, gives no conclusion on it.
        if by_author or (ctx.actor.person_id is not None and ctx.actor.person_id == self.author_id):
            raise policy.CONCLUDE_ON_DOCUMENT.refused(clause)
        if unit_id not in self.route:
            raise RuleViolation("This unit is not on the document's route.", clause, "unit_id")
        if not speaks_for_unit or ctx.actor.role not in UNIT_VOICES:
            raise policy.CONCLUDE_ON_DOCUMENT.refused(clause)
        step = self.route.index(unit_id)
        given = self.current_conclusions()
        if unit_id in given:
            raise Conflict("This unit has already given its conclusion on version %(version)s.", clause,
                           version=self.current_version)
        waiting = self.next_step()
        if waiting is not None and waiting < step:
            before = self.route[waiting]
            facts = {"step": waiting + 1, "unit": _named(names)(before), "version": self.current_version}
            if before in given:
                raise RuleViolation("The route is followed in order: the conclusion of step %(step)s (%(unit)s) on "
                                    "version %(version)s is negative.", clause, "unit_id",
                                    units=_units([before], names), **facts)
            raise RuleViolation("The route is followed in order: the conclusion of step %(step)s (%(unit)s) on "
                                "version %(version)s is missing.", clause, "unit_id", units=_units([before], names),
                                **facts)
        if not positive and not remarks.strip():
            raise InvalidValue("A negative conclusion states its remarks.", field="remarks")
        self.record(self.ConclusionIssued, ctx, clause, unit_id=unit_id, step=step, version=self.current_version,
                    content_hash=self.current["content_hash"], positive=positive, remarks=remarks,
                    given_by=ctx.actor.person_id)

    # Approval, rejection, withdrawal (p.18 – p.21)

    def approving_role(self, ctx: Context, rejecting: bool = False) -> str:
        """Return the role in which the actor approves (or rejects) this kind, or refuse the wrong role or the
        author, naming the act refused."""
        clause = self.rules.clause
        held = ctx.actor.roles or (ctx.actor.role,)
        role = next((r for r in self.rules.approvers if r in held), None)
        if role is None:
            doing = self.rules.approval.doing
            raise self.rules.approval.refused(doing="Rejecting" + doing.removeprefix("Approving") if rejecting
                                              else None)
        if ctx.actor.person_id is not None and ctx.actor.person_id == self.author_id:
            raise policy.DECIDE_ON_DOCUMENT.refused(clause)
        return role

    def approve(self, ctx: Context, names: Callable[[UUID], str] | None = None) -> None:
        """Approve the current version once every step of the route has concluded positively on it (`names`: the
        name of a route's unit as people know it, asked only for a refusal)."""
        clause = self.rules.clause
        ctx = ctx.as_role(self.approving_role(ctx))
        if self.status in FINAL:
            raise Conflict("The document is already %(status)s.", clause, status=Term(self.status))
        if self.status == DRAFT:
            raise RuleViolation("A %(kind)s is approved after review (%(cited)s); it has not been submitted.",
                                clause, kind=Term(self.kind), cited=clause)
        given = self.current_conclusions()
        missing = [u for u in self.route if u not in given]
        negative = [u for u in self.route if u in given and not given[u]["positive"]]
        if negative or missing:
            named = _named(names)
            parts = []
            if negative:
                parts.append(Phrase("negative from %(units)s", units=", ".join(named(u) for u in negative)))
            if missing:
                parts.append(Phrase("missing from %(units)s", units=", ".join(named(u) for u in missing)))
            raise RuleViolation(
                "A %(kind)s is approved after a positive conclusion of every reviewing unit on the current "
                "version %(version)s (%(cited)s): %(conclusions)s.", clause,
                units=_units(negative + missing, names), kind=Term(self.kind), version=self.current_version,
                cited=clause, conclusions=Series(parts, ";"))
        self.record(self.Approved, ctx, clause, version=self.current_version, content_hash=self.current["content_hash"],
                    approved_by=ctx.actor.person_id)

    def reject(self, ctx: Context, reason: str) -> None:
        """End the document, refused by the approving role, with the reason."""
        clause = self.rules.clause
        ctx = ctx.as_role(self.approving_role(ctx, rejecting=True))
        if self.status in FINAL:
            raise Conflict("The document is already %(status)s.", clause, status=Term(self.status))
        if self.status != SUBMITTED:
            raise Conflict("A draft is not rejected; its author may withdraw it.", clause)
        if not reason.strip():
            raise InvalidValue("State the reason for the rejection.", field="reason")
        self.record(self.Rejected, ctx, clause, reason=reason, rejected_by=ctx.actor.person_id)

    def withdraw(self, ctx: Context, reason: str = "") -> None:
        """Withdraw the document before it is approved (its author)."""
        self._by_author(ctx, policy.WITHDRAW_DOCUMENT)
        self._open("withdraw")
        self.record(self.Withdrawn, ctx, self.rules.clause, reason=reason)

    # Guards

    def _by_author(self, ctx: Context, action: policy.Action) -> None:
        # The services decide who speaks for the author (the drafter, or a unit's current leader).
        if ctx.actor.role != AUTHOR:
            raise action.refused(self.rules.clause)

    def _open(self, what: str) -> None:
        if self.status in FINAL:
            raise Conflict("The document is %(status)s; nobody can %(what)s it any more.", self.rules.clause,
                           status=Term(self.status), what=Term(what))



def _named(names: Callable[[UUID], str] | None) -> Callable[[UUID], str]:
    """Return how a refusal names a unit: by its name, as people know it (its id when no name is known)."""
    return lambda unit_id: f"«{names(unit_id)}»" if names else str(unit_id)


def _units(unit_ids: Sequence[UUID], names: Callable[[UUID], str] | None) -> list[dict[str, str]]:
    """Return the units a refusal speaks of, each with its id and name."""
    return [{"id": str(u), "name": names(u) if names else ""} for u in unit_ids]
