"""The circular as a PDF document, in the member's language (Russian or Kazakh), with DejaVu Sans.

DejaVu Sans covers every Kazakh letter (ә ғ қ ң ө ұ ү һ і and their capitals); it ships with the
project under services/fonts/ with its licence. fpdf2 embeds a subset of it and a ToUnicode map,
so the text can be searched and extracted from the document.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fpdf import FPDF

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


def filename(circular: Circular) -> str:
    """Return the document's file name."""
    return f"circular-{circular.number.replace('/', '-')}-{circular.id}.pdf"


def render(circular: Circular) -> bytes:
    """Return the circular as a PDF; the same circular always renders to the same bytes."""
    labels = LABELS.get(circular.language, LABELS["ru"])
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
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
