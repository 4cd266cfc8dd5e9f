"""Authentication (bearer token -> operator or person) and the role checks of every endpoint."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from uuid import UUID

from domain import rules
from domain.base import OPERATOR, Actor, NotFound, NotPermitted
from domain.people import Person
from services.applications import Platform


@dataclass(frozen=True)
class Caller:
    """Whoever presented a valid credential: the operator, or an active person of one tenant."""

    person: Person | None = None

    @property
    def is_operator(self) -> bool:
        """Return True for the platform operator."""
        return self.person is None

    @property
    def tenant_id(self) -> UUID | None:
        """Return the caller's tenant (None for the operator)."""
        return self.person.tenant_id if self.person else None

    @property
    def roles(self) -> list[str]:
        """Return the caller's roles."""
        return [OPERATOR] if self.person is None else list(self.person.roles)

    def member_of(self, tenant_id: UUID) -> bool:
        """Return True if the caller is a person of this tenant."""
        return self.person is not None and self.person.tenant_id == tenant_id

    def acting_as(self, tenant_id: UUID | None, *allowed: str) -> Actor:
        """Return the actor in the first allowed role the caller holds in the tenant.

        Another tenant's objects answer 404 exactly as missing ones do; a role that does not
        allow the action answers 403.
        """
        if self.person is None:
            if OPERATOR in allowed:
                return Actor.operator()
            raise NotPermitted("The platform operator cannot do this; a person of the tenant in the right role can.")
        if tenant_id is not None and self.person.tenant_id != tenant_id:
            raise NotFound("tenant")
        # The first allowed role the person holds: callers list roles in order of preference.
        for role in allowed:
            if role in self.person.roles:
                return Actor(role=role, person_id=self.person.id, tenant_id=self.person.tenant_id,
                             roles=tuple(self.person.roles))
        names = ", ".join(r for r in allowed if r != OPERATOR) or "none"
        raise NotPermitted(f"This needs one of the roles: {names}.")

    def reading(self, tenant_id: UUID) -> None:
        """Allow a read of the tenant's data by its active people; refuse others."""
        self.acting_as(tenant_id, *rules.ROLES)


def authenticate(platform: Platform, authorization: str | None, operator_token: str | None) -> Caller | None:
    """Return the caller a bearer credential names, or None when it names nobody."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    if operator_token and hmac.compare_digest(token.encode(), operator_token.encode()):
        return Caller()
    person = platform.person_for_token(token)
    return Caller(person) if person is not None else None
