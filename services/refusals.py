"""The platform's refusals in a person's language: one translation for the API's problems and for the pages.

The domain words each refusal as a template and its facts (domain/base.py `Phrase`, `Term`, `Series`); its
English is what clients and tests read. Here the template is looked up in the `refusals` catalogue
(services/web/translations/*/LC_MESSAGES/refusals.po), the facts said in the same language (a Term by its name,
a clause as the language writes it: "п. 26", "26-тармақ"), and put into the translation. A message with no
translation yet, or a broken one, is said in English: never a refusal without words.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from babel.support import NullTranslations, Translations

from domain.base import DomainError, Phrase, Series, Term
from domain.clauses import reference

log = logging.getLogger(__name__)

ENGLISH = "en"
LANGUAGES = ("ru", "kk", "en")
DOMAIN = "refusals"
# A fact that names a clause of the Order ("p.26", "p.33.4") is written as the reader's language writes it.
_CLAUSE = re.compile(r"p\.\d+(?:\.\d+)?")


@lru_cache(maxsize=None)
def catalogue(language: str) -> NullTranslations:
    """Return the refusals' catalogue of a language (compiled from its .po, services/web/i18n.py)."""
    from services.web.i18n import compiled_catalogues

    return Translations.load(compiled_catalogues(), [language], DOMAIN)


def say(text: Any, language: str) -> str:
    """Return words of the platform in the language: a Phrase by its template and facts, a Term by its name, a
    plain message (a library's, e.g. marshmallow's) by its English words; the English where none is known."""
    if language not in LANGUAGES:
        return str(text)
    return _say(text, catalogue(language), language, top=True)


def detail(error: DomainError, language: str) -> str:
    """Return a domain refusal's words in the language."""
    return say(error.message, language)


def _say(text: Any, words: NullTranslations, language: str, top: bool = False) -> str:
    if isinstance(text, Phrase):
        template = words.gettext(text.template)
        if not text.params:
            return template
        facts = {name: _say(value, words, language) for name, value in text.params.items()}
        try:
            return template % facts
        except (KeyError, ValueError, TypeError):
            log.warning("a translation of %r in %s does not fit its facts", text.template, language)
            return str(text)
    if isinstance(text, Term):
        named = words.pgettext("term", text.code)
        return str(text) if named == text.code else named
    if isinstance(text, Series):
        said = [_say(item, words, language) for item in text.items]
        if text.joiner is None:
            return ", ".join(said)
        if text.joiner == ";":
            return "; ".join(said)
        return f" {words.pgettext('series', text.joiner)} ".join(said)
    if isinstance(text, str):
        if _CLAUSE.fullmatch(text):
            return reference(text, language)
        # A library's own message (marshmallow's "Missing data for required field.") is known by its words; a fact
        # (a name, an id, a subject) is shown as it is.
        return words.gettext(text) if top else text
    return str(text)


def language_of(accept: Any) -> str:
    """Return the first of our languages a request's Accept-Language asks for (q-values honoured), else English:
    a client that asks for none (or for any, `*`) reads the problems as it always has."""
    for value, quality in sorted(accept or (), key=lambda pair: -pair[1]):
        if quality <= 0:
            continue
        tag = value.lower().replace("_", "-").split("-")[0]
        if tag in LANGUAGES:
            return tag
    return ENGLISH
