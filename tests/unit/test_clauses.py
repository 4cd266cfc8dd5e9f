"""Clause references as each language writes them in a document (issue 23): п. 33.4, 33.4-тармақ, p.33.4."""

from __future__ import annotations

import pytest

from domain import clauses
from domain.base import InvalidValue


@pytest.mark.parametrize(("code", "language", "written"), [
    ("p.33.4", "ru", "п. 33.4"),
    ("p.33.4", "kk", "33.4-тармақ"),
    ("p.33.4", "en", "p.33.4"),
    ("p.34", "ru", "п. 34"),
    ("p.34", "kk", "34-тармақ"),
    ("p.9.26", "kk", "9.26-тармақ"),
    ("p.33.4", "de", "п. 33.4"),
])
def test_a_reference_is_written_as_the_language_writes_it(code, language, written):
    assert clauses.reference(code, language) == written


@pytest.mark.parametrize(("code", "language", "written"), [
    ("p.33.4", "ru", "п. 33.4 Правил"),
    ("p.33.4", "kk", "Қағидалардың 33.4-тармағы"),
    ("p.34", "kk", "Қағидалардың 34-тармағы"),
    ("p.34", "en", "p.34 of the Rules"),
    ("p.34", "xx", "п. 34 Правил"),
])
def test_a_clause_of_the_rules_in_running_text_is_declined_as_the_language_declines_it(code, language, written):
    assert clauses.of_rules(code, language) == written


@pytest.mark.parametrize("code", ["33.4", "p.", "п.33.4", "p.33.4.1", "p.33.", " p.33", "p 33", None, 33])
def test_anything_but_a_clause_code_is_refused_naming_the_form(code):
    with pytest.raises(InvalidValue) as refused:
        clauses.reference(code, "kk")  # type: ignore[arg-type]
    assert "p.N.k" in refused.value.detail and refused.value.field == "clause"
    with pytest.raises(InvalidValue):
        clauses.of_rules(code, "ru")  # type: ignore[arg-type]
