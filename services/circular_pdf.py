"""The circular as a PDF document, in the member's language (Russian or Kazakh), with DejaVu Sans.

All the platform prints is in that language: the labels, the direction's text and each clause, written as
the language writes it ("п. 33.4 Правил", "Қағидалардың 33.4-тармағы"; domain.clauses), never as the code.

DejaVu Sans covers every Kazakh letter (ә ғ қ ң ө ұ ү һ і and their capitals); it ships with the
project under services/fonts/ with its licence. fpdf2 embeds a subset of it and a ToUnicode map,
so the text can be searched and extracted from the document.

The font dominated a rendering (parsing DejaVu Sans's ~6,000 glyphs, then subsetting and recompiling it for each
document). Each process therefore reduces each style once to the characters circulars are written in (Latin,
Cyrillic with the Kazakh letters, punctuation, №, ₸), without hinting, and keeps it parsed; a document takes a
copy with the STANDARD characters picked first, and one that needs no other glyph embeds the subset of exactly
those, made once per process. A document with other characters gets its own subset; a circular with a character
outside the reduced fonts is rendered from the whole font, as every circular used to be.
"""

from __future__ import annotations

import copy
import io
import pickle
import re
import threading
import types
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf import output as fpdf_output
from fpdf.output import OutputProducer
from fpdf.enums import Align, WrapMode, XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.line_break import Fragment, MultiLineBreak, TextLine
from fpdf.util import Padding

from domain import clauses, directions
from domain.unions import Circular
from services.internals import fpdf2 as fpdf2_internals

FONTS = Path(__file__).resolve().parent / "fonts"

LABELS = {
    "ru": {
        "heading": "Циркуляр № {number} от {dated}",
        "union": "Учебно-методическое объединение",
        "to": "Кому",
        "decision": "Решение №",
        "direction": "Направление работы ({clause})",
        "specialties": "Специальности",
        "binding": ("Решение учебно-методического объединения носит рекомендательный характер и доводится "
                    "до сведения организаций образования – членов объединения по соответствующей "
                    f"специальности ({clauses.of_rules('p.34', 'ru')}, приказ № 583)."),
        "acknowledge": "Просим ознакомиться и сообщить о принятом решении через платформу.",
    },
    "kk": {
        "heading": "{dated} ж. № {number} циркуляр",
        "union": "Оқу-әдістемелік бірлестік",
        "to": "Кімге",
        "decision": "Шешім №",
        "direction": "Жұмыс бағыты ({clause})",
        "specialties": "Мамандықтар",
        "binding": ("Оқу-әдістемелік бірлестіктің шешімі ұсынымдық сипатта болады және тиісті мамандық "
                    "бойынша бірлестік мүшесі болып табылатын білім беру ұйымдарының назарына жеткізіледі "
                    f"({clauses.of_rules('p.34', 'kk')}, № 583 бұйрық)."),
        "acknowledge": "Танысып, қабылданған шешім туралы платформа арқылы хабарлауыңызды сұраймыз.",
    },
}


# The characters circulars are written in: Basic Latin, Latin-1 and Latin Extended-A (the Kazakh Latin
# alphabet), Cyrillic and its supplement (ә ғ қ ң ө ұ ү һ і), general punctuation, the tenge sign, №, ™.
COVERED = frozenset([*range(0x20, 0x7F), *range(0xA0, 0x180), *range(0x400, 0x530), *range(0x2010, 0x2028),
                     *range(0x2030, 0x203B), 0x20AC, 0x20B8, 0x2116, 0x2122])
STYLES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
# The characters nearly every circular is written with. Each document's fonts carry at least these, in this order,
# so that nearly every document embeds the same subset, made once per process (`_Preset`).
STANDARD = (" 0123456789.,:;!?-–—/()«»\"'№%+*=&@_#"
            "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя"
            "ӘәҒғҚқҢңӨөҰұҮүҺһІі"
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


# The tables fpdf2 drops from the subsets it embeds (fpdf/output.py), for the preset subset to be made alike.
_FPDF_DROPPED = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC", "EBDT", "EBLC",
                 "EBSC", "SVG ", "CPAL", "COLR"]


class _Font(TTFFont):
    """fpdf2's TrueType font, measuring a growing line without summing it again.

    fpdf2's line breaking asks for the width of the line after every character it adds, and the font sums the
    widths of all the line's characters each time: quadratic in the line's length, a third of a rendering. The
    widths are whole numbers, so the width of the line so far plus the new character's is exactly the same sum.
    The widths, in font units, are those of the face: its documents share them (`_Face.widths`), up to a bound.
    """

    __slots__ = ("_widths",)
    WIDTHS_KEPT = 50_000  # texts whose widths a face keeps (then it starts again): a few megabytes

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
            if len(widths) >= self.WIDTHS_KEPT:
                widths.clear()
            widths[text] = width
        return len(text), width * font_size_pt * 0.001


class _Subset(SubsetMap):
    """fpdf2's SubsetMap, started from the STANDARD characters' picks made once per face (`_Face`), answering a pick
    it has made before from its own dict.

    fpdf2 picks every character of every line through `get_glyph` and two caches shared by all documents, and each
    document picked STANDARD afresh: together a third of a rendering. A pick never changes once made, so a copy of
    the template's picks gives each code the same id, in the same order, as picking them again would.
    """

    def __init__(self, font: TTFFont, template: _Subset | None = None):
        if template is None:
            super().__init__(font)
            self._ids: dict[int, int] = {}
            return
        self.font = font
        fpdf2_internals.continue_subset(self, template)
        self._ids = dict(template._ids)

    def pick(self, unicode: int) -> int | None:  # type: ignore[override]
        found = self._ids.get(unicode)
        if found is None:
            found = SubsetMap.pick(self, unicode)  # a missing glyph is recorded there, once, as before
            if found is not None:
                self._ids[unicode] = found
        return found

    pick.cache_clear = SubsetMap.pick.cache_clear  # type: ignore[attr-defined] # fpdf2 clears it after writing


class _Preset(ttLib.TTFont):
    """A document's font when it uses only STANDARD characters: the subset for exactly those, made once per process.

    fpdf2 subsets and recompiles each document's font when it writes the PDF, which costs as much as the rest of
    the rendering. A document that picked no glyph beyond STANDARD would get the same subset every time; this
    font already is that subset, so it is written as made (`save`) and not subset again (`_Subsetter`).
    """

    def __init__(self, data: bytes, glyph_order: list[str]):
        super().__init__(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        self.setGlyphOrder(glyph_order)
        self._data = data
        self.preset_id = id(data)  # the subset it is: one per face and process

    def save(self, file: Any, reorderTables: bool | None = True) -> None:  # noqa: N803 - fontTools' name
        file.write(self._data)


class _Subsetter(ftsubset.Subsetter):
    """fontTools' subsetter, leaving a `_Preset` as it is: it already holds exactly the glyphs asked for."""

    def subset(self, font: Any) -> None:
        if not isinstance(font, _Preset):
            super().subset(font)


class _Subsetting(types.ModuleType):
    """fontTools.subset as fpdf2's output module sees it: the same, with `_Subsetter` as its Subsetter."""

    Subsetter = _Subsetter

    def __getattr__(self, name: str) -> Any:
        return getattr(ftsubset, name)


fpdf_output.ftsubset = _Subsetting("fontTools.subset")


class _Face:
    """One style of DejaVu Sans reduced to COVERED and parsed once; `add` gives a document its own copy."""

    def __init__(self, style: str, path: Path):
        # No timestamp is recalculated, so the same font gives the same bytes in every process.
        font = ttLib.TTFont(str(path), recalcTimestamp=False)
        # Only what a PDF embeds: fpdf2 drops the layout tables (GDEF, GPOS, GSUB, MATH) from its subset anyway.
        # TrueType hinting (a third of the glyph data) is left out: PDF viewers scale and smooth outlines themselves.
        options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, layout_features=[], hinting=False)
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
        self.standard = [ord(ch) for ch in STANDARD if ord(ch) in self.covers]
        self.widths: dict[str, int] = {}  # the widths of texts measured in this face, shared by its documents
        self.picks = None  # the STANDARD picks every document starts from (made by the first `add`, below)
        # The subset fpdf2 would make of a document that picked only the standard glyphs, with fpdf2's options.
        sample = FPDF()
        self.add(sample, "sample")
        font = sample.fonts[f"sample{style}"]
        self.picked = len(font.subset)
        options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
        options.drop_tables += _FPDF_DROPPED
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(glyphs=font.subset.get_all_glyph_names())
        subsetter.subset(font.ttfont)
        buffer = io.BytesIO()
        font.ttfont.save(buffer)
        self.preset = (buffer.getvalue(), list(font.ttfont.getGlyphOrder()))
        font.ttfont.close()
        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()

    def add(self, pdf: FPDF, family: str) -> None:
        """Make the face available to the document as `family` in its style (what FPDF.add_font does)."""
        font = copy.copy(self.template)  # shares the parsed metrics, which no rendering changes
        font.i = len(pdf.fonts) + 1
        font.fontkey = f"{family.lower()}{self.style}"
        # fpdf2 subsets the font object it embeds in place, so each document gets a fresh one. Bounding boxes are
        # not recalculated: that would decompile and recompile every kept glyph, for figures the PDF never uses.
        font.ttfont = ttLib.TTFont(io.BytesIO(self.data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        font.ttfont.setGlyphOrder(self.glyph_order)  # the names the template's cmap uses, without deriving them again
        font._widths = self.widths
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        fpdf2_internals.forget_shaping(font)
        if self.picks is None:
            self.picks = _Subset(font)
            for codepoint in self.standard:  # the same codes for the same glyphs in every document
                self.picks.pick(codepoint)
        font.subset = _Subset(font, self.picks)
        pdf.fonts[font.fontkey] = font

    def finish(self, pdf: FPDF, family: str) -> None:
        """Before the document is written: give its font the preset subset if it used no glyph beyond STANDARD."""
        font = pdf.fonts[f"{family.lower()}{self.style}"]
        if len(font.subset) == self.picked:
            font.ttfont.close()
            font.ttfont = _Preset(*self.preset)


class _Document(FPDF):
    """An FPDF whose paragraphs in the reduced fonts are broken into lines once per process.

    fpdf2's line breaking goes character by character through a paragraph (half a rendering), and the circulars of
    one decision share their long paragraphs (title, text, direction, the clause of p.34). `paragraph` is
    `multi_cell(0, h, text, new_x="LMARGIN", new_y="NEXT", align=align)`, its lines taken from the layout of the same text in
    the same font, size and width made for an earlier document, their text bound to this document's font.
    """

    LAYOUTS = 256  # paragraphs whose lines are kept

    _layouts: OrderedDict[tuple[Any, ...], list[TextLine]] = OrderedDict()
    _layouts_lock = threading.Lock()

    def paragraph(self, text: str, h: float, align: Align = Align.J) -> None:
        font = self.current_font
        text = self.normalize_text(text).replace("\r", "")
        fragments = self._preload_font_styles(text, False)
        if not isinstance(font, _Font) or len(fragments) != 1 or self.text_shaping:
            self.multi_cell(0, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align=align)
            return
        width = self.w - self.r_margin - self.x
        state = fragments[0].graphics_state
        key = (text, font.fontkey, state.font_size_pt, width, self.c_margin, self.k, align)
        with self._layouts_lock:
            lines = self._layouts.get(key)
            if lines is not None:
                self._layouts.move_to_end(key)
        if lines is None:
            breaker = MultiLineBreak(fragments, width, [self.c_margin, self.c_margin], align=align,
                                     print_sh=False, wrapmode=WrapMode.WORD)
            lines = []
            while (line := breaker.get_line()) is not None:
                lines.append(line)
            if not lines:  # nothing to lay out: what multi_cell does with it
                self.multi_cell(0, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align=align)
                return
            with self._layouts_lock:
                self._layouts[key] = lines
                while len(self._layouts) > self.LAYOUTS:
                    self._layouts.popitem(last=False)
        else:
            lines = [line._replace(fragments=[Fragment(f.characters, state, f.k, f.link) for f in line.fragments])
                     for line in lines]
        # multi_cell's own loop, for no border, fill, padding or link.
        for index, line in enumerate(lines):
            self._perform_page_break_if_need_be(h)
            last = index == len(lines) - 1
            self._render_styled_text_line(
                line, h=h, new_x=XPos.LMARGIN if last else XPos.LEFT, new_y=YPos.NEXT, border=0, fill=False,
                link=None, padding=Padding(0, 0, 0, 0), prevent_font_change=False)
        if lines[-1].trailing_nl:
            self.ln()


class _Producer(OutputProducer):
    """fpdf2's writer, giving a document whose fonts are all preset the font objects made for the first such document.

    For each font fpdf2 builds a CIDToGIDMap of 131,072 entries in Python, joins and compresses it, plus the widths
    and the ToUnicode map: about a third of a rendering, and the same objects for every document that embeds the
    preset subsets. They are made once per process, kept pickled, and unpickled for each document (a deep copy at a
    fifth of `copy.deepcopy`'s cost), taking this document's object numbers in the same order, so the bytes are
    those fpdf2 writes (tested).
    """

    _made: dict[tuple[Any, ...], Any] = {}
    _made_lock = threading.Lock()

    def _add_fonts(self, *args: Any) -> Any:
        fonts = sorted(self.fpdf.fonts.values(), key=lambda font: font.i)
        if not fonts or not all(isinstance(font, _Font) and isinstance(font.ttfont, _Preset) for font in fonts):
            return super()._add_fonts(*args)
        key = tuple((font.i, font.fontkey, font.ttfont.preset_id) for font in fonts)
        with self._made_lock:
            made = self._made.get(key)
        if made is None:
            first = len(self.pdf_objs)
            by_index = super()._add_fonts(*args)
            objects = self.pdf_objs[first:]
            labels = [self.trace_labels_per_obj_id.get(obj.id) for obj in objects]
            with self._made_lock:
                self._made[key] = pickle.dumps((objects, labels, by_index), pickle.HIGHEST_PROTOCOL)
            return by_index
        objects, labels, by_index = pickle.loads(made)
        for obj, label in zip(objects, labels):
            self._add_pdf_obj(obj, label)
        for font in fonts:  # what fpdf2 does with each font once written
            font.subset.pick.cache_clear()
            font.subset.get_glyph.cache_clear()
            font.close()
        return by_index


_faces: dict[str, _Face] = {}
_faces_lock = threading.Lock()


def prepare() -> dict[str, _Face]:
    """Reduce and parse the fonts of this process once (the worker calls this at start; the first rendering would)."""
    with _faces_lock:
        if not _faces:
            _faces.update({style: _Face(style, FONTS / name) for style, name in STYLES.items()})
        return _faces


def _characters(circular: Circular, labels: dict[str, str], direction: str) -> set[int]:
    texts = [circular.union_name, circular.number, circular.title, circular.text, circular.recipient_name,
             str(circular.decision_number), direction, *circular.specialties, *labels.values()]
    return {ord(ch) for text in texts for ch in text}


def _direction(circular: Circular, language: str) -> str:
    """The direction's line: its clause as the language writes it (p.33) and its text in that language."""
    found = directions.direction(circular.direction)
    clause = clauses.of_rules(found.code, language)
    return f"{LABELS[language]['direction'].format(clause=clause)}: {found.text(language)}"


# "№ 583", "п. 34": a sign and its number are never parted at a line's end. fpdf2 keeps a no-break space
# together with its neighbours and sets it as a space, so no glyph is added to the document's font.
_BOUND = re.compile(r"(№|\bп\.) (?=\d)")


def _bound(text: str) -> str:
    return _BOUND.sub("\\1\u00a0", text)


def filename(circular: Circular) -> str:
    """Return the document's file name."""
    return f"circular-{circular.number.replace('/', '-')}-{circular.id}.pdf"


def render(circular: Circular) -> bytes:
    """Return the circular as a PDF; the same circular always renders to the same bytes."""
    return _render(circular, reuse=True)


def _render(circular: Circular, reuse: bool) -> bytes:
    """Render the circular; `reuse`: take paragraphs' lines and font objects made for earlier documents of this
    process (the same bytes either way)."""
    language = circular.language if circular.language in LABELS else "ru"
    labels = LABELS[language]
    direction = _direction(circular, language)
    pdf = _Document(format="A4")
    faces = prepare()
    fast = _characters(circular, labels, direction) <= faces[""].covers & faces["B"].covers
    if fast:
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
    pdf.set_lang("kk-KZ" if language == "kk" else "ru-RU")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()

    def line(text: str, size: float = 11, style: str = "", gap: float = 1.5, align: Align = Align.J) -> None:
        pdf.set_font("DejaVu", style, size)
        text = _bound(text)
        if reuse:
            pdf.paragraph(text, size * 0.5, align)
        else:
            pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align=align)
        pdf.ln(gap)

    # Headings are set flush left: justified, a heading of a few long words (Kazakh has many) spreads them
    # across the line.
    line(f"{labels['union']}", 10, align=Align.L)
    line(circular.union_name, 13, "B", 4, Align.L)
    line(heading, 12, "B", align=Align.L)
    line(f"{labels['to']}: {circular.recipient_name}", 11, "", 5, Align.L)
    line(f"{labels['decision']} {circular.decision_number}", 11, "B", align=Align.L)
    line(circular.title, 14, "B", 3, Align.L)
    line(circular.text, 11, "", 4)
    line(direction, 9)
    line(f"{labels['specialties']}: {', '.join(circular.specialties)}", 9, "", 5, Align.L)
    line(labels["binding"], 9)
    line(labels["acknowledge"], 9)
    if fast:
        for face in faces.values():
            face.finish(pdf, "DejaVu")
    return bytes(pdf.output(output_producer_class=_Producer) if reuse else pdf.output())
