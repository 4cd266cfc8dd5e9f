"""Methodical documents: drafting, routes of reviewing units, conclusions, approval (p.18 – p.21)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date
from uuid import UUID

from domain import policy
from domain.base import Context, InvalidValue, NotFound
from domain.documents import (
    BY_UNIT, EVERY_COUNCIL, UNIT_LEADER, UNIT_MEMBER, MethodicalDocument, ReviewingUnit, check_kind,
)
from domain.units import Unit
from services.commands import Commands, Done
from services.files import StoredFile

Store = Callable[[UUID, bytes], StoredFile]


def speaks_for(unit: Unit, person_id: UUID | None, today: date) -> str | None:
    """Return the capacity in which a person speaks for a unit: its current leader, or, in a unit the Rules
    give no leader (an office, cabinet or section), a member; None if they do not."""
    if person_id is None:
        return None
    if unit.is_leader(person_id, today):
        return UNIT_LEADER
    if not unit.rules.has_leader and person_id.hex in unit.members:
        return UNIT_MEMBER
    return None


class DocumentCommands(Commands):
    """Drafts methodical documents and carries them along their routes to approval (p.18 – p.21)."""

    def get_document(self, tenant_id: UUID, document_id: UUID) -> MethodicalDocument:
        """Return the tenant's document, or raise NotFound (also for another tenant's)."""
        return self.load(document_id, MethodicalDocument, "document", tenant_id)

    def draft_document(self, ctx: Context, tenant_id: UUID, *, kind: str, title: str, body: str,
                       unit_id: UUID | None = None) -> Done:
        """Draft version 1: a teacher drafts programs, lesson plans and guidelines (p.20, p.21); a unit's
        leader drafts its methodical documentation and working curricula (p.18, p.19)."""
        doc_kind = check_kind(kind)
        unit = self._own_unit(tenant_id, unit_id, "unit_id") if unit_id is not None else None
        if doc_kind.developed_by == BY_UNIT:
            if unit is not None:
                voice = speaks_for(unit, ctx.actor.person_id, ctx.today)
                ctx = policy.DRAFT_UNIT_DOCUMENT.permit(ctx, {policy.UNIT_VOICE: voice}, doc_kind.clause)
        else:
            ctx = policy.DRAFT_TEACHER_DOCUMENT.permit(ctx, clause=doc_kind.clause)
        doc = MethodicalDocument.draft(
            ctx, tenant_id=tenant_id, kind=kind, title=title, body=body,
            unit=ReviewingUnit(unit.id, unit.tenant, unit.kind, unit.name) if unit else None,
        )
        return Done(doc, self.commit(doc))

    def attach_file(self, ctx: Context, tenant_id: UUID, document_id: UUID, *, filename: str, data: bytes,
                    store: Store) -> Done:
        """Keep a file's bytes and attach it: to a draft's version, or, once submitted, as a new version."""
        doc = self.get_document(tenant_id, document_id)
        ctx = self._as_author(ctx, doc, policy.ATTACH_FILE)
        doc.check_attachable(ctx, filename)
        stored = store(doc.tenant, data)
        doc.attach(ctx, {"id": ctx.new_id(), "filename": filename, "media_type": stored.media_type,
                         "size": stored.size, "sha256": stored.sha256})
        return Done(doc, self.commit(doc))

    def submit_document(self, ctx: Context, tenant_id: UUID, document_id: UUID, *, route: Sequence[UUID],
                        councils: Callable[[UUID], Collection[UUID]]) -> Done:
        """Fix the route of reviewing units; `councils` returns the organization's methodical councils, which
        a working curriculum's route must all reach (p.19)."""
        doc = self.get_document(tenant_id, document_id)
        ctx = self._as_author(ctx, doc, policy.SUBMIT_DOCUMENT)
        units = [self._own_unit(tenant_id, unit_id, "route") for unit_id in route]
        every = councils(tenant_id) if doc.rules.route_rule == EVERY_COUNCIL else ()
        doc.submit(ctx, [ReviewingUnit(u.id, u.tenant, u.kind, u.name) for u in units], every)
        return Done(doc, self.commit(doc))

    def conclude_on_document(self, ctx: Context, tenant_id: UUID, document_id: UUID, *, unit_id: UUID,
                             positive: bool, remarks: str) -> Done:
        """Record the conclusion of a unit on the route, given by its leader (or a member of a leaderless unit)."""
        doc = self.get_document(tenant_id, document_id)
        voice = None
        if unit_id in doc.route:
            unit = self.load(unit_id, Unit, "unit")
            voice = speaks_for(unit, ctx.actor.person_id, ctx.today)
            if voice is not None:
                ctx = ctx.as_role(voice)
        doc.conclude(ctx, unit_id, positive, remarks, speaks_for_unit=voice is not None,
                     by_author=self._speaks_for_author(ctx, doc), names=self._unit_name)
        return Done(doc, self.commit(doc))

    def revise_document(self, ctx: Context, tenant_id: UUID, document_id: UUID, *, body: str,
                        attachment_ids: Collection[UUID] | None = None) -> Done:
        """Make a new version; conclusions on earlier versions no longer count."""
        doc = self.get_document(tenant_id, document_id)
        doc.revise(self._as_author(ctx, doc, policy.REVISE_DOCUMENT), body, attachment_ids)
        return Done(doc, self.commit(doc))

    def approve_document(self, ctx: Context, tenant_id: UUID, document_id: UUID) -> Done:
        """Approve the document: the role the kind's clause names, never its author (p.18 – p.21)."""
        doc = self.get_document(tenant_id, document_id)
        doc.approve(ctx, names=self._unit_name)
        return Done(doc, self.commit(doc))

    def reject_document(self, ctx: Context, tenant_id: UUID, document_id: UUID, *, reason: str) -> Done:
        """Reject the document with a reason: the approving role ends it."""
        doc = self.get_document(tenant_id, document_id)
        doc.reject(ctx, reason)
        return Done(doc, self.commit(doc))

    def withdraw_document(self, ctx: Context, tenant_id: UUID, document_id: UUID, *, reason: str = "") -> Done:
        """Withdraw the document before it is approved (its author)."""
        doc = self.get_document(tenant_id, document_id)
        doc.withdraw(self._as_author(ctx, doc, policy.WITHDRAW_DOCUMENT), reason)
        return Done(doc, self.commit(doc))

    # Helpers

    def _own_unit(self, tenant_id: UUID, unit_id: UUID, field: str) -> Unit:
        try:
            unit = self.load(unit_id, Unit, "unit")
        except NotFound:
            unit = None
        if unit is None or unit.tenant != tenant_id:
            # Another organization's unit reads exactly as a missing one.
            raise InvalidValue("No unit of this organization has the id %(unit)s.", field=field, unit=str(unit_id))
        return unit

    def _unit_name(self, unit_id: UUID) -> str:
        """Return a unit's name, as a refusal names it."""
        return self.load(unit_id, Unit, "unit", read_only=True).name

    def _speaks_for_author(self, ctx: Context, doc: MethodicalDocument) -> bool:
        """Return True if the actor is the document's author: its drafter, or the developing unit's leader."""
        person_id = ctx.actor.person_id
        if person_id is not None and person_id == doc.author_id:
            return True
        if doc.rules.developed_by == BY_UNIT and doc.unit_id is not None and person_id is not None:
            return speaks_for(self.load(doc.unit_id, Unit, "unit"), person_id, ctx.today) is not None
        return False

    def _as_author(self, ctx: Context, doc: MethodicalDocument, action: policy.Action) -> Context:
        """Return the context acting as the document's author: its drafter, or the developing unit's leader."""
        return action.permit(ctx, {policy.DOCUMENT_AUTHOR: self._speaks_for_author(ctx, doc)}, doc.rules.clause)
