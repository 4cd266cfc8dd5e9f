"""A person's login, links and sessions (domain), and which passwords may be used."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.base import Actor, Context, InvalidValue
from domain.people import LinkNotValid, Login, Person, PersonHasLeft, check_login
from services.signin import WeakPassword, check_password

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc)


def ctx(at: datetime = NOW) -> Context:
    return Context(Actor.operator(), "request", at, uuid4)


def person() -> Person:
    joined = Person.join(ctx(), tenant_id=uuid4(), tenant_kind="school", full_name="Гүлнар Ахметова",
                         roles=["teacher"], subjects=[])
    joined.set_login(ctx(), "gulnar@mektep.kz")
    return joined


def test_a_login_is_an_email_address_trimmed_and_lower_cased():
    assert check_login("  Gulnar.A@Mektep.KZ ") == "gulnar.a@mektep.kz"
    for bad in ("gulnar", "gulnar@", "@mektep.kz", "a b@mektep.kz", "x" * 250 + "@a.kz"):
        with pytest.raises(InvalidValue):
            check_login(bad)
    assert Login.id_for("A@b.kz") == Login.id_for("a@b.kz ")


def test_an_invitation_works_once_and_not_after_it_expires():
    p = person()
    link = p.issue_invitation(ctx(), "hash-1", NOW + timedelta(days=7))
    assert p.link_for("invitation", "hash-1", NOW + timedelta(days=6)) == link
    with pytest.raises(LinkNotValid) as expired:
        p.link_for("invitation", "hash-1", NOW + timedelta(days=7))
    assert expired.value.reason == "expired"
    with pytest.raises(LinkNotValid) as wrong_kind:
        p.link_for("reset", "hash-1", NOW)
    assert wrong_kind.value.reason == "unknown"
    p.set_password(ctx(), "invitation", link)
    with pytest.raises(LinkNotValid) as used:
        p.link_for("invitation", "hash-1", NOW)
    assert used.value.reason == "used"
    names = [type(e).__name__ for e in p.collect_events()]
    assert names[-2:] == ["InvitationAccepted", "PasswordSet"]


def test_a_password_set_any_way_uses_up_every_outstanding_link():
    p = person()
    p.issue_invitation(ctx(), "invite", NOW + timedelta(days=7))
    p.issue_password_reset(ctx(), "reset", NOW + timedelta(hours=2))
    p.set_password(ctx(), "profile")
    for kind, digest in (("invitation", "invite"), ("reset", "reset")):
        with pytest.raises(LinkNotValid):
            p.link_for(kind, digest, NOW)


def test_an_invitation_needs_a_login_and_a_person_who_has_not_left():
    nameless = Person.join(ctx(), tenant_id=uuid4(), tenant_kind="school", full_name="Ольга Ким",
                           roles=["teacher"], subjects=[])
    with pytest.raises(InvalidValue) as refused:
        nameless.issue_invitation(ctx(), "h", NOW + timedelta(days=7))
    assert refused.value.field == "email"
    p = person()
    p.leave(ctx())
    with pytest.raises(PersonHasLeft):
        p.issue_invitation(ctx(), "h", NOW + timedelta(days=7))


def test_a_session_signs_in_until_it_ends_is_signed_out_or_the_person_leaves():
    p = person()
    first = p.sign_in(ctx(), "s1", "10.0.0.1", "Firefox", NOW + timedelta(hours=12))
    second = p.sign_in(ctx(), "s2", "10.0.0.2", "Chromium", NOW + timedelta(hours=12))
    assert p.session_for("s1", NOW) == first and p.session_for("s2", NOW) == second
    assert p.session_for("s1", NOW + timedelta(hours=12)) is None
    assert p.session_for("forged", NOW) is None
    p.sign_out(ctx(), [first], "10.0.0.1")
    assert p.session_for("s1", NOW) is None and p.session_for("s2", NOW) == second
    p.sign_out(ctx(), [first], "10.0.0.1")  # again: nothing more is recorded
    assert [type(e).__name__ for e in p.collect_events()].count("SignedOut") == 1
    p.leave(ctx())
    assert p.session_for("s2", NOW) is None


def test_a_sign_in_forgets_sessions_that_ended_long_ago():
    p = person()
    p.sign_in(ctx(), "old", "10.0.0.1", "", NOW + timedelta(hours=1))
    p.sign_in(ctx(NOW + timedelta(days=1)), "new", "10.0.0.1", "", NOW + timedelta(days=1, hours=1))
    assert len(p.sessions()) == 1


def test_short_common_and_login_like_passwords_are_refused_and_long_unusual_ones_kept():
    for password, reason in (("короткий", "too_short"), ("gulnar@mektep.kz", "is_login"), ("Gulnar", "too_short"),
                             ("password123", "common"), ("qwertyuiop", "common"), ("1234567890", "common"),
                             ("Ахметова1985", "common"), ("x" * 201, "too_long")):
        with pytest.raises(WeakPassword) as refused:
            check_password(password, "gulnar@mektep.kz", "Гүлнар Ахметова")
        assert refused.value.reason == reason, password
    for password in ("жасыл алма терезе 2026", "correct horse battery staple", "Тау-2026-жолы-ұзақ"):
        assert check_password(password, "gulnar@mektep.kz", "Гүлнар Ахметова") == password
