"""Authentication (bearer token -> operator or person), and the caller's first question to the policy."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from uuid import UUID

from domain import policy
from domain.base import OPERATOR, Actor, NotFound
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

    def acting_for(self, action: policy.Action, tenant_id: UUID | None) -> Actor:
        """Return the actor in the role in which the caller may ask for the action in the tenant (domain/policy.py).

        Another tenant's objects answer 404 exactly as missing ones do; a caller no role of whom could allow the
        action answers 403 with the action's clause. Relations to the object (a unit's leader, a document's
        author) are the application services' to establish, once they have loaded it.
        """
        if self.person is None:
            if action.admits(Actor.operator()) == OPERATOR:
                return Actor.operator()
            raise action.refused()
        role = action.admits(Actor(role="", person_id=self.person.id, tenant_id=self.person.tenant_id,
                                   roles=tuple(self.person.roles)))
        if tenant_id is not None and self.person.tenant_id != tenant_id:
            raise NotFound("tenant")
        if role is None:
            raise action.refused()
        return Actor(role=role, person_id=self.person.id, tenant_id=self.person.tenant_id,
                     roles=tuple(self.person.roles))

    def reading(self, tenant_id: UUID) -> None:
        """Allow a read of the tenant's data by its active people; refuse others."""
        self.acting_for(policy.READ_TENANT, tenant_id)


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
