"""People of a tenant: their roles and subjects (p.3, p.16, p.25), their coming and leaving, their credentials."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from domain import rules
from domain.base import (ADMINISTRATION, Conflict, Context, DomainError, InvalidValue, NotFound, Phrase, Recorded,
                         RuleViolation, Term)
from domain.reminders import MAIL_CHOICES


def check_roles(roles: Iterable[str], tenant_kind: str) -> list[str]:
    """Return the roles without repeats; raise unless each is a known role that fits the tenant's kind."""
    checked: list[str] = []
    for role in roles:
        if role not in rules.ROLES:
            raise InvalidValue("Unknown role %(role)r; one of %(roles)s.", field="roles", role=role,
                               roles=", ".join(rules.ROLES))
        rule = rules.ROLE_RULES[role]
        if tenant_kind not in rule.kinds:
            raise RuleViolation(
                "The role %(role)r does not exist in a %(kind)s: %(reason)s.",
                rule.clause or None,
                "roles", role=Term(role), kind=Term(tenant_kind), reason=Phrase(rule.reason),
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


LANGUAGES = ("ru", "kk", "en")
# Sign-in: an email address is a person's login; a link (invitation, password reset) and a session are secrets
# whose SHA-256 alone is recorded (ADR 021); passwords are never in an event, not even hashed.
_LOGIN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def check_login(login: str) -> str:
    """Return the login (an email address) trimmed and lower-cased; raise unless it looks like an address."""
    login = login.strip().lower()
    if len(login) > 254 or not _LOGIN.match(login):
        raise InvalidValue("The login is an email address, like name@school.kz.", field="email")
    return login


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

    class LoginSet(Recorded.Event):
        login: str

        def apply(self, person: Person) -> None:
            person.login = self.login

    class LanguageChosen(Recorded.Event):
        language: str

        def apply(self, person: Person) -> None:
            person.language = self.language

    class MailChosen(Recorded.Event):
        """How the person wants reminders by email: each at once, a daily or weekly digest, or none."""

        mail: str

        def apply(self, person: Person) -> None:
            person.mail = self.mail

    class InvitationIssued(Recorded.Event):
        invitation_id: UUID
        token_hash: str
        expires_at: datetime

        def apply(self, person: Person) -> None:
            person.links()[self.invitation_id.hex] = {
                "kind": "invitation", "hash": self.token_hash, "expires_at": self.expires_at, "used": False}

    class InvitationAccepted(Recorded.Event):
        invitation_id: UUID

    class PasswordResetIssued(Recorded.Event):
        reset_id: UUID
        token_hash: str
        expires_at: datetime

        def apply(self, person: Person) -> None:
            person.links()[self.reset_id.hex] = {
                "kind": "reset", "hash": self.token_hash, "expires_at": self.expires_at, "used": False}

    class PasswordSet(Recorded.Event):
        """The person set a password (its argon2 hash is kept outside the log); every link they had is used up."""

        via: str  # invitation, reset or profile
        link_id: UUID | None

        def apply(self, person: Person) -> None:
            person.password_set_at = self.timestamp
            for link in person.links().values():
                link["used"] = True

    class SignedIn(Recorded.Event):
        session_id: UUID
        session_hash: str
        address: str
        agent: str
        expires_at: datetime

        def apply(self, person: Person) -> None:
            sessions = person.sessions()
            for key in [k for k, s in sessions.items() if s["expires_at"] <= self.timestamp]:
                del sessions[key]  # ended long ago: only what can still sign a request in is kept
            sessions[self.session_id.hex] = {"hash": self.session_hash, "address": self.address, "agent": self.agent,
                                             "started_at": self.timestamp, "expires_at": self.expires_at}

    class SignedOut(Recorded.Event):
        session_ids: list[UUID]
        address: str
        everywhere: bool

        def apply(self, person: Person) -> None:
            sessions = person.sessions()
            for session_id in self.session_ids:
                sessions.pop(session_id.hex, None)

    # Read with defaults: people who joined (and were snapshotted) before sign-in existed have none of these.
    # Not annotated: eventsourcing makes annotated class attributes dataclass fields.
    login = None  # str: the email address the person signs in with
    language = None  # str: the language they last chose
    mail = None  # str: how reminders reach them by email (domain/reminders.py MAIL_CHOICES); None: the default
    password_set_at = None  # datetime

    def links(self) -> dict[str, dict[str, Any]]:
        """Return the person's invitation and reset links by id (hashes, expiry, whether used)."""
        return self.__dict__.setdefault("_links", {})

    def sessions(self) -> dict[str, dict[str, Any]]:
        """Return the person's sessions that have not been signed out, by id."""
        return self.__dict__.setdefault("_sessions", {})

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

    # Sign-in (ADR 021)

    def set_login(self, ctx: Context, login: str) -> bool:
        """Make this email address the person's login; return True if it changed."""
        self._check_active()
        login = check_login(login)
        if login == self.login:
            return False
        self.record(self.LoginSet, ctx, None, ADMINISTRATION, login=login)
        return True

    def choose_language(self, ctx: Context, language: str) -> None:
        """Remember the language the person reads the platform in."""
        if language not in LANGUAGES:
            raise InvalidValue("The language is one of %(languages)s.", field="language",
                               languages=", ".join(LANGUAGES))
        if language != self.language:
            self.record(self.LanguageChosen, ctx, None, ADMINISTRATION, language=language)

    def choose_mail(self, ctx: Context, mail: str) -> None:
        """Remember how the person wants reminders by email (domain/reminders.py MAIL_CHOICES)."""
        if mail not in MAIL_CHOICES:
            raise InvalidValue("The email choice is one of %(choices)s.", field="mail", choices=", ".join(MAIL_CHOICES))
        if mail != self.mail:
            self.record(self.MailChosen, ctx, None, ADMINISTRATION, mail=mail)

    def issue_invitation(self, ctx: Context, token_hash: str, expires_at: datetime) -> UUID:
        """Record an invitation to set a password, by the hash of its secret; return its id."""
        self._check_active()
        if self.login is None:
            raise InvalidValue("The person has no login yet: send their email address.", field="email")
        invitation_id = ctx.new_id()
        self.record(self.InvitationIssued, ctx, None, ADMINISTRATION, invitation_id=invitation_id, token_hash=token_hash,
                    expires_at=expires_at)
        return invitation_id

    def issue_password_reset(self, ctx: Context, token_hash: str, expires_at: datetime) -> UUID:
        """Record a link to reset the password, by the hash of its secret; return its id."""
        self._check_active()
        reset_id = ctx.new_id()
        self.record(self.PasswordResetIssued, ctx, None, ADMINISTRATION, reset_id=reset_id, token_hash=token_hash,
                    expires_at=expires_at)
        return reset_id

    def link_for(self, kind: str, token_hash: str, now: datetime) -> UUID:
        """Return the id of the unused, unexpired link of this kind with this hash; raise LinkNotValid otherwise."""
        if not self.active:
            raise LinkNotValid("unknown")
        found = None
        for link_id, link in self.links().items():
            if link["kind"] == kind and hmac.compare_digest(link["hash"], token_hash):
                found = (link_id, link)
        if found is None:
            raise LinkNotValid("unknown")
        link_id, link = found
        if link["used"]:
            raise LinkNotValid("used")
        if link["expires_at"] <= now:
            raise LinkNotValid("expired")
        return UUID(hex=link_id)

    def set_password(self, ctx: Context, via: str, link_id: UUID | None = None) -> None:
        """Record that the person set a password (through a link, or on their profile); their links are used up."""
        self._check_active()
        if via == "invitation":
            self.record(self.InvitationAccepted, ctx, None, ADMINISTRATION, invitation_id=link_id)
        self.record(self.PasswordSet, ctx, None, ADMINISTRATION, via=via, link_id=link_id)

    def sign_in(self, ctx: Context, session_hash: str, address: str, agent: str, expires_at: datetime) -> UUID:
        """Record a sign-in from an address, by the hash of its session's secret; return the session's id."""
        self._check_active()
        session_id = ctx.new_id()
        self.record(self.SignedIn, ctx, None, ADMINISTRATION, session_id=session_id, session_hash=session_hash, address=address,
                    agent=agent[:200], expires_at=expires_at)
        return session_id

    def sign_out(self, ctx: Context, session_ids: Iterable[UUID], address: str, everywhere: bool = False) -> None:
        """Record that these sessions were signed out; ones already ended change nothing."""
        ending = [s for s in session_ids if s.hex in self.sessions()]
        if ending:
            self.record(self.SignedOut, ctx, None, ADMINISTRATION, session_ids=ending, address=address, everywhere=everywhere)

    def session_for(self, session_hash: str, now: datetime) -> UUID | None:
        """Return the id of the live session with this hash, or None (compares every hash in constant time)."""
        if not self.active:
            return None
        found = None
        for session_id, session in self.sessions().items():
            if hmac.compare_digest(session["hash"], session_hash) and session["expires_at"] > now:
                found = session_id
        return UUID(hex=found) if found else None

    def _check_active(self) -> None:
        if not self.active:
            raise PersonHasLeft()


class UnknownToken(NotFound):
    """Raised when a token id names none of the person's credentials."""

    def __init__(self) -> None:
        super().__init__("token")


class LinkNotValid(NotFound):
    """Raised when an invitation or reset link is unknown, forged, used already or expired (answered as a missing
    object: a link tells nothing of the person it was for)."""

    def __init__(self, reason: str):
        DomainError.__init__(self, f"This link is not valid ({reason}).")
        self.reason = reason


_LOGIN_NAMESPACE = UUID("5f0c7a52-5d1e-4e36-9d0b-6a8f1c3e2b71")


class Login(Recorded):
    """The claim of one login (an email address) by one person: its id derives from the login, so no two people
    of the platform can hold the same one."""

    class Claimed(Recorded.Created):
        login: str
        person: UUID
        tenant: UUID

    class Moved(Recorded.Event):
        person: UUID
        tenant: UUID

        def apply(self, login: Login) -> None:
            login.person, login.tenant, login.released = self.person, self.tenant, False

    class Released(Recorded.Event):
        def apply(self, login: Login) -> None:
            login.released = True

    def __init__(self, login: str, person: UUID, tenant: UUID, meta: dict[str, Any]):
        self.login = login
        self.person = person
        self.tenant = tenant
        self.released = False

    @property
    def tenant_id(self) -> UUID:
        return self.tenant

    @staticmethod
    def id_for(login: str) -> UUID:
        """Return the id of the claim of this login."""
        return uuid5(_LOGIN_NAMESPACE, check_login(login))

    @classmethod
    def claim(cls, ctx: Context, person: Person) -> Login:
        """Claim the person's login for them."""
        if person.login is None:
            raise InvalidValue("The person has no login yet: send their email address.", field="email")
        return cls._create(cls.Claimed, id=cls.id_for(person.login), timestamp=ctx.at,
                           meta=ctx.meta(person.tenant_id, None, ADMINISTRATION), login=person.login, person=person.id,
                           tenant=person.tenant_id)

    def move_to(self, ctx: Context, person: Person) -> None:
        """Give a released login to another person."""
        self.record(self.Moved, ctx, None, ADMINISTRATION, person=person.id, tenant=person.tenant_id)

    def release(self, ctx: Context) -> None:
        """Let the login go: its person took another, or has left."""
        if not self.released:
            self.record(self.Released, ctx, None, ADMINISTRATION)


class LoginTaken(Conflict):
    """Raised when another person of the platform already signs in with this email address."""

    def __init__(self) -> None:
        super().__init__("Another person already signs in with this email address.", field="email")


_OPERATOR_ACCOUNT = UUID("0b6a1d2e-7c4f-5e83-9a51-3f2d8c6b7e40")


class OperatorAccount(Recorded):
    """The platform operator's sign-ins to the pages: sessions as a person's are, the credential OPERATOR_TOKEN.

    There is one operator and no Person of any tenant behind them; their sessions still need an aggregate to be
    recorded in, read per request and signed out of.
    """

    class Opened(Recorded.Created):
        pass

    class SignedIn(Person.SignedIn):
        pass

    class SignedOut(Person.SignedOut):
        pass

    # Not annotated: eventsourcing makes annotated class attributes dataclass fields.
    active = True
    roles = ()
    language = None

    def __init__(self, meta: dict[str, Any]):
        pass

    @staticmethod
    def id_for() -> UUID:
        """Return the id of the operator's account (there is one)."""
        return _OPERATOR_ACCOUNT

    @classmethod
    def open(cls, ctx: Context) -> OperatorAccount:
        """Open the operator's account at their first sign-in."""
        return cls._create(cls.Opened, id=_OPERATOR_ACCOUNT, timestamp=ctx.at,
                           meta=ctx.meta(None, None, ADMINISTRATION, scope="platform"))

    def meta_scope(self) -> dict[str, Any]:
        """The operator's sign-ins belong to the platform, no tenant or union."""
        return {"scope": "platform"}

    def sessions(self) -> dict[str, dict[str, Any]]:
        """Return the operator's sessions that have not been signed out, by id."""
        return self.__dict__.setdefault("_sessions", {})

    def _check_active(self) -> None:
        """The operator's account never closes (without OPERATOR_TOKEN nobody can sign in to it)."""

    # The same rules as a person's sessions, recorded with the operator's own events (self.SignedIn, ...).
    sign_in = Person.sign_in
    sign_out = Person.sign_out
    session_for = Person.session_for
