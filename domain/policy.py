"""Who may do what, and the clause that says so: every action of the platform, in one place.

An action names the roles that allow it anywhere in the actor's own tenant, and the relations to the object
acted on (the unit's leader, the document's author, the union's chair...) that allow it. The API asks an
action before it loads anything (`Action.admits`: could this caller ever be allowed?); the application
services, once they have loaded the facts, say which relations hold and ask again (`Action.permit`). A
refusal names the action and its clause. `grep` for an action's name answers who may do it and why.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain import rules
from domain.base import OPERATOR, NotPermitted, Phrase, Series, Term

if TYPE_CHECKING:
    from domain.base import Actor, Context

HEAD, DEPUTY_HEAD, METHODIST, AUDITOR = rules.HEAD, rules.DEPUTY_HEAD, rules.METHODIST, rules.AUDITOR
# Every person of a tenant, in the order a role is preferred when several are held.
MEMBERS = rules.ROLES
# p.20, p.21 and domain §1: teachers, industrial-training masters, class teachers, preschool educators and
# librarians are the authors of programs, plans and guidelines.
TEACHER_AUTHORS = rules.TEACHING_ROLES + (rules.LIBRARIAN,)
# The capacities in which a person acts through a relation, as events record them.
UNIT_LEADER_CAPACITY = "unit_leader"
UNIT_MEMBER_CAPACITY = "unit_member"
AUTHOR_CAPACITY = "author"
UNION_CHAIR_CAPACITY = "union_chair"


@dataclass(frozen=True)
class Relation:
    """A tie between the actor and the object acted on, which an application service establishes from the facts
    it loads (the policy only says which ties count)."""

    code: str
    words: str
    # The roles the tie counts in (empty: any role); the first one held is the one the actor acts in.
    roles: tuple[str, ...] = ()
    # What events record as the actor's role when the tie allows the action (None: the role held).
    capacity: str | None = None


# Relations to a methodical unit (p.17, p.29, p.30, p.31).
UNIT_MANAGER = Relation("unit_manager", "the head or deputy head of the organization that formed the unit",
                        (HEAD, DEPUTY_HEAD))
UNIT_HEAD = Relation("unit_head", "the head of the organization that formed the unit", (HEAD,))
UNIT_DEPUTY = Relation("unit_deputy", "the deputy head of the organization that formed the unit", (DEPUTY_HEAD,))
UNIT_LEADER = Relation("unit_leader", "the unit's current leader", capacity=UNIT_LEADER_CAPACITY)
# A unit the Rules give no leader (an office, cabinet or section) speaks through any member.
UNIT_VOICE = Relation("unit_voice", "the unit's current leader (or a member of a unit without a leader)")
# Relations to a methodical document (p.18 – p.21).
DOCUMENT_AUTHOR = Relation("document_author", "the document's author (its drafter, or the leader of the unit that "
                           "develops it)", capacity=AUTHOR_CAPACITY)
DOCUMENT_APPROVER = Relation("document_approver", "the role the document kind's clause names, never its author")
# p.18 - p.21: a document is discussed and concluded on by the bodies that review it, not by whoever developed it.
DOCUMENT_REVIEWER = Relation("document_reviewer", "the reviewing unit's current leader (or a member of a unit "
                             "without a leader), never the document's author")
# Relations to a union (p.22, p.24, p.35).
# The chair commands in the role they hold (the events name the person); reads of the history are in the chair's
# capacity (UNION_CHAIR_CAPACITY).
UNION_CHAIR = Relation("union_chair", "the union's chair")
# The coordinator acts through the regional department's methodical cabinet (p.22).
COORDINATOR = Relation("coordinator", "the coordinating regional department (its head, deputy head or methodist)",
                       (HEAD, DEPUTY_HEAD, METHODIST))
MEMBER_HEAD = Relation("member_head", "the member organization's head", (HEAD,))
RECIPIENT = Relation("recipient", "the head or deputy head of the receiving organization", (HEAD, DEPUTY_HEAD))
COORDINATOR_MANAGER = Relation("coordinator_manager", "the head or deputy head of the coordinating regional "
                               "department", (HEAD, DEPUTY_HEAD))
# Relations to a person or a credential.
FOR_A_HEAD = Relation("for_a_head", "the platform operator, for a head", (OPERATOR,))
SELF = Relation("self", "the person themselves")
# An auditor reads a history only under a grant that names them and has not expired.
GRANTED_AUDITOR = Relation("granted_auditor", "an auditor with a grant", (AUDITOR,))


# A refusal's words, with the clause or without (the platform's own administration), and the note or without.
NEEDS = {
    (True, False): "%(doing)s needs %(who)s (%(cited)s).",
    (False, False): "%(doing)s needs %(who)s.",
    (True, True): "%(doing)s needs %(who)s (%(cited)s). %(note)s",
    (False, True): "%(doing)s needs %(who)s. %(note)s",
}


@dataclass(frozen=True)
class Action:
    """Something a person (or the operator) may do, who may do it, and the clause that says so."""

    name: str
    # The action as a gerund phrase, for refusals: "Approving an annual plan".
    doing: str
    clause: str | None
    # Roles that allow it anywhere in the actor's own tenant, in order of preference; OPERATOR for the operator.
    roles: tuple[str, ...] = ()
    relations: tuple[Relation, ...] = ()
    # Said after a refusal: what to do when nobody holds the role (e.g. no deputy head in the organization).
    note: str | None = None

    def who(self) -> Phrase:
        """Return, in words, who may do this."""
        people = [Term(r, r.replace("_", " ")) for r in self.roles if r != OPERATOR]
        parts: list[Phrase] = []
        if people:
            parts.append(Phrase("the role: %(roles)s", roles=people[0]) if len(people) == 1
                         else Phrase("one of the roles: %(roles)s", roles=Series(people)))
        parts += [Phrase(relation.words) for relation in self.relations]
        if OPERATOR in self.roles:
            parts.append(Phrase("the platform operator"))
        return Series(parts, "or") if parts else Phrase("nobody")  # type: ignore[return-value]

    def refused(self, clause: str | None = None, doing: str | None = None) -> NotPermitted:
        """Return the refusal of this action (under a more specific clause, when one is given; named `doing` when
        the same rule refuses a kindred act, e.g. rejecting what this action approves)."""
        clause = clause or self.clause
        facts = {"doing": Phrase(doing or self.doing), "who": self.who()}
        if clause:
            facts["cited"] = clause
        if self.note:
            facts["note"] = Phrase(self.note)
        return NotPermitted(NEEDS[bool(clause), bool(self.note)], clause, **facts)

    def admits(self, actor: Actor) -> str | None:
        """Return the role in which the actor may ask for this action before any object is loaded, or None if no
        role they hold could ever allow it (a relation still has to be established by the service)."""
        _note(self)
        held = _held(actor)
        for role in self.roles:
            if role in held:
                return role
        for relation in self.relations:
            for role in relation.roles or MEMBERS:
                if role in held:
                    return role
        return None

    def permit(self, ctx: Context, holds: Mapping[Relation, bool | str | None] | None = None,
               clause: str | None = None) -> Context:
        """Return the context acting in the capacity that allows this action, given which relations hold (a
        string: the capacity the tie holds in); refuse otherwise (citing `clause`, when the object's own rule is
        more specific than the action's)."""
        _note(self)
        allowed, capacity = self._capacity(ctx.actor, holds)
        if not allowed:
            raise self.refused(clause)
        return ctx.as_role(capacity) if capacity else ctx

    def allows(self, actor: Actor, holds: Mapping[Relation, bool | str | None] | None = None) -> bool:
        """Return whether the actor may do this, given which relations hold (for a page that offers it or not)."""
        _note(self)
        return self._capacity(actor, holds)[0]

    def _capacity(self, actor: Actor, holds: Mapping[Relation, bool | str | None] | None) -> tuple[bool, str | None]:
        held = _held(actor)
        for role in self.roles:
            if role in held:
                return True, role
        for relation in self.relations:
            tie = (holds or {}).get(relation)
            if not tie:
                continue
            if not relation.roles:
                return True, tie if isinstance(tie, str) else relation.capacity
            for role in relation.roles:
                if role in held:
                    return True, relation.capacity or role
        return False, None

    def insist(self, ctx: Context) -> None:
        """Refuse unless the actor acts in a role (or capacity) this action allows: an aggregate's own guard,
        after the service has chosen the capacity."""
        _note(self)
        allowed = set(self.roles)
        for relation in self.relations:
            allowed |= {relation.capacity} if relation.capacity else set(relation.roles)
        if ctx.actor.role not in allowed:
            raise self.refused()


def _held(actor: Actor) -> tuple[str, ...]:
    if actor.person_id is None and actor.role == OPERATOR:
        return (OPERATOR,)
    return actor.roles or (actor.role,)


# Reminders and notifications (ADR 023): a person's own inbox and email choice; the organization's reminder
# calendar; the emails the operator watches. The Order sets the duties reminded of, not the reminders: no clause.
READ_NOTIFICATIONS = Action("read_notifications", "Reading one's notifications", None, MEMBERS)
MARK_NOTIFICATIONS_READ = Action("mark_notifications_read", "Marking one's notifications read", None, MEMBERS)
CHOOSE_MAIL = Action("choose_mail", "Choosing how reminders come by email", None, MEMBERS)
SET_REMINDERS = Action("set_reminders", "Setting when the platform reminds", None, (HEAD, DEPUTY_HEAD))
READ_REMINDERS = Action("read_reminders", "Reading when the platform reminds", None, MEMBERS)
LIST_FAILED_MAIL = Action("list_failed_mail", "Listing the emails that could not be sent", None, (OPERATOR,))

# The platform's own administration: the Order says nothing of tenants, accounts or credentials.
REGISTER_TENANT = Action("register_tenant", "Registering an organization or authority", None, (OPERATOR,))
READ_TENANT = Action("read_tenant", "Reading an organization's data", None, MEMBERS)
ADD_PERSON = Action("add_person", "Adding a person", None, (HEAD, DEPUTY_HEAD), (FOR_A_HEAD,))
CHANGE_PERSON = Action("change_person", "Changing a person's roles or subjects", None, (HEAD, DEPUTY_HEAD))
GRANT_HEAD_ROLE = Action("grant_head_role", "Giving or taking the head's role", None, (HEAD, OPERATOR))
CHANGE_HEAD = Action("change_head", "Changing the head's roles", None, (HEAD, OPERATOR))
REMOVE_PERSON = Action("remove_person", "Recording that a person has left", None, (HEAD,))
ISSUE_TOKEN = Action("issue_token", "Issuing an API token", None, (HEAD,), (FOR_A_HEAD,))
REVOKE_TOKEN = Action("revoke_token", "Revoking an API token", None, (HEAD, OPERATOR), (SELF,))
INVITE_PERSON = Action("invite_person", "Inviting a person to sign in", None, (HEAD, DEPUTY_HEAD), (FOR_A_HEAD,))
# A deputy head inviting the head to an address of the deputy's choice would take the head's place.
INVITE_HEAD = Action("invite_head", "Inviting the head to sign in", None, (HEAD, OPERATOR))

# Methodical units (p.14, p.16, p.17, p.25 – p.31).
FORM_UNIT = Action("form_unit", "Forming a methodical unit", "p.14", (HEAD, DEPUTY_HEAD))
ADMIT_UNIT_MEMBER = Action("admit_unit_member", "Admitting a member to a unit", "p.14", (), (UNIT_MANAGER,))
RELEASE_UNIT_MEMBER = Action("release_unit_member", "Letting a member leave a unit", "p.14", (), (UNIT_MANAGER,))
# p.30: elected or appointed; the district department appoints inter-school associations' leaders.
CHOOSE_UNIT_LEADER = Action("choose_unit_leader", "Recording a unit's elected or appointed leader", "p.30", (),
                            (UNIT_MANAGER,))
DRAFT_PLAN = Action("draft_plan", "Drafting a unit's annual plan", "p.29", (), (UNIT_LEADER, UNIT_DEPUTY))
APPROVE_PLAN = Action("approve_plan", "Approving an annual plan", "p.29", (), (UNIT_HEAD,))
HOLD_MEETING = Action("hold_meeting", "Recording a unit's meeting", "p.25", (), (UNIT_LEADER, UNIT_DEPUTY))
SET_CALENDAR = Action("set_calendar", "Setting the academic quarters", "p.25", (HEAD, DEPUTY_HEAD))
READ_COMPLIANCE = Action("read_compliance", "Reading the compliance findings", "p.14", (HEAD, DEPUTY_HEAD, METHODIST))

# Methodical documents (p.18 – p.21).
DRAFT_UNIT_DOCUMENT = Action("draft_unit_document", "Drafting a document a unit develops", "p.18",
                             (), (UNIT_VOICE,))
DRAFT_TEACHER_DOCUMENT = Action("draft_teacher_document", "Drafting a document teachers develop", "p.20",
                                TEACHER_AUTHORS)
DRAFT_DOCUMENT = Action("draft_document", "Drafting a methodical document", "p.18", TEACHER_AUTHORS, (UNIT_VOICE,))
ATTACH_FILE = Action("attach_file", "Attaching a file to a document", "p.18", (), (DOCUMENT_AUTHOR,))
SUBMIT_DOCUMENT = Action("submit_document", "Submitting a document along its route", "p.18", (), (DOCUMENT_AUTHOR,))
REVISE_DOCUMENT = Action("revise_document", "Revising a document", "p.18", (), (DOCUMENT_AUTHOR,))
WITHDRAW_DOCUMENT = Action("withdraw_document", "Withdrawing a document", "p.18", (), (DOCUMENT_AUTHOR,))
CONCLUDE_ON_DOCUMENT = Action("conclude_on_document", "Giving a unit's conclusion on a document", "p.18", (),
                              (DOCUMENT_REVIEWER,))
# The API's question before the document is loaded; the kind's own action decides (below).
DECIDE_ON_DOCUMENT = Action("decide_on_document", "Approving or rejecting a methodical document", "p.18", (),
                            (DOCUMENT_APPROVER,))
APPROVE_METHODICAL_DOCUMENTATION = Action(
    "approve_methodical_documentation", "Approving methodical documentation", "p.18", (HEAD, DEPUTY_HEAD))
APPROVE_WORKING_CURRICULUM = Action("approve_working_curriculum", "Approving a working curriculum", "p.19", (HEAD,))
# p.20, p.21 name the deputy head and give the head no part in it (p.14: the deputy head leads methodical work):
# the head does not approve in the deputy's stead, but may give the deputy head's role to whoever acts as one.
_NO_DEPUTY = ("The Order gives this to the deputy head, not to the head: where the organization has no deputy "
              "head, give the deputy head's role to the person who acts as one (the head may hold it too).")
APPROVE_WORKING_PROGRAM = Action("approve_working_program", "Approving a working program", "p.20", (DEPUTY_HEAD,),
                                 note=_NO_DEPUTY)
APPROVE_LESSON_PLAN = Action("approve_lesson_plan", "Approving a lesson plan", "p.20", (DEPUTY_HEAD,),
                             note=_NO_DEPUTY)
APPROVE_METHODICAL_GUIDELINES = Action(
    "approve_methodical_guidelines", "Approving methodical guidelines", "p.21", (DEPUTY_HEAD,), note=_NO_DEPUTY)

# Unions, their decisions and circulars (p.22 – p.24, p.33 – p.35).
FOUND_UNION = Action("found_union", "Founding a union", "p.24", (HEAD, DEPUTY_HEAD))
# p.24: an organization joins (and founds) through its head; p.22: the regional department through its head or deputy.
FOUND_UNION_FOR_ORGANIZATION = Action("found_union_for_organization", "Founding a union for an organization",
                                      "p.24", (HEAD,))
FOUND_UNION_FOR_DEPARTMENT = Action("found_union_for_department", "Founding a union for a regional department",
                                    "p.22", (HEAD, DEPUTY_HEAD))
ADMIT_UNION_MEMBER = Action("admit_union_member", "Admitting a member to a union", "p.24", (),
                            (UNION_CHAIR, COORDINATOR))
REMOVE_UNION_MEMBER = Action("remove_union_member", "Removing a member from a union", "p.24", (),
                             (UNION_CHAIR, MEMBER_HEAD))
RECORD_UNION_CHAIR = Action("record_union_chair", "Recording the union's chair approved by the council", "p.35", (),
                            (COORDINATOR,))
ADOPT_DECISION = Action("adopt_decision", "Adopting a union's decision", "p.35", (), (UNION_CHAIR,))
RETRY_CIRCULAR = Action("retry_circular", "Retrying a failed circular", "p.34", (OPERATOR,), (UNION_CHAIR,))
ACKNOWLEDGE_CIRCULAR = Action("acknowledge_circular", "Acknowledging a circular", "p.34", (), (RECIPIENT,))

# Audit: outside the Rules, the decision history is read under explicit grants.
LIST_AUDIT_GRANTS = Action("list_audit_grants", "Listing the audit grants", None, (HEAD, DEPUTY_HEAD))
GRANT_AUDIT = Action("grant_audit", "Granting an auditor access", None, (HEAD,))
REVOKE_AUDIT = Action("revoke_audit", "Revoking an audit grant", None, (HEAD,))
GRANT_UNION_AUDIT = Action("grant_union_audit", "Granting an auditor access to a union's history", "p.22", (),
                           (COORDINATOR_MANAGER,))
READ_TENANT_HISTORY = Action("read_tenant_history", "Reading the decision history", None, (OPERATOR,),
                             (GRANTED_AUDITOR,))
READ_UNION_HISTORY = Action("read_union_history", "Reading a union's decision history", "p.35", (OPERATOR,),
                            (UNION_CHAIR, GRANTED_AUDITOR))
VERIFY_CHAIN = Action("verify_chain", "Verifying the audit chain", None, (OPERATOR, AUDITOR))
RECORD_CHECKPOINT = Action("record_checkpoint", "Recording a checkpoint of the audit chain", None, (OPERATOR,))

ACTIONS: dict[str, Action] = {a.name: a for a in list(globals().values()) if isinstance(a, Action)}


# Which actions were asked, for whoever is watching (the API records them per request; a test checks every route
# asks one). Nothing here decides anything.
_asked: ContextVar[list[Action] | None] = ContextVar("asked_actions", default=None)


def _note(action: Action) -> None:
    asked = _asked.get()
    if asked is not None:
        asked.append(action)


def start_recording() -> list[Action]:
    """Begin recording the actions asked in this context; return the list they are appended to."""
    asked: list[Action] = []
    _asked.set(asked)
    return asked


@contextmanager
def recording() -> Iterator[list[Action]]:
    """Record the actions asked inside the block."""
    asked: list[Action] = []
    token = _asked.set(asked)
    try:
        yield asked
    finally:
        _asked.reset(token)
