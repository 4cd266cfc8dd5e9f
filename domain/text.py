"""What text the platform stores: any language exactly as sent, but no character that hides or disguises it.

Names and titles (one line) are shown in lists, PDFs of circulars and web pages, where a control character
rings a terminal's bell or recolours it (ANSI escapes), a bidi override shows "Ахметова" as another name, and
a zero-width character makes two names that look alike compare unequal. Multi-line texts (a document's body,
minutes, remarks) may hold tabs and line breaks, and nothing else of the control characters. Nothing is
normalized or rewritten: Kazakh and Russian text is stored exactly as the client sent it.
"""

from __future__ import annotations

import re
import unicodedata

from domain.base import Phrase

# Explicit bidi embeddings, overrides and isolates, and the marks (Unicode's Bidi_Control property).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# A multi-line text may break lines as any keyboard does (a browser's form sends CR LF).
LINE_BREAKS = frozenset("\t\n\r")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def unstorable(value: str) -> str | None:
    """Return why PostgreSQL or UTF-8 cannot hold the text (a NUL, a lone surrogate), or None."""
    if _UNSTORABLE.search(value):
        return Phrase("Text must not contain NUL characters or unpaired surrogates.")
    return None


def single_line_problem(value: str) -> str | None:
    """Return what is wrong with a name or title (one line, nothing hidden), or None if it may be stored."""
    problem = unstorable(value)
    if problem:
        return problem
    for char in value:
        # Cc: C0 and C1 controls (tab and line breaks included: a name is one line); Cf: format characters,
        # the zero-width ones, bidi controls and the soft hyphen; Zl/Zp: line and paragraph separators.
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return Phrase("A name or title is one line of visible text: remove the character %(character)s.",
                          character=_describe(char))
    return None


# Every Cc character but the line breaks, and the bidi controls: a regular expression, as a body may be 1 MB.
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "]")


def multi_line_problem(value: str) -> str | None:
    """Return what is wrong with a multi-line text (controls other than tab and line breaks, bidi controls)."""
    problem = unstorable(value)
    if problem:
        return problem
    found = _NOT_IN_TEXT.search(value)
    if found:
        return Phrase("Remove the control character %(character)s: a text may hold tabs and line breaks only.",
                      character=_describe(found.group()))
    return None
