"""References to clauses of the Rules (Order No. 583) as each language writes them in a document.

The platform names a clause "p.N" and a sub-item "p.N.k" (sub-item k of clause N): in codes, errors
and events, whatever the reader's language. A document a person reads writes the reference as its
language does:

- Russian: "п. 33.4", and "п. 33.4 Правил" in running text;
- Kazakh: "33.4-тармақ", and "Қағидалардың 33.4-тармағы" in running text (the possessive after the
  genitive). The fully formal "33-тармақтың 4) тармақшасы" is long for a line that also carries the
  direction's text; the short form keeps one number, as the Russian does;
- English: "p.33.4", as the codes are written, and "p.33.4 of the Rules".

A language the platform does not write is written as Russian, the language of the Order's original.
"""

from __future__ import annotations

import re

from domain.base import InvalidValue

LANGUAGES = ("ru", "kk", "en")

_CODE = re.compile(r"p\.(\d+(?:\.\d+)?)")


def _number(code: str) -> str:
    found = _CODE.fullmatch(code) if isinstance(code, str) else None
    if found is None:
        raise InvalidValue(
            "No clause %(code)r: a clause of the Order is named \"p.N\", a sub-item \"p.N.k\" (e.g. \"p.33.4\").",
            field="clause", code=code,
        )
    return found.group(1)


# How each language writes a clause on its own, and as a clause of the Rules in running text.
_FORMS = {
    "ru": ("п. {n}", "п. {n} Правил"),
    "kk": ("{n}-тармақ", "Қағидалардың {n}-тармағы"),
    "en": ("p.{n}", "p.{n} of the Rules"),
}


def reference(code: str, language: str) -> str:
    """Write the clause "p.N" or "p.N.k" as the language writes it on its own: "п. 33.4", "33.4-тармақ", "p.33.4"."""
    return _FORMS.get(language, _FORMS["ru"])[0].format(n=_number(code))


def of_rules(code: str, language: str) -> str:
    """Write the clause as a clause of the Rules in running text: "п. 34 Правил", "Қағидалардың 34-тармағы"."""
    return _FORMS.get(language, _FORMS["ru"])[1].format(n=_number(code))
