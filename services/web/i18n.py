"""Languages of the pages and emails: Russian (the default), Kazakh and English, from the .po catalogues.

The catalogues are compiled when the application starts, from the .po files in the repository, into a folder
named after their contents: nothing compiled is kept in the repository, and a changed .po is never served stale.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g, has_request_context, request

LANGUAGES = ("ru", "kk", "en")
DEFAULT = "ru"
SOURCE = Path(__file__).parent / "translations"
NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}
# The gettext domains: the foundation's `messages` first, then each journey's own catalogue.


def compiled_catalogues(source: Path = SOURCE) -> str:
    """Compile every .po under `source` into a folder of .mo files named by their contents; return the folder."""
    pos = sorted(source.glob("*/LC_MESSAGES/*.po"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in pos)).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"methodical-translations-{digest}"
    for po in pos:
        mo = target / po.relative_to(source).with_suffix(".mo")
        if mo.exists():
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as handle:
            catalogue = read_po(handle, locale=po.parts[-3])
        data = BytesIO()
        write_mo(data, catalogue)
        # Another worker may compile the same catalogue at the same moment: each writes its own file, then
        # renames it into place (atomic), so no worker ever reads half of one.
        partial = mo.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data.getvalue())
        os.replace(partial, mo)
    return str(target)


def domains(source: Path = SOURCE) -> list[str]:
    """Return the catalogues' domains: the foundation's messages first, then each module's own."""
    found = {po.stem for po in source.glob("*/LC_MESSAGES/*.po")}
    return sorted(found, key=lambda name: (name != "messages", name))


def best_language(accept: str | None = None) -> str:
    """Return the language the browser asks for first among ours, else Russian."""
    if accept is None and has_request_context():
        return request.accept_languages.best_match(LANGUAGES) or DEFAULT
    return DEFAULT


def select_locale() -> str:
    """Return the language of this request: the page's path prefix, else the browser's, else Russian."""
    if has_request_context():
        lang = g.get("lang")
        if lang in LANGUAGES:
            return lang
        return best_language()
    return DEFAULT


def clause(code: str | None) -> str:
    """Return a clause of the Order as the page's language writes it ("п. 26", "26-тармақ", "p.26")."""
    from domain.base import DomainError
    from domain.clauses import reference

    if not code:
        return ""
    try:
        return reference(code, select_locale() if has_request_context() else DEFAULT)
    except DomainError:
        return code  # not a clause of the Order's form: shown as recorded


def refusal(error: Any, facts: dict[str, Any] | None = None) -> str:
    """Return a refusal in the page's language (services/refusals.py, as the API says it), followed by its clause
    of the Order as the language writes it when the words do not already name it; `facts` shows some of the
    refusal's facts otherwise on a page (a person's name for their id)."""
    from domain.base import Phrase
    from services import refusals

    message = error.message
    if facts:
        message = Phrase(message.template, **{**message.params, **{k: v for k, v in facts.items()
                                                                    if k in message.params}})
    language = select_locale()
    text = refusals.say(message, language)
    cited = clause(error.clause)
    return f"{text} ({cited})" if error.clause and cited not in text and error.clause not in text else text
