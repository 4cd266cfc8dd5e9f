"""What every decision carries: who acted, in which tenant, under which clause, and when."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from typing import Any, Callable
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate

OPERATOR = "operator"

# Why an event cites no clause of the Order: the platform's own business, which the Rules do not govern.
ADMINISTRATION = ("the platform's administration of people and their credentials, which the Order does not "
                  "govern")
AUDIT_ACCESS = "audit access: auditors stand outside the Rules (domain §1)"

# The platform's days are Kazakhstan's: a meeting held "today", a term starting today, a grant's last day are days
# there (one time, UTC+5, across the country since 1 March 2024; Asia/Almaty in the tz database), not UTC's, which begins five hours later. The pages show
# moments in this zone too; a tenant's reminders keep their own (domain/reminders.py).
TIME_ZONE = "Asia/Almaty"
_ZONE = ZoneInfo(TIME_ZONE)


def day_of(moment: datetime | date) -> date:
    """Return the platform's day at this moment (a naive moment is taken as UTC; a day is itself)."""
    if not isinstance(moment, datetime):
        return moment
    aware = moment if moment.tzinfo is not None and moment.utcoffset() is not None else moment.replace(
        tzinfo=timezone.utc)
    return aware.astimezone(_ZONE).date()


def day_start(day: date) -> datetime:
    """Return the first moment of the platform's day."""
    return datetime.combine(day, time.min, tzinfo=_ZONE)


def day_end(day: date) -> datetime:
    """Return the last moment of the platform's day."""
    return datetime.combine(day, time.max, tzinfo=_ZONE)


@dataclass(frozen=True)
class Actor:
    """Someone who acts: a person in one of their roles, or the platform operator."""

    role: str
    person_id: UUID | None = None
    tenant_id: UUID | None = None
    # Every role the person holds; `role` is the one they act in.
    roles: tuple[str, ...] = ()

    @classmethod
    def operator(cls) -> Actor:
        """Return the platform operator as an actor."""
        return cls(role=OPERATOR)


@dataclass(frozen=True)
class Context:
    """The circumstances of one command: the actor, the request it came in, the moment."""

    actor: Actor
    request_id: str
    now: datetime
    # Where the ids of new aggregates and entities come from: passed in like the clock, never made in the domain.
    ids: Callable[[], UUID]

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("Context.now must be timezone-aware")

    def meta(self, tenant_id: UUID | None, clause: str | None = None, no_clause: str | None = None,
             **scope: Any) -> dict[str, Any]:
        """Return the metadata stored with an event recorded in this context: the clause that authorizes it, or
        (`no_clause`) why no clause of the Order applies."""
        meta = {
            "tenant_id": str(tenant_id) if tenant_id else None,
            "actor": {
                "person_id": str(self.actor.person_id) if self.actor.person_id else None,
                "role": self.actor.role,
            },
            "clause": clause,
            "request_id": self.request_id,
            **{k: str(v) if isinstance(v, UUID) else v for k, v in scope.items()},
        }
        if clause is None and no_clause:
            meta["no_clause"] = no_clause
        return meta

    def as_role(self, role: str) -> Context:
        """Return the same context with the actor acting in another capacity (e.g. as a unit's leader)."""
        return replace(self, actor=replace(self.actor, role=role))

    def new_id(self) -> UUID:
        """Return a fresh id for an aggregate or entity this command creates."""
        return self.ids()

    @property
    def today(self) -> date:
        """Return the platform's day at this moment, as the rules that compare days with today read it."""
        return day_of(self.now)

    @property
    def at(self) -> datetime:
        """Return the moment in UTC, as events store it."""
        return self.now.astimezone(timezone.utc)


class Phrase(str):
    """Words the domain says, kept as their template and facts so that a service can say them in a person's
    language: the string itself is the English, as clients and tests read it.

    The template is English with gettext's placeholders (`%(count)s`); it is the message's key in the catalogues
    (services/refusals.py translates it). A fact that is itself words of the domain is a Phrase or a Term too.
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Phrase:
        text = template % params if params else template
        phrase = super().__new__(cls, text)
        phrase.template = template
        phrase.params = params
        return phrase

    def __reduce__(self) -> tuple[Any, ...]:
        return (_phrase, (self.template, self.params))


def _phrase(template: str, params: dict[str, Any]) -> Phrase:
    return Phrase(template, **params)


class Term(str):
    """A word of the domain's vocabulary (a kind, a role, a status) as a code: English writes it as today (the code,
    or `english`), another language by its name for the code."""

    code: str

    def __new__(cls, code: str, english: str | None = None) -> Term:
        term = super().__new__(cls, english if english is not None else code)
        term.code = str(code)
        return term

    def __reduce__(self) -> tuple[Any, ...]:
        return (Term, (self.code, str(self)))


class Series(str):
    """Several facts in a row ("a, b or c"): English joins them as written; another language says each, and its
    own word for "or" / "and" (`joiner` None: commas only; ";": semicolons)."""

    items: tuple[Any, ...]
    joiner: str | None

    def __new__(cls, items: Any, joiner: str | None = None) -> Series:
        items = tuple(items)
        text = {None: ", ", ";": "; "}.get(joiner, f" {joiner} ").join(str(i) for i in items)
        series = super().__new__(cls, text)
        series.items = items
        series.joiner = joiner
        return series

    def __reduce__(self) -> tuple[Any, ...]:
        return (Series, (self.items, self.joiner))


class DomainError(Exception):
    """Raised when a command cannot be carried out; carries the clause where the Order refuses it.

    The kind of refusal is the class (a rule, a value, a conflict, a permission, a missing object); the API maps
    each kind to its HTTP status once (services/api/errors.py). The words are a template and its facts
    (`DomainError("The plan for %(year)s is approved.", "p.29", year=...)`): `detail` is the English, and
    `message` the Phrase a service says in a person's language (services/refusals.py).
    """

    def __init__(self, detail: str, clause: str | None = None, field: str | None = None,
                 units: list[dict[str, str]] | None = None, **params: Any):
        message = detail if isinstance(detail, Phrase) and not params else Phrase(str(detail), **params)
        super().__init__(str(message))
        self.message = message
        self.detail = str(message)
        self.clause = clause
        self.field = field
        # The units a refusal speaks of: named in the words as a person knows them, with their ids here.
        self.units = units


class RuleViolation(DomainError):
    """Raised when a command would break a rule of the Order."""


class InvalidValue(DomainError):
    """Raised when a value is not of the form the platform accepts."""


class Unsupported(InvalidValue):
    """Raised when content is of a kind the platform does not take (e.g. a file that is no document format)."""


class Conflict(DomainError):
    """Raised when a command does not fit the current state (e.g. a second registration)."""


class NotPermitted(DomainError):
    """Raised when the actor's role does not allow the command (domain/policy.py names who may)."""


class Recorded(Aggregate):
    """An aggregate whose events all carry their context (tenant, actor, clause, request)."""

    class Event(Aggregate.Event):
        meta: dict[str, Any]

    class Created(Event, Aggregate.Created):
        pass

    def record(self, event_class: type[Recorded.Event], ctx: Context, clause: str | None,
               no_clause: str | None = None, **data: Any) -> None:
        """Trigger an event of this aggregate's tenant (or union) in the given context, under its clause (or,
        outside the Order, with `no_clause` saying why none applies)."""
        self.trigger_event(
            event_class, timestamp=ctx.at, meta=ctx.meta(self.tenant_id, clause, no_clause, **self.meta_scope()),
            **data,
        )

    @property
    def tenant_id(self) -> UUID | None:
        """Return the tenant this aggregate belongs to (None for platform-wide ones)."""
        return None

    def meta_scope(self) -> dict[str, Any]:
        """Return what else scopes this aggregate's events (e.g. {"union_id": ...} for a union's)."""
        return {}


class NotFound(DomainError):
    """Raised when an object does not exist or belongs to a tenant the caller may not see."""

    def __init__(self, what: str = "resource"):
        super().__init__("No such %(what)s.", what=Term(what))
