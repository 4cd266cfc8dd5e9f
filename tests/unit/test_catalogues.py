"""The web's catalogues: every message of the pages and emails is translated into Russian and Kazakh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "services" / "web" / "translations"


def key_of(message: Message) -> tuple[str | None, str]:
    """A message's identity in a catalogue: its context (pgettext) and its text (a plural's singular)."""
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


def extracted(tmp_path: Path) -> set[tuple[str | None, str]]:
    """Return the messages the code and templates use today, as pybabel extract finds them: (context, message)."""
    pot = tmp_path / "now.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "services/web/babel.cfg",
                    "-k", "_l", "-k", "lazy_gettext", "--no-location", "-o", str(pot), "."],
                   cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as handle:
        return {key_of(m) for m in read_po(handle) if m.id}


def catalogue(lang: str) -> dict[tuple[str | None, str], str]:
    """Return the language's messages from every domain's catalogue (the foundation's and each module's), by
    (context, message): a message in a context (pgettext) is a message of its own."""
    found: dict[tuple[str | None, str], str] = {}
    for po in sorted((TRANSLATIONS / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            found.update({key_of(m): m.string for m in read_po(handle, locale=lang) if m.id and not m.fuzzy})
    return found


def test_every_message_of_the_pages_is_translated_into_russian_and_kazakh(tmp_path):
    used = extracted(tmp_path)
    assert len(used) > 50
    for lang in ("ru", "kk"):
        translated = catalogue(lang)
        untranslated = sorted(m for m in used if not translated.get(m))
        assert not untranslated, f"untranslated in {lang}: {untranslated}"


def test_the_pages_catalogues_keep_no_message_that_nothing_says(tmp_path):
    # A message no page or email uses any more is work for translators and hides what is used: it goes. (The
    # refusals' catalogue is the domain's, checked by test_refusals_translated.py.)
    used = extracted(tmp_path)
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/*.po")):
        if po.stem == "refusals":
            continue
        with po.open("rb") as handle:
            kept = {key_of(m) for m in read_po(handle) if m.id}
        assert not kept - used, f"{po.relative_to(TRANSLATIONS)} keeps messages nothing says: {sorted(kept - used)}"


def test_the_kazakh_catalogue_is_kazakh_and_keeps_every_placeholder():
    ru, kk = catalogue("ru"), catalogue("kk")
    letters = set("әғқңөұүһі")
    assert sum(bool(letters & set(text.lower())) for text in kk.values()) > len(kk) // 2
    for (lang, (_context, source)), text in {**{("ru", k): v for k, v in ru.items()},
                                             **{("kk", k): v for k, v in kk.items()}}.items():
        message = f"{lang}:{source}"
        for name in ("%(members)s", "%(minimum)s", "%(count)s", "%(minutes)s", "%(hours)s", "%(name)s",
                     "%(login)s", "%(tenant)s", "%(expires)s", "%(subject)s", "%(year)s", "%(code)s", "%(own)s",
                     "%(day)s", "%(role)s", "%(kind)s", "%(q)s", "%(number)s", "%(first)s", "%(last)s"):
            assert (name in source) == (name in text), f"{message}: {name}"


def test_the_catalogues_compile_at_start_into_a_folder_named_by_their_contents():
    from services.web.i18n import compiled_catalogues

    folder = Path(compiled_catalogues())
    assert {p.parts[-3] for p in folder.glob("*/LC_MESSAGES/messages.mo")} == {"ru", "kk", "en"}
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):  # every module's domain is compiled too
        assert (folder / po.relative_to(TRANSLATIONS).with_suffix(".mo")).exists(), po
    assert compiled_catalogues() == str(folder)
    assert not list(TRANSLATIONS.glob("**/*.mo")), "compiled catalogues are not kept in the repository"


def test_the_application_reads_every_domains_catalogue():
    from services.web.i18n import domains

    assert domains()[0] == "messages" and "web_org" in domains()


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_a_message_reads_the_same_in_every_domain(lang):
    # Flask-Babel merges the domains into one catalogue: a message translated two ways would read as whichever
    # domain loads last, on every page.
    # A message in a context (pgettext) is a message of its own.
    first: dict[tuple[str | None, str], tuple[str, str]] = {}
    differing = []
    for po in sorted((TRANSLATIONS / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            for message in read_po(handle, locale=lang):
                key = key_of(message)
                said = message.string if isinstance(message.string, str) else message.string[0]
                if not key[1] or not said:
                    continue
                known = first.setdefault(key, (po.stem, said))
                if known[1] != said:
                    differing.append(f"{key!r}: {known[0]} {known[1]!r}, {po.stem} {said!r}")
    assert differing == []
