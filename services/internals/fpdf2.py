"""fpdf2 internals: how services/circular_pdf.py renders a circular in a few milliseconds instead of a hundred."""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version

from fpdf import output as fpdf_output
from fpdf.fonts import SubsetMap, TTFFont

from services.internals import Use

CHECKED_ON = "2.8.9"
USES = (
    Use("TTFFont._hbfont", "services/circular_pdf.py (_Face.add)",
        "each document gets a shallow copy of a font parsed once; its HarfBuzz face must not be shared (no text "
        "shaping is used, so it is dropped). TTFFont.close() would clear it but also closes the shared font."),
    Use("SubsetMap._next, ._reserved, ._char_id_per_glyph", "services/circular_pdf.py (_Subset)",
        "a document's subset starts from the standard characters' picks made once per face: the same ids in the "
        "same order as picking them again, without a third of a rendering spent picking them."),
    Use("SubsetMap.pick.cache_clear", "services/circular_pdf.py (_Subset.pick)",
        "fpdf2 clears the pick cache of each font's subset after writing; the platform's own pick must answer it."),
    Use("fpdf.output.ftsubset", "services/circular_pdf.py (module end)",
        "the fontTools subsetter fpdf2's output calls is wrapped so that a preset subset is embedded as it is."),
    Use("the drop_tables list of fpdf/output.py", "services/circular_pdf.py (_FPDF_DROPPED)",
        "the preset subset is made with the options fpdf2's output uses, so that it embeds the same bytes."),
)


def forget_shaping(font: TTFFont) -> None:
    """Drop the font's HarfBuzz face, which a copied font must not share."""
    font._hbfont = None  # noqa: SLF001 - see USES


def continue_subset(subset: SubsetMap, template: SubsetMap) -> None:
    """Give `subset` the picks `template` has made (its next id, reserved codes and glyph ids)."""
    subset._next = template._next  # noqa: SLF001 - see USES
    subset._reserved = list(template._reserved)  # noqa: SLF001
    subset._char_id_per_glyph = dict(template._char_id_per_glyph)  # noqa: SLF001


def dropped_tables() -> list[str]:
    """Return the tables fpdf2's output drops from the subsets it embeds, as its source lists them."""
    source = inspect.getsource(fpdf_output)
    block = re.search(r"options\.drop_tables \+= \[(.*?)\]", source, re.S)
    return re.findall(r'^\s*"([^"]+)"', block.group(1), re.M) if block else []


def problems(platform_dropped: list[str] | None = None) -> list[str]:
    """Return what no longer holds of the uses above in the installed fpdf2 (empty when all do); with the list
    circular_pdf keeps of the dropped tables, also whether fpdf2 still drops those."""
    found = []
    if version("fpdf2") != CHECKED_ON:
        found.append(f"fpdf2 {version('fpdf2')} is installed; the uses were checked on {CHECKED_ON}")
    if "self._hbfont" not in inspect.getsource(TTFFont.__init__):
        found.append("TTFFont no longer keeps its HarfBuzz face in _hbfont")
    subset_source = inspect.getsource(SubsetMap.__init__)
    for name in ("_next", "_reserved", "_char_id_per_glyph"):
        if f"self.{name}" not in subset_source:
            found.append(f"SubsetMap no longer keeps {name}")
    if not hasattr(SubsetMap.pick, "cache_clear"):
        found.append("SubsetMap.pick is no longer a cached function")
    if "font.subset.pick.cache_clear()" not in inspect.getsource(fpdf_output):
        found.append("fpdf2's output no longer clears SubsetMap.pick's cache")
    if not hasattr(fpdf_output, "ftsubset") or "ftsubset.Subsetter(" not in inspect.getsource(fpdf_output):
        found.append("fpdf2's output no longer subsets through its module's ftsubset")
    if platform_dropped is not None and dropped_tables() != platform_dropped:
        found.append(f"fpdf2 drops the tables {dropped_tables()}, not {platform_dropped}")
    return found
