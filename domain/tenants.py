"""Tenants: education organizations and the authorities above them (p.2, p.5, p.22)."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import rules
from domain.base import Conflict, Context, InvalidValue, Phrase, Recorded, RuleViolation, Term
from domain.compliance import check_quarters
from domain.reminders import REMINDER_SETTINGS
from domain.reminders import check_settings as check_reminder_settings

_BIN_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_BIN_WEIGHTS_SECOND_PASS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_BIN_NAMESPACE = uuid5(NAMESPACE_URL, "urn:kz:bin")


def bin_check_digit(first_eleven: str) -> int | None:
    """Return the check digit of a business identification number, or None if it has none.

    The official algorithm: weights 1..11, sum mod 11; if that gives 10, weights 3..11,1,2;
    if that gives 10 again, no valid number ends these eleven digits.
    """
    digits = [int(c) for c in first_eleven]
    for weights in (_BIN_WEIGHTS, _BIN_WEIGHTS_SECOND_PASS):
        remainder = sum(d * w for d, w in zip(digits, weights)) % 11
        if remainder != 10:
            return remainder
    return None


def validate_bin(value: str) -> str:
    """Return the BIN if it is 12 digits with a valid check digit; raise InvalidValue otherwise."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        raise InvalidValue("A BIN is exactly 12 digits.", field="bin")
    if bin_check_digit(value[:11]) != int(value[11]):
        raise InvalidValue("The BIN's check digit (its 12th digit) is wrong.", field="bin")
    return value


def check_parent(kind: str, parent_kind: str | None) -> None:
    """Raise RuleViolation unless a tenant of `kind` may report to a tenant of `parent_kind`."""
    rule = rules.PARENT_RULES[kind]
    if parent_kind is None:
        return
    if rule.parent_kind is None:
        raise RuleViolation("A %(kind)s reports to no authority on the platform: %(reason)s.", rule.clause, "parent_id",
                            kind=Term(kind), reason=Phrase(rule.reason))
    if parent_kind != rule.parent_kind:
        raise RuleViolation(
            "A %(kind)s cannot report to a %(parent)s: %(reason)s.", rule.clause, "parent_id", kind=Term(kind),
            parent=Term(parent_kind), reason=Phrase(rule.reason)
        )


class Tenant(Recorded):
    """An education organization or authority: the unit of tenancy on the platform."""

    class Registered(Recorded.Created):
        name: str
        kind: str
        bin: str
        region: str
        parent_id: UUID | None
        language: str
        email: str | None

    # The registration above never changes (services.tenancy.get_tenant relies on it): an event that would change
    # any of its facts needs get_tenant to ask the store for newer events again.
    class CalendarSet(Recorded.Event):
        """The academic quarters, each {"start": "MM-DD", "end": "MM-DD"} (version 2; ADR 025).

        Version 1 (stored without a class_version) held each quarter as a positional [start, end] pair, which an
        auditor reading the export had to know the order of; eventsourcing's mapper upcasts it on reading.
        """

        class_version = 2
        quarters: list[dict[str, str]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["quarters"] = [{"start": start, "end": end} for start, end in state["quarters"]]

        def apply(self, tenant: Tenant) -> None:
            tenant.quarters = quarter_pairs(self.quarters)

    # When the platform reminds (domain/reminders.py): the time zone of the tenant's day, the plans' due day, how
    # long a document or a circular may wait.
    class RemindersSet(Recorded.Event):
        time_zone: str
        plan_due: str
        document_days: int
        circular_days: int

        def apply(self, tenant: Tenant) -> None:
            tenant.reminders = {"time_zone": self.time_zone, "plan_due": self.plan_due,
                                "document_days": self.document_days, "circular_days": self.circular_days}

    # Not annotated: eventsourcing makes annotated class attributes dataclass fields.
    reminders = None  # dict: the settings of RemindersSet; None: the defaults

    def __init__(
        self,
        name: str,
        kind: str,
        bin: str,  # noqa: A002 - the Order's own term
        region: str,
        parent_id: UUID | None,
        language: str,
        email: str | None,
        meta: dict[str, Any],
    ):
        self.name = name
        self.kind = kind
        self.bin = bin
        self.region = region
        self.parent_id = parent_id
        self.language = language
        self.email = email
        # The academic quarters meetings are counted by (p.25); None means the national default.
        self.quarters: list[list[str]] | None = None

    @property
    def tenant_id(self) -> UUID:
        return self.id

    @classmethod
    def register(
        cls,
        ctx: Context,
        *,
        name: str,
        kind: str,
        bin: str,  # noqa: A002
        region: str,
        language: str = "ru",
        email: str | None = None,
        parent: Tenant | None = None,
    ) -> Tenant:
        """Register an organization or authority, checking its BIN and the authority it reports to."""
        if kind not in rules.TENANT_KINDS:
            raise InvalidValue("Unknown kind %(kind)r; one of %(kinds)s.", field="kind", kind=kind,
                               kinds=", ".join(rules.TENANT_KINDS))
        if language not in rules.LANGUAGES:
            raise InvalidValue("The language is 'ru' or 'kk'.", field="language")
        if not name.strip():
            raise InvalidValue("The name must not be blank.", field="name")
        if not region.strip():
            raise InvalidValue("The region must not be blank.", field="region")
        validate_bin(bin)
        check_parent(kind, parent.kind if parent else None)
        tenant_id = ctx.new_id()
        clause = rules.PARENT_RULES[kind].clause if parent else "p.2"
        return cls._create(
            cls.Registered,
            id=tenant_id,
            timestamp=ctx.at,
            meta=ctx.meta(tenant_id, clause),
            name=name,
            kind=kind,
            bin=bin,
            region=region,
            parent_id=parent.id if parent else None,
            language=language,
            email=email,
        )

    def set_calendar(self, ctx: Context, quarters: list[list[str]]) -> None:
        """Set the academic quarters this organization's association meetings are counted by (p.25)."""
        checked = [list(q) for q in check_quarters(quarters)]
        if checked != self.quarters:
            self.record(self.CalendarSet, ctx, "p.25", quarters=[{"start": a, "end": b} for a, b in checked])

    def set_reminders(self, ctx: Context, **settings: Any) -> None:
        """Set when the platform reminds this organization's people (domain/reminders.py)."""
        checked = check_reminder_settings(**settings)
        if checked != self.reminders:
            self.record(self.RemindersSet, ctx, None, REMINDER_SETTINGS, **checked)


def quarter_pairs(quarters: list[dict[str, str]]) -> list[list[str]]:
    """Return a CalendarSet's quarters as the [start, end] pairs the compliance rules count by."""
    return [[quarter["start"], quarter["end"]] for quarter in quarters]


class BinRegistration(Recorded):
    """The claim of one BIN by one tenant: its id derives from the BIN, so a second claim cannot be stored."""

    class Claimed(Recorded.Created):
        bin: str
        claimed_by: UUID

    def __init__(self, bin: str, claimed_by: UUID, meta: dict[str, Any]):  # noqa: A002
        self.bin = bin
        self.claimed_by = claimed_by

    @property
    def tenant_id(self) -> UUID:
        return self.claimed_by

    @staticmethod
    def id_for(bin: str) -> UUID:  # noqa: A002
        """Return the id of the registration of this BIN."""
        return uuid5(_BIN_NAMESPACE, bin)

    @classmethod
    def claim(cls, ctx: Context, tenant: Tenant) -> BinRegistration:
        """Claim the tenant's BIN for it."""
        return cls._create(
            cls.Claimed,
            id=cls.id_for(tenant.bin),
            timestamp=ctx.at,
            meta=ctx.meta(tenant.id, "p.2"),
            bin=tenant.bin,
            claimed_by=tenant.id,
        )


class DuplicateBin(Conflict):
    """Raised when a BIN is already registered to another tenant."""

    def __init__(self, bin: str):  # noqa: A002
        super().__init__("The BIN %(bin)s is already registered.", field="bin", bin=bin)
