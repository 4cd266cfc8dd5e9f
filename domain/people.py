"""People of a tenant: their roles and subjects (p.3, p.16, p.25), their coming and leaving, their credentials."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain import rules
from domain.base import ADMINISTRATION, Conflict, Context, InvalidValue, NotFound, Recorded, RuleViolation


def check_roles(roles: Iterable[str], tenant_kind: str) -> list[str]:
    """Return the roles without repeats; raise unless each is a known role that fits the tenant's kind."""
    checked: list[str] = []
    for role in roles:
        if role not in rules.ROLES:
            raise InvalidValue(f"Unknown role {role!r}; one of {', '.join(rules.ROLES)}.", field="roles")
        rule = rules.ROLE_RULES[role]
        if tenant_kind not in rule.kinds:
            raise RuleViolation(
                f"The role {role!r} does not exist in a {tenant_kind}: {rule.reason}.",
                rule.clause or None,
                "roles",
            )
        if role not in checked:
            checked.append(role)
    if not checked:
        raise InvalidValue("A person has at least one role.", field="roles")
    if rules.AUDITOR in checked and len(checked) > 1:
        # Auditors only read: a credential that could also act would not be an auditor's.
        raise InvalidValue("The auditor role is held alone: auditors read, they do not act.", field="roles")
    return checked


def check_subjects(subjects: Iterable[str]) -> list[str]:
    """Return the subjects trimmed and without repeats; raise on a blank one."""
    checked: list[str] = []
    for subject in subjects:
        subject = subject.strip()
        if not subject:
            raise InvalidValue("A subject must not be blank.", field="subjects")
        if subject not in checked:
            checked.append(subject)
    return checked


def check_full_name(full_name: str) -> str:
    """Return the name trimmed; raise if it is blank."""
    if not full_name.strip():
        raise InvalidValue("The full name must not be blank.", field="full_name")
    return full_name.strip()


class PersonHasLeft(Conflict):
    """Raised when a command addresses a person who has left the organization."""

    def __init__(self) -> None:
        super().__init__("This person has left the organization; their record is kept but cannot change.")


class Person(Recorded):
    """A person working in a tenant, in one or more roles."""

    class Joined(Recorded.Created):
        tenant: UUID
        full_name: str
        roles: list[str]
        subjects: list[str]

    class Changed(Recorded.Event):
        full_name: str
        roles: list[str]
        subjects: list[str]

        def apply(self, person: Person) -> None:
            person.full_name = self.full_name
            person.roles = list(self.roles)
            person.subjects = list(self.subjects)

    class Left(Recorded.Event):
        def apply(self, person: Person) -> None:
            person.active = False
            person.left_at = self.timestamp
            for token in person.tokens.values():
                token["revoked"] = True

    class TokenIssued(Recorded.Event):
        token_id: UUID
        token_hash: str

        def apply(self, person: Person) -> None:
            person.tokens[self.token_id.hex] = {"hash": self.token_hash, "issued_at": self.timestamp, "revoked": False}

    class TokenRevoked(Recorded.Event):
        token_id: UUID

        def apply(self, person: Person) -> None:
            person.tokens[self.token_id.hex]["revoked"] = True

    def __init__(self, tenant: UUID, full_name: str, roles: list[str], subjects: list[str], meta: dict[str, Any]):
        self.tenant = tenant
        self.full_name = full_name
        self.roles = list(roles)
        self.subjects = list(subjects)
        self.active = True
        self.left_at = None
        self.tokens: dict[str, dict[str, Any]] = {}

    @property
    def tenant_id(self) -> UUID:
        return self.tenant

    @classmethod
    def join(
        cls, ctx: Context, *, tenant_id: UUID, tenant_kind: str, full_name: str, roles: list[str], subjects: list[str]
    ) -> Person:
        """Add a person to a tenant in roles that fit the tenant's kind (p.3)."""
        person_id = ctx.new_id()
        return cls._create(
            cls.Joined,
            id=person_id,
            timestamp=ctx.at,
            meta=ctx.meta(tenant_id, "p.3"),
            tenant=tenant_id,
            full_name=check_full_name(full_name),
            roles=check_roles(roles, tenant_kind),
            subjects=check_subjects(subjects),
        )

    def change(
        self,
        ctx: Context,
        tenant_kind: str,
        *,
        full_name: str | None = None,
        roles: list[str] | None = None,
        subjects: list[str] | None = None,
    ) -> None:
        """Change the person's name, roles or subjects; roles must fit the tenant's kind (p.3)."""
        self._check_active()
        new_name = check_full_name(full_name) if full_name is not None else self.full_name
        new_roles = check_roles(roles, tenant_kind) if roles is not None else self.roles
        new_subjects = check_subjects(subjects) if subjects is not None else self.subjects
        if (new_name, new_roles, new_subjects) != (self.full_name, self.roles, self.subjects):
            self.record(self.Changed, ctx, "p.3", full_name=new_name, roles=new_roles, subjects=new_subjects)

    def leave(self, ctx: Context) -> None:
        """Record that the person has left; their history stays and their tokens stop working."""
        self._check_active()
        self.record(self.Left, ctx, None, ADMINISTRATION)

    def issue_token(self, ctx: Context, token_hash: str) -> UUID:
        """Record a new credential by the hash of its secret; return its id."""
        self._check_active()
        token_id = ctx.new_id()
        self.record(self.TokenIssued, ctx, None, ADMINISTRATION, token_id=token_id, token_hash=token_hash)
        return token_id

    def revoke_token(self, ctx: Context, token_id: UUID) -> None:
        """Revoke one of the person's credentials; revoking twice changes nothing."""
        token = self.tokens.get(token_id.hex)
        if token is None:
            raise UnknownToken()
        if not token["revoked"]:
            self.record(self.TokenRevoked, ctx, None, ADMINISTRATION, token_id=token_id)

    def active_token_hashes(self) -> list[str]:
        """Return the hashes of the credentials that still work."""
        if not self.active:
            return []
        return [t["hash"] for t in self.tokens.values() if not t["revoked"]]

    def _check_active(self) -> None:
        if not self.active:
            raise PersonHasLeft()


class UnknownToken(NotFound):
    """Raised when a token id names none of the person's credentials."""

    def __init__(self) -> None:
        super().__init__("token")
