"""The directions of methodical work (p.7, p.8, p.9, p.13, p.33): the catalogue and who may name what."""

from __future__ import annotations

import re

import pytest

from domain.base import InvalidValue
from domain.directions import (
    CLAUSE_OF_LEVEL,
    DIRECTIONS,
    LEVEL_OF_TENANT_KIND,
    LEVELS,
    UnknownDirection,
    direction,
    directions_for,
    fits,
)
from domain.rules import TENANT_KINDS

DUPLICATE_PAIRS = [("p.9.5", "p.9.12"), ("p.9.7", "p.9.19"), ("p.9.8", "p.9.24"),
                   ("p.9.11", "p.9.26"), ("p.9.21", "p.9.23")]


def normalised(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("level", "count"), [("school", 8), ("college", 9), ("university", 26),
                                               ("unit", 4), ("union", 11)])
def test_each_level_has_as_many_directions_as_its_clause_lists(level, count):
    assert len(directions_for(level)) == count


def test_the_whole_catalogue_is_the_five_levels_together_in_the_orders_order():
    assert directions_for() == DIRECTIONS
    assert DIRECTIONS == tuple(d for level in LEVELS for d in directions_for(level))
    assert len(DIRECTIONS) == 8 + 9 + 26 + 4 + 11


@pytest.mark.parametrize(("level", "clause"), [("school", "p.7"), ("college", "p.8"), ("university", "p.9"),
                                                ("unit", "p.13"), ("union", "p.33")])
def test_each_level_is_numbered_one_to_n_within_its_own_clause(level, clause):
    found = directions_for(level)
    assert CLAUSE_OF_LEVEL[level] == clause
    assert {d.clause for d in found} == {clause}
    assert [d.number for d in found] == list(range(1, len(found) + 1))


def test_every_code_is_unique_and_of_the_form_p_n_k_matching_its_clause_and_number():
    codes = [d.code for d in DIRECTIONS]
    assert len(set(codes)) == len(codes)
    for d in DIRECTIONS:
        assert re.fullmatch(r"p\.\d+\.[1-9]\d*", d.code), d.code
        assert d.code == f"{d.clause}.{d.number}"


def test_every_text_is_whitespace_normalised_without_numbering_or_final_punctuation():
    for d in DIRECTIONS:
        assert d.text_ru == normalised(d.text_ru), d.code
        assert not re.match(r"(- )?\d+\)", d.text_ru), d.code
        assert d.text_ru[-1] not in ";.", d.code


def test_every_english_label_is_short():
    for d in DIRECTIONS:
        assert 0 < len(d.label_en.split()) <= 12, d.code


def test_the_five_repeated_university_directions_are_marked_as_duplicates_of_the_earlier_item():
    marked = {d.code: d.duplicate_of for d in DIRECTIONS if d.duplicate_of}
    assert marked == {later: earlier for earlier, later in DUPLICATE_PAIRS}
    for earlier, later in DUPLICATE_PAIRS:
        assert direction(later).canonical == earlier
        assert direction(earlier).canonical == earlier


@pytest.mark.parametrize(("earlier", "later"), [("p.9.8", "p.9.24"), ("p.9.11", "p.9.26"), ("p.9.21", "p.9.23")])
def test_three_duplicate_pairs_read_word_for_word_the_same(earlier, later):
    assert normalised(direction(earlier).text_ru) == normalised(direction(later).text_ru)


def test_p9_12_is_p9_5_without_the_word_the_source_doubles():
    earlier, later = direction("p.9.5").text_ru, direction("p.9.12").text_ru
    assert "научно-методическими методическими разработками" in earlier
    assert re.sub(r"\b(\w+) \1\b", r"\1", earlier) == later


def test_p9_19_is_p9_7_without_its_including_clause():
    earlier, later = direction("p.9.7").text_ru, direction("p.9.19").text_ru
    assert earlier == later + ", в том числе по кредитной и дистанционным образовательным технологиям"


def test_no_direction_outside_the_five_pairs_repeats_another():
    duplicates = {later for _, later in DUPLICATE_PAIRS}
    texts = [d.text_ru for d in DIRECTIONS if d.code not in duplicates]
    assert len(set(texts)) == len(texts)


def test_p33_4_is_the_union_direction_about_modern_teaching_technologies():
    found = direction("p.33.4")
    assert (found.clause, found.number, found.level) == ("p.33", 4, "union")
    assert "современных технологий обучения" in found.text_ru
    assert "technolog" in found.label_en


def test_the_long_sub_items_are_taken_whole():
    assert direction("p.7.5").text_ru.endswith("(участие в Республиканских, международных олимпиадах и конкурсах)")
    assert "; учебно-программной документации, внесение предложений" in direction("p.8.1").text_ru
    assert direction("p.8.6").text_ru.endswith("в учебно-воспитательной работе и новых технологий обучения")
    assert direction("p.9.26").text_ru.endswith("научно-методических разработок, проектов")


def test_amendment_notes_are_not_directions():
    for d in DIRECTIONS:
        assert "изложен в редакции" not in d.text_ru
        assert "внесены изменения" not in d.text_ru


@pytest.mark.parametrize("code", ["p.34.1", "p.7.9", "p.9.27", "p.13.5", "7.3", "p.7.03", "", "P.7.3"])
def test_an_unknown_code_is_refused_naming_the_direction_field_and_the_form_of_a_code(code):
    with pytest.raises(UnknownDirection) as caught:
        direction(code)
    error = caught.value
    assert isinstance(error, InvalidValue)
    assert isinstance(error, KeyError)
    assert error.field == "direction"
    assert error.code == code
    assert "p.N.k" in error.detail
    assert str(error) == error.detail


def test_an_unknown_level_is_refused():
    with pytest.raises(InvalidValue) as caught:
        directions_for("kindergarten")
    assert caught.value.field == "level"


def test_every_tenant_kind_plans_by_one_level_of_the_catalogue():
    assert set(LEVEL_OF_TENANT_KIND) == set(TENANT_KINDS)
    assert set(LEVEL_OF_TENANT_KIND.values()) <= set(LEVELS)


def test_a_school_may_name_a_school_direction():
    assert fits("p.7.3", "school")


def test_a_school_may_not_name_a_university_direction():
    assert not fits("p.9.1", "school")


def test_a_school_may_name_a_direction_of_the_methodical_units():
    assert fits("p.13.1", "school")


@pytest.mark.parametrize("kind", TENANT_KINDS)
def test_every_tenant_may_name_the_methodical_units_directions_but_no_union_direction(kind):
    assert fits("p.13.4", kind)
    assert not fits("p.33.4", kind)


@pytest.mark.parametrize(("code", "kind"), [("p.8.5", "tvet_college"), ("p.8.5", "postsecondary_college"),
                                             ("p.9.24", "university"), ("p.7.6", "district_department"),
                                             ("p.8.9", "regional_department")])
def test_a_tenant_may_name_a_direction_of_its_own_level(code, kind):
    assert fits(code, kind)


@pytest.mark.parametrize(("code", "kind"), [("p.7.1", "tvet_college"), ("p.8.1", "school"),
                                             ("p.9.1", "postsecondary_college"), ("p.8.1", "university")])
def test_a_tenant_may_not_name_a_direction_of_another_level(code, kind):
    assert not fits(code, kind)


def test_fitting_an_unknown_code_is_refused_as_an_unknown_direction():
    with pytest.raises(UnknownDirection):
        fits("p.7.9", "school")


def test_fitting_for_an_unknown_tenant_kind_is_refused():
    with pytest.raises(InvalidValue) as caught:
        fits("p.7.1", "kindergarten")
    assert caught.value.field == "tenant_kind"


def test_directions_are_immutable():
    with pytest.raises(AttributeError):
        direction("p.7.1").text_ru = "другое"  # type: ignore[misc]
