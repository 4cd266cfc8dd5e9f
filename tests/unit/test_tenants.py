"""Tenants as an aggregate: given events, when a command, then the events recorded or the refusal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.base import Actor, Context, InvalidValue, RuleViolation
from domain.tenants import BinRegistration, Tenant
from services.api.errors import status_of

NOW = datetime(2026, 9, 1, 9, 30, tzinfo=timezone(timedelta(hours=5)))  # Almaty time
OPERATOR = Context(actor=Actor.operator(), request_id="req-tenants-1", now=NOW, ids=uuid4)

SCHOOL_BIN = "970140000013"  # check digit worked out in test_bin.py
DEPARTMENT_BIN = "123456789013"
OTHER_BIN = "000000000010"


def register(kind: str = "school", *, bin: str = SCHOOL_BIN, parent: Tenant | None = None,  # noqa: A002
             ctx: Context = OPERATOR, **fields) -> Tenant:
    values = {"name": "Мектеп-гимназия №12", "region": "Алматы", **fields}
    return Tenant.register(ctx, kind=kind, bin=bin, parent=parent, **values)


def department(kind: str, bin: str = DEPARTMENT_BIN) -> Tenant:  # noqa: A002
    """Given: an authority already registered (its events collected, as after a save)."""
    authority = register(kind, bin=bin, name=f"{kind} of Almaty")
    authority.collect_events()
    return authority


def test_registering_a_school_records_one_registered_event_with_its_facts():
    tenant = register("school", language="kk", email="school12@example.kz")

    [event] = tenant.collect_events()
    assert isinstance(event, Tenant.Registered)
    assert event.originator_id == tenant.id
    assert (event.name, event.kind, event.bin, event.region) == ("Мектеп-гимназия №12", "school", SCHOOL_BIN, "Алматы")
    assert (event.language, event.email, event.parent_id) == ("kk", "school12@example.kz", None)


def test_the_registration_event_is_stamped_in_utc_at_the_context_moment():
    [event] = register().collect_events()
    assert event.timestamp == NOW
    assert event.timestamp.utcoffset() == timedelta(0)


def test_the_registration_event_carries_the_tenant_the_operator_the_clause_and_the_request():
    tenant = register()
    [event] = tenant.collect_events()
    assert event.meta == {
        "tenant_id": str(tenant.id),
        "actor": {"person_id": None, "role": "operator"},
        "clause": "p.2",
        "request_id": "req-tenants-1",
    }


def test_a_tenant_registered_under_an_authority_cites_the_clause_that_links_them():
    district = department("district_department")
    school = register("school", parent=district)

    [event] = school.collect_events()
    assert event.parent_id == district.id
    assert event.meta["clause"] == "p.5"
    assert school.parent_id == district.id


def test_a_tvet_college_under_a_regional_department_cites_p22():
    region = department("regional_department")
    college = register("tvet_college", parent=region)
    [event] = college.collect_events()
    assert event.parent_id == region.id
    assert event.meta["clause"] == "p.22"


def test_a_district_department_may_report_to_a_regional_department():
    region = department("regional_department")
    district = register("district_department", parent=region)
    [event] = district.collect_events()
    assert event.parent_id == region.id


def test_the_language_defaults_to_russian():
    assert register().language == "ru"


def test_a_school_whose_parent_is_a_regional_department_is_refused_with_p5():
    region = department("regional_department")
    with pytest.raises(RuleViolation) as refused:
        register("school", parent=region)
    assert refused.value.clause == "p.5"
    assert refused.value.field == "parent_id"
    assert status_of(refused.value) == 422


def test_a_college_whose_parent_is_a_district_department_is_refused_with_p22():
    district = department("district_department")
    with pytest.raises(RuleViolation) as refused:
        register("postsecondary_college", parent=district)
    assert refused.value.clause == "p.22"


def test_a_university_reporting_to_any_authority_is_refused_with_p5():
    region = department("regional_department")
    with pytest.raises(RuleViolation) as refused:
        register("university", parent=region)
    assert refused.value.clause == "p.5"


def test_a_school_reporting_to_another_school_is_refused():
    other = register("school", bin=OTHER_BIN)
    other.collect_events()
    with pytest.raises(RuleViolation) as refused:
        register("school", parent=other)
    assert refused.value.clause == "p.5"


@pytest.mark.parametrize("kind", ["gymnasium", "School", "", "operator"])
def test_an_unknown_kind_is_refused_naming_the_field_kind(kind):
    with pytest.raises(InvalidValue) as refused:
        register(kind)
    assert refused.value.field == "kind"


@pytest.mark.parametrize("language", ["en", "kz", "RU", ""])
def test_a_language_other_than_ru_or_kk_is_refused(language):
    with pytest.raises(InvalidValue) as refused:
        register(language=language)
    assert refused.value.field == "language"


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_a_blank_name_is_refused(name):
    with pytest.raises(InvalidValue) as refused:
        register(name=name)
    assert refused.value.field == "name"


def test_a_bin_with_a_wrong_check_digit_is_refused_before_anything_is_recorded():
    with pytest.raises(InvalidValue) as refused:
        register(bin="970140000014")
    assert refused.value.field == "bin"


def test_claiming_a_bin_records_who_claimed_it_under_an_id_derived_from_the_bin():
    tenant = register()
    claim = BinRegistration.claim(OPERATOR, tenant)

    [event] = claim.collect_events()
    assert isinstance(event, BinRegistration.Claimed)
    assert (event.bin, event.claimed_by) == (SCHOOL_BIN, tenant.id)
    assert event.meta["tenant_id"] == str(tenant.id)
    assert event.meta["clause"] == "p.2"
    # A second tenant with the same BIN would claim the very same aggregate id: the store refuses it.
    rival = register(name="Another school")
    assert BinRegistration.claim(OPERATOR, rival).id == claim.id
    assert BinRegistration.id_for(OTHER_BIN) != claim.id


def test_a_context_without_a_timezone_is_refused():
    with pytest.raises(ValueError):
        Context(actor=Actor.operator(), request_id="r", now=datetime(2026, 9, 1, 9, 30), ids=uuid4)
