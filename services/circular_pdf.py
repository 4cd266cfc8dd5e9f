"""The circular as a PDF document, in the member's language (Russian or Kazakh), with DejaVu Sans.

DejaVu Sans covers every Kazakh letter (ә ғ қ ң ө ұ ү һ і and their capitals); it ships with the
project under services/fonts/ with its licence. fpdf2 embeds a subset of it and a ToUnicode map,
so the text can be searched and extracted from the document.

Reading the font dominates a rendering (parsing DejaVu Sans's ~6,000 glyphs, then subsetting and recompiling it).
Each process therefore reduces each style once to the characters circulars are written in (Latin, Cyrillic
with the Kazakh letters, punctuation, №, ₸) and keeps it parsed; a rendering takes a copy of that font with
its own subset, and fpdf2 embeds only the glyphs the document uses, as before. A circular with a character
outside that set is rendered from the whole font, as every circular used to be.
"""

from __future__ import annotations

import copy
import io
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

from domain import directions
from domain.unions import Circular

FONTS = Path(__file__).resolve().parent / "fonts"

LABELS = {
    "ru": {
        "heading": "Циркуляр № {number} от {dated}",
        "union": "Учебно-методическое объединение",
        "to": "Кому",
        "decision": "Решение №",
        "direction": "Направление работы (п.33 Правил)",
        "specialties": "Специальности",
        "binding": ("Решение учебно-методического объединения носит рекомендательный характер и доводится "
                    "до сведения организаций образования – членов объединения по соответствующей "
                    "специальности (п.34 Правил, приказ № 583)."),
        "acknowledge": "Просим ознакомиться и сообщить о принятом решении через платформу.",
    },
    "kk": {
        "heading": "{dated} ж. № {number} циркуляр",
        "union": "Оқу-әдістемелік бірлестік",
        "to": "Кімге",
        "decision": "Шешім №",
        "direction": "Жұмыс бағыты (Қағидалардың 33-тармағы)",
        "specialties": "Мамандықтар",
        "binding": ("Оқу-әдістемелік бірлестіктің шешімі ұсынымдық сипатта болады және тиісті мамандық "
                    "бойынша бірлестік мүшесі болып табылатын білім беру ұйымдарының назарына жеткізіледі "
                    "(Қағидалардың 34-тармағы, № 583 бұйрық)."),
        "acknowledge": "Танысып, қабылданған шешім туралы платформа арқылы хабарлауыңызды сұраймыз.",
    },
}


# The characters circulars are written in: Basic Latin, Latin-1 and Latin Extended-A (the Kazakh Latin
# alphabet), Cyrillic and its supplement (ә ғ қ ң ө ұ ү һ і), general punctuation, the tenge sign, №, ™.
COVERED = frozenset([*range(0x20, 0x7F), *range(0xA0, 0x180), *range(0x400, 0x530), *range(0x2010, 0x2028),
                     *range(0x2030, 0x203B), 0x20AC, 0x20B8, 0x2116, 0x2122])
STYLES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


class _Font(TTFFont):
    """fpdf2's TrueType font, measuring a growing line without summing it again.

    fpdf2's line breaking asks for the width of the line after every character it adds, and the font sums the
    widths of all the line's characters each time: quadratic in the line's length, a third of a rendering. The
    widths are whole numbers, so the width of the line so far plus the new character's is exactly the same sum.
    """

    __slots__ = ("_widths",)

    def get_text_width(self, text: str, font_size_pt: float, text_shaping_params: Any) -> tuple[int, float]:
        if text_shaping_params or self.is_symbol:
            return super().get_text_width(text, font_size_pt, text_shaping_params)
        if font_size_pt > self.biggest_size_pt:
            self.biggest_size_pt = font_size_pt
        widths = self._widths
        width = widths.get(text)
        if width is None:
            before = widths.get(text[:-1]) if len(text) > 1 else None
            cw = self.cw
            width = before + cw[ord(text[-1])] if before is not None else sum(cw[ord(c)] for c in text)
            widths[text] = width
        return len(text), width * font_size_pt * 0.001


class _Face:
    """One style of DejaVu Sans reduced to COVERED and parsed once; `add` gives a document its own copy."""

    def __init__(self, style: str, path: Path):
        # No timestamp is recalculated, so the same font gives the same bytes in every process.
        font = ttLib.TTFont(str(path), recalcTimestamp=False)
        # Only what a PDF embeds: fpdf2 drops the layout tables (GDEF, GPOS, GSUB, MATH) from its subset anyway.
        options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, layout_features=[])
        options.drop_tables += ["GDEF", "GPOS", "GSUB", "MATH", "FFTM", "hdmx"]
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(unicodes=sorted(COVERED))
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.save(buffer)
        font.close()
        self.style = style
        self.data = buffer.getvalue()
        self.template = _Font(FPDF(), io.BytesIO(self.data), f"dejavu{style.lower()}", style)  # type: ignore[arg-type]
        self.glyph_order = list(self.template.ttfont.getGlyphOrder())
        self.template.ttfont.close()
        self.covers = frozenset(self.template.cmap)

    def add(self, pdf: FPDF, family: str) -> None:
        """Make the face available to the document as `family` in its style (what FPDF.add_font does)."""
        font = copy.copy(self.template)  # shares the parsed metrics, which no rendering changes
        font.i = len(pdf.fonts) + 1
        font.fontkey = f"{family.lower()}{self.style}"
        # fpdf2 subsets the font object it embeds in place, so each document gets a fresh one. Bounding boxes are
        # not recalculated: that would decompile and recompile every kept glyph, for figures the PDF never uses.
        font.ttfont = ttLib.TTFont(io.BytesIO(self.data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        font.ttfont.setGlyphOrder(self.glyph_order)  # the names the template's cmap uses, without deriving them again
        font._widths = {}
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        font.subset = SubsetMap(font)
        pdf.fonts[font.fontkey] = font


_faces: dict[str, _Face] = {}
_faces_lock = threading.Lock()


def prepare() -> dict[str, _Face]:
    """Reduce and parse the fonts of this process once (the worker calls this at start; the first rendering would)."""
    with _faces_lock:
        if not _faces:
            _faces.update({style: _Face(style, FONTS / name) for style, name in STYLES.items()})
        return _faces


def _characters(circular: Circular, labels: dict[str, str]) -> set[int]:
    texts = [circular.union_name, circular.number, circular.title, circular.text, circular.recipient_name,
             str(circular.decision_number), circular.direction, *circular.specialties, *labels.values()]
    found = directions.direction(circular.direction)
    texts += [found.code, found.text_ru]
    return {ord(ch) for text in texts for ch in text}


def filename(circular: Circular) -> str:
    """Return the document's file name."""
    return f"circular-{circular.number.replace('/', '-')}-{circular.id}.pdf"


def render(circular: Circular) -> bytes:
    """Return the circular as a PDF; the same circular always renders to the same bytes."""
    labels = LABELS.get(circular.language, LABELS["ru"])
    pdf = FPDF(format="A4")
    faces = prepare()
    if _characters(circular, labels) <= faces[""].covers & faces["B"].covers:
        for face in faces.values():
            face.add(pdf, "DejaVu")
    else:  # a character the reduced fonts lack (some symbol in the text): the whole font, as parsed per document
        for style, name in STYLES.items():
            pdf.add_font("DejaVu", style, str(FONTS / name))
    issued_at: datetime = circular.created_on
    pdf.set_creation_date(issued_at)
    dated = circular.issued_on.strftime("%d.%m.%Y")
    heading = labels["heading"].format(number=circular.number, dated=dated)
    pdf.set_title(f"{heading}: {circular.title}")
    pdf.set_author(circular.union_name)
    pdf.set_lang("kk-KZ" if circular.language == "kk" else "ru-RU")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()

    def line(text: str, size: float = 11, style: str = "", gap: float = 1.5) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    line(f"{labels['union']}", 10)
    line(circular.union_name, 13, "B", 4)
    line(heading, 12, "B")
    line(f"{labels['to']}: {circular.recipient_name}", 11, "", 5)
    line(f"{labels['decision']} {circular.decision_number}", 11, "B")
    line(circular.title, 14, "B", 3)
    line(circular.text, 11, "", 4)
    found = directions.direction(circular.direction)
    line(f"{labels['direction']}: {found.code}. {found.text_ru}", 9)
    line(f"{labels['specialties']}: {', '.join(circular.specialties)}", 9, "", 5)
    line(labels["binding"], 9)
    line(labels["acknowledge"], 9)
    return bytes(pdf.output())
