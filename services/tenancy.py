"""Tenants and their people: registration (p.2, p.5, p.22), roles (p.3) and credentials."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain import policy, rules
from domain.base import Context, InvalidValue, NotFound
from domain.people import Person
from domain.tenants import BinRegistration, DuplicateBin, Tenant
from services.commands import Commands, Done, StaleWrite


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued credential: the secret is shown once and never stored."""

    token_id: UUID
    token: str
    position: int


def hash_secret(secret: str) -> str:
    """Return the stored form of a token secret (SHA-256: secrets are 256-bit random, not passwords)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TenancyCommands(Commands):
    """Registers tenants and manages their people and credentials."""

    # Tenants (p.2, p.5, p.22)

    def register_tenant(self, ctx: Context, *, parent_id: UUID | None = None, **fields: Any) -> Done:
        """Register an organization or authority; its BIN is claimed in the same transaction."""
        parent = None
        if parent_id is not None:
            try:
                parent = self.load(parent_id, Tenant, "parent authority")
            except NotFound:
                raise InvalidValue("No tenant has this id.", field="parent_id") from None
        tenant = Tenant.register(ctx, parent=parent, **fields)
        if self._bin_is_claimed(tenant.bin):
            raise DuplicateBin(tenant.bin)
        claim = BinRegistration.claim(ctx, tenant)
        try:
            position = self.commit(tenant, claim)
        except StaleWrite:
            # Another registration of this BIN committed first.
            raise DuplicateBin(tenant.bin) from None
        return Done(tenant, position)

    def _bin_is_claimed(self, bin: str) -> bool:  # noqa: A002
        return bool(list(self.events.get(BinRegistration.id_for(bin), limit=1)))

    def get_tenant(self, tenant_id: UUID) -> Tenant:
        """Return the tenant to read its registration (kind, parent, name, email), or raise NotFound: not a copy,
        so never to change (`load` one for that).

        A registration never changes (a tenant's only later event sets its calendar), so a tenant already in the
        aggregate cache is returned without asking the store for newer events: most commands read their tenant's
        kind, and that saved round trip is one of the five or so of a command. Its `quarters` may lag: read the
        calendar from a `load`ed tenant or the read model.
        """
        cached = self.cached(tenant_id)
        if isinstance(cached, Tenant):
            return cached
        return self.load(tenant_id, Tenant, "tenant", read_only=True)

    # People (p.3)

    def add_person(
        self, ctx: Context, tenant_id: UUID, *, full_name: str, roles: list[str], subjects: list[str]
    ) -> Done:
        """Add a person to the tenant; only the head (or the operator) may give the head's role."""
        tenant = self.get_tenant(tenant_id)
        _check_may_grant(ctx, roles)
        person = Person.join(
            ctx, tenant_id=tenant.id, tenant_kind=tenant.kind, full_name=full_name, roles=roles, subjects=subjects
        )
        return Done(person, self.commit(person))

    def get_person(self, tenant_id: UUID, person_id: UUID) -> Person:
        """Return the tenant's person, or raise NotFound."""
        return self.load(person_id, Person, "person", tenant_id)

    def change_person(
        self,
        ctx: Context,
        tenant_id: UUID,
        person_id: UUID,
        *,
        full_name: str | None = None,
        roles: list[str] | None = None,
        subjects: list[str] | None = None,
    ) -> Done:
        """Change a person's name, roles or subjects."""
        tenant = self.get_tenant(tenant_id)
        person = self.get_person(tenant_id, person_id)
        if roles is not None:
            # Giving or taking the head's role is the head's (or operator's) decision alone.
            _check_may_grant(ctx, set(roles) ^ set(person.roles))
            if rules.HEAD in person.roles:
                policy.CHANGE_HEAD.insist(ctx)
        person.change(ctx, tenant.kind, full_name=full_name, roles=roles, subjects=subjects)
        return Done(person, self.commit(person))

    def remove_person(self, ctx: Context, tenant_id: UUID, person_id: UUID) -> Done:
        """Record that a person has left the organization."""
        person = self.get_person(tenant_id, person_id)
        person.leave(ctx)
        return Done(person, self.commit(person))

    def issue_token(self, ctx: Context, tenant_id: UUID, person_id: UUID) -> IssuedToken:
        """Issue an API token for the person; only its hash is recorded."""
        person = self.get_person(tenant_id, person_id)
        secret = secrets.token_urlsafe(32)
        token_id = person.issue_token(ctx, hash_secret(secret))
        position = self.commit(person)
        return IssuedToken(token_id, f"{person.id.hex}.{secret}", position)

    def revoke_token(self, ctx: Context, tenant_id: UUID, person_id: UUID, token_id: UUID) -> Done:
        """Revoke one of the person's tokens."""
        person = self.get_person(tenant_id, person_id)
        person.revoke_token(ctx, token_id)
        return Done(person, self.commit(person))

    def person_for_token(self, token: str) -> Person | None:
        """Return the active person whose token this is, or None; compares hashes in constant time."""
        person_hex, _, secret = token.partition(".")
        if not secret or len(person_hex) != 32:
            return None
        try:
            person_id = UUID(hex=person_hex)
        except ValueError:
            return None
        try:
            person = self.load(person_id, Person, "person", read_only=True)
        except NotFound:
            return None
        presented = hash_secret(secret)
        matched = False
        for stored in person.active_token_hashes():
            matched |= secrets.compare_digest(presented, stored)
        return person if matched else None


def _check_may_grant(ctx: Context, roles: Any) -> None:
    if rules.HEAD in roles:
        policy.GRANT_HEAD_ROLE.insist(ctx)
