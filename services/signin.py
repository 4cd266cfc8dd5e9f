"""People's sign-in (ADR 021): logins, invitation and reset links, passwords and server-side sessions.

A login is an email address claimed by one person on the whole platform (domain.people.Login). Links and
sessions are random secrets of which the Person's events record only SHA-256, as API tokens are (ADR 003), so a
session is checked against the event-sourced Person on every request: signing out, leaving and a change of
roles take effect on the next one. A password's argon2id hash is kept in `person_passwords`, outside the event
log: the log is exported to auditors and can never be rewritten, a password hash must be neither.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import BigInteger, Column, DateTime, Engine, Table, Text, Uuid, func, insert, select
from zxcvbn import zxcvbn

from domain import policy, rules
from domain.base import Actor, Context, InvalidValue, NotFound
from domain.people import LinkNotValid, Login, LoginTaken, OperatorAccount, Person, check_login
from projections.base import metadata
from services.commands import Commands, StaleWrite
from services.tenancy import hash_secret

log = logging.getLogger(__name__)

# Append-only: a new password is a new row, the newest row of a person is their password.
passwords = Table(
    "person_passwords",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("person_id", Uuid, nullable=False, index=True),
    Column("hash", Text, nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The platform operator signs in to the pages with this login and OPERATOR_TOKEN (not an email: no person has it).
OPERATOR_LOGIN = "operator"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200  # argon2 takes any length; a megabyte "password" would only cost CPU
# zxcvbn's score: 0-1 are guessed within a million tries (common and breached passwords, keyboard walks,
# a name and a year); 2 and up are not.
MIN_PASSWORD_SCORE = 2

_hasher = PasswordHasher()  # argon2id with the library's defaults (RFC 9106's second recommendation)
# Verified when the login is unknown, so that an unknown login costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class WeakPassword(InvalidValue):
    """Raised when a password is too short, is the login, or is among the passwords guessed first."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail, field="password")
        self.reason = reason


class WrongCredentials(InvalidValue):
    """Raised when a login and password do not sign anyone in (which of the two was wrong is not said)."""

    status = 401

    def __init__(self) -> None:
        super().__init__("The login or the password is wrong.")


def check_password(password: str, login: str | None = None, full_name: str = "") -> str:
    """Return the password if it may be used; raise WeakPassword naming why not."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword("too_short", f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword("too_long", f"A password has at most {MAX_PASSWORD_LENGTH} characters.")
    if login and password.strip().lower() in (login.lower(), login.lower().partition("@")[0]):
        raise WeakPassword("is_login", "The password must not be the login.")
    inputs = [login or "", *(login or "").partition("@")[::2], *full_name.split()]
    if zxcvbn(password, user_inputs=[i for i in inputs if i])["score"] < MIN_PASSWORD_SCORE:
        raise WeakPassword("common", "This password is among the first ones guessed; choose a longer, less usual one.")
    return password


@dataclass(frozen=True)
class IssuedLink:
    """An invitation or reset link's secret (shown once) and when it stops working."""

    person: Person
    token: str
    expires_at: datetime
    position: int


@dataclass(frozen=True)
class Session:
    """A signed-in person (or the operator's account) and the session's cookie value (shown once)."""

    person: Person | OperatorAccount
    session_id: UUID
    cookie: str
    expires_at: datetime


def _secret_for(person: Person | OperatorAccount) -> tuple[str, str]:
    """Return a new secret naming its person (or the operator's account), and the hash to record."""
    secret = secrets.token_urlsafe(32)
    return f"{person.id.hex}.{secret}", hash_secret(secret)


def _split(token: str) -> tuple[UUID, str] | None:
    person_hex, _, secret = token.partition(".")
    if len(person_hex) != 32 or not secret or len(secret) > 100:
        return None
    try:
        return UUID(hex=person_hex), secret
    except ValueError:
        return None


def as_self(person: Person) -> Actor:
    """Return the person acting on their own account, in the first of their roles."""
    return Actor(role=person.roles[0], person_id=person.id, tenant_id=person.tenant_id, roles=tuple(person.roles))


class SignInCommands(Commands):
    """Logins, links, passwords and sessions of the people of every tenant."""

    engine: Engine | None = None  # the read models' engine, for the password table (set by the web's factory)

    # Logins

    def claim_login(self, ctx: Context, person: Person, login: str) -> list[Login]:
        """Make the email address the person's login; return the claims to save with the person.

        A login held by another active person is refused; one released, or held by a person who has left, moves.
        """
        login = check_login(login)
        if login == person.login:
            return []
        changed: list[Login] = []
        try:
            claim = self.load(Login.id_for(login), Login, "login")
        except NotFound:
            claim = None
        if claim is not None and not claim.released and claim.person != person.id:
            holder = self._person_or_none(claim.person)
            if holder is not None and holder.active and holder.login == login:
                raise LoginTaken()
        previous = person.login
        person.set_login(ctx, login)
        if claim is None:
            changed.append(Login.claim(ctx, person))
        else:
            claim.move_to(ctx, person)
            changed.append(claim)
        if previous is not None:
            try:
                old = self.load(Login.id_for(previous), Login, "login")
            except NotFound:
                old = None
            if old is not None and old.person == person.id:
                old.release(ctx)
                changed.append(old)
        return changed

    def person_for_login(self, login: str) -> Person | None:
        """Return the active person who signs in with this login, or None."""
        try:
            claim = self.load(Login.id_for(login), Login, "login", read_only=True)
        except (NotFound, InvalidValue):
            return None
        if claim.released:
            return None
        person = self._person_or_none(claim.person)
        if person is None or not person.active or person.login != check_login(login):
            return None
        return person

    def _person_or_none(self, person_id: UUID) -> Person | None:
        try:
            return self.load(person_id, Person, "person", read_only=True)
        except NotFound:
            return None

    def change_login(self, ctx: Context, tenant_id: UUID, person_id: UUID, login: str) -> int:
        """Give the person a new login; return the position of its events."""
        person = self.get_person(tenant_id, person_id)  # type: ignore[attr-defined]
        claims = self.claim_login(ctx, person, login)
        try:
            return self.commit(person, *claims)
        except StaleWrite:
            raise LoginTaken() from None

    # Invitations and resets

    def invite(self, ctx: Context, tenant_id: UUID, person_id: UUID, *, email: str | None, days: int) -> IssuedLink:
        """Issue a link with which the person sets their password; with an email, that becomes their login.

        A head's account is the head's or the operator's to open: a deputy head inviting the head to an address
        of the deputy's choice would take the head's place.
        """
        person = self.get_person(tenant_id, person_id)  # type: ignore[attr-defined]
        if rules.HEAD in person.roles:
            ctx = policy.INVITE_HEAD.permit(ctx)
        claims = self.claim_login(ctx, person, email) if email else []
        token, token_hash = _secret_for(person)
        expires_at = ctx.at + timedelta(days=days)
        person.issue_invitation(ctx, token_hash, expires_at)
        try:
            position = self.commit(person, *claims)
        except StaleWrite:
            if claims:
                raise LoginTaken() from None
            raise
        return IssuedLink(person, token, expires_at, position)

    def request_reset(self, login: str, *, now: datetime, hours: int, request_id: str) -> IssuedLink | None:
        """Issue a password reset link to the person who signs in with this login; None if there is nobody."""
        # Also for a person invited who never set a password: the link proves the same thing, that they read the
        # login's mail, and an expired invitation is then no dead end.
        person = self.person_for_login(login)
        if person is None:
            return None
        person = self.load(person.id, Person, "person")
        ctx = Context(actor=as_self(person), request_id=request_id, now=now, ids=uuid4)
        token, token_hash = _secret_for(person)
        expires_at = ctx.at + timedelta(hours=hours)
        person.issue_password_reset(ctx, token_hash, expires_at)
        return IssuedLink(person, token, expires_at, self.commit(person))

    def person_for_link(self, kind: str, token: str, now: datetime) -> tuple[Person, UUID]:
        """Return the person a valid link is for and the link's id; raise LinkNotValid otherwise."""
        parts = _split(token)
        if parts is None:
            raise LinkNotValid("unknown")
        person = self._person_or_none(parts[0])
        if person is None:
            raise LinkNotValid("unknown")
        return person, person.link_for(kind, hash_secret(parts[1]), now)

    def set_password_by_link(self, kind: str, token: str, password: str, now: datetime, request_id: str,
                             address: str) -> Person:
        """Set the password with an invitation or reset link, once; a reset signs out every session."""
        person, link_id = self.person_for_link(kind, token, now)
        check_password(password, person.login, person.full_name)
        person = self.load(person.id, Person, "person")
        ctx = Context(actor=as_self(person), request_id=request_id, now=now, ids=uuid4)
        person.set_password(ctx, "invitation" if kind == "invitation" else "reset", link_id)
        if kind == "reset":
            person.sign_out(ctx, [UUID(hex=s) for s in person.sessions()], address, everywhere=True)
        try:
            self.commit(person)  # first, so that of two uses of one link only one sets the password
        except StaleWrite:
            raise LinkNotValid("used") from None
        self._store_password(person.id, password)
        return person

    def change_password(self, ctx: Context, person_id: UUID, current: str, new: str, keep: UUID | None) -> None:
        """Change the person's password after checking the current one; their other sessions are signed out."""
        person = self.load(person_id, Person, "person")
        if not self.password_matches(person.id, current):
            raise WrongCredentials()
        check_password(new, person.login, person.full_name)
        person.set_password(ctx, "profile")
        person.sign_out(ctx, [UUID(hex=s) for s in person.sessions() if UUID(hex=s) != keep], "", everywhere=True)
        self.commit(person)
        self._store_password(person.id, new)

    # Passwords

    def _store_password(self, person_id: UUID, password: str) -> None:
        if self.engine is None:
            raise RuntimeError("the password table's engine is not set (services/web sets it)")
        with self.engine.begin() as conn:
            conn.execute(insert(passwords).values(person_id=person_id, hash=_hasher.hash(password)))

    def password_matches(self, person_id: UUID | None, password: str) -> bool:
        """Return True if this is the person's password (an unknown person costs as long as a wrong password)."""
        stored = None
        if person_id is not None and self.engine is not None:
            with self.engine.connect() as conn:
                stored = conn.execute(select(passwords.c.hash).where(passwords.c.person_id == person_id)
                                      .order_by(passwords.c.id.desc()).limit(1)).scalar()
        try:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    # Sessions

    def sign_in(self, login: str, password: str, *, now: datetime, hours: int, address: str, agent: str,
                request_id: str, language: str | None = None) -> Session:
        """Sign the person in with login and password; raise WrongCredentials without saying which was wrong."""
        person = self.person_for_login(login)
        if not self.password_matches(person.id if person else None, password[:MAX_PASSWORD_LENGTH]) or person is None:
            raise WrongCredentials()
        person = self.load(person.id, Person, "person")
        ctx = Context(actor=as_self(person), request_id=request_id, now=now, ids=uuid4)
        cookie, session_hash = _secret_for(person)
        expires_at = ctx.at + timedelta(hours=hours)
        session_id = person.sign_in(ctx, session_hash, address, agent, expires_at)
        if language is not None:
            person.choose_language(ctx, language)  # the language of the form signed in with is remembered
        self.commit(person)
        return Session(person, session_id, cookie, expires_at)

    def sign_in_operator(self, token: str, operator_token: str | None, *, now: datetime, hours: int, address: str,
                         agent: str, request_id: str) -> Session:
        """Sign the platform operator in with OPERATOR_TOKEN; raise WrongCredentials for anything else."""
        if not operator_token or not hmac.compare_digest(token.encode(), operator_token.encode()):
            raise WrongCredentials()
        ctx = Context(actor=Actor.operator(), request_id=request_id, now=now, ids=uuid4)
        try:
            account = self.load(OperatorAccount.id_for(), OperatorAccount, "operator account")
        except NotFound:
            account = OperatorAccount.open(ctx)
        cookie, session_hash = _secret_for(account)
        expires_at = ctx.at + timedelta(hours=hours)
        session_id = account.sign_in(ctx, session_hash, address, agent, expires_at)
        self.commit(account)
        return Session(account, session_id, cookie, expires_at)

    def operator_for_session(self, cookie: str, now: datetime) -> UUID | None:
        """Return the id of the operator's live session this cookie names, or None."""
        parts = _split(cookie)
        if parts is None or parts[0] != OperatorAccount.id_for():
            return None
        try:
            account = self.load(parts[0], OperatorAccount, "operator account", read_only=True)
        except NotFound:
            return None
        return account.session_for(hash_secret(parts[1]), now)

    def sign_out_operator(self, session_ids: list[UUID], *, now: datetime, address: str, request_id: str,
                          everywhere: bool = False) -> None:
        """Sign out the operator's sessions (all of them when `everywhere`)."""
        account = self.load(OperatorAccount.id_for(), OperatorAccount, "operator account")
        if everywhere:
            session_ids = [UUID(hex=s) for s in account.sessions()]
        account.sign_out(Context(actor=Actor.operator(), request_id=request_id, now=now, ids=uuid4), session_ids, address,
                         everywhere)
        self.commit(account)

    def person_for_session(self, cookie: str, now: datetime) -> tuple[Person, UUID] | None:
        """Return the active person a session cookie signs in, and the session's id; None if it signs in nobody."""
        parts = _split(cookie)
        if parts is None:
            return None
        person = self._person_or_none(parts[0])
        if person is None:
            return None
        session_id = person.session_for(hash_secret(parts[1]), now)
        return (person, session_id) if session_id is not None else None

    def sign_out(self, person_id: UUID, session_ids: list[UUID], *, now: datetime, address: str, request_id: str,
                 everywhere: bool = False) -> None:
        """Sign out the person's sessions (all of them when `everywhere`)."""
        person = self.load(person_id, Person, "person")
        ctx = Context(actor=as_self(person), request_id=request_id, now=now, ids=uuid4)
        if everywhere:
            session_ids = [UUID(hex=s) for s in person.sessions()]
        person.sign_out(ctx, session_ids, address, everywhere)
        self.commit(person)

    def choose_language(self, person_id: UUID, language: str, *, now: datetime, request_id: str) -> None:
        """Remember the person's language."""
        person = self.load(person_id, Person, "person")
        person.choose_language(Context(actor=as_self(person), request_id=request_id, now=now, ids=uuid4), language)
        self.commit(person)
