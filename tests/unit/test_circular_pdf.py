"""The circular's PDF: the same circular renders to the same bytes, its text can be extracted (p.34)."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from types import SimpleNamespace
from uuid import UUID

from pypdf import PdfReader

from services import circular_pdf


def circular(**changes: object) -> SimpleNamespace:
    values = dict(
        id=UUID("6f1c1f3e-7f51-4e47-9a3c-2f5b0f7f1d11"), language="kk", number="1/17", decision_number=1,
        created_on=datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc), issued_on=date(2026, 11, 26),
        title="Дәнекерлеушілерді оқытудағы цифрлық тренажерлер: ҒҚҢӨҰҮҺІ әғқңөұүһі", union_name="Дәнекерлеу ОӘБ",
        recipient_name="№17 колледж", text="Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады. " * 8,
        direction="p.33.4", specialties=["0911000"],
    )
    values.update(changes)
    return SimpleNamespace(**values)


def text_of(document: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(document)).pages)


def test_the_same_circular_renders_to_the_same_bytes_with_its_text_extractable():
    first = circular_pdf.render(circular())
    assert circular_pdf.render(circular()) == first
    text = text_of(first)
    assert "26.11.2026 ж. № 1/17 циркуляр" in text and "Кімге: №17 колледж" in text
    assert "ҒҚҢӨҰҮҺІ әғқңөұүһі" in text and "34-тармағы" in text
    assert circular_pdf.render(circular(recipient_name="№18 колледж")) != first


def test_a_character_beyond_the_usual_alphabets_is_rendered_from_the_whole_font():
    document = circular_pdf.render(circular(title="Математика: ∑ және ∞"))
    assert "Математика: ∑ және ∞" in text_of(document)
    assert circular_pdf.render(circular(title="Математика: ∑ және ∞")) == document


def test_paragraphs_and_font_objects_made_once_give_the_bytes_fpdf2_itself_writes():
    cases = [
        circular(),
        circular(language="ru", recipient_name="№999 колледж"),
        circular(text="Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады. " * 60),  # two pages
        circular(text="Бірінші жол.\n\nҮшінші жол\nТөртінші " + "бөлінбейтін_ұзын_сөз" * 12 + "\n"),
        circular(title="Математика: ∑ және ∞"),
        circular(text=""),
    ]
    for case in cases:
        for _ in range(2):  # the first may make the layouts and font objects, the second takes them
            assert circular_pdf._render(case, reuse=True) == circular_pdf._render(case, reuse=False)


def test_a_document_s_font_picks_each_character_as_fpdf2_s_own_subset_map_would():
    from fpdf import FPDF
    from fpdf.fonts import SubsetMap

    face = circular_pdf.prepare()[""]
    text = "Кімге: №17 колледж, ҒҚҢӨҰҮҺІ әғқңөұүһі ∑ ∞ " + "".join(map(chr, range(0x20, 0x7F)))
    for _ in range(2):  # the first document may make the face's STANDARD picks, the second copies them
        pdf = FPDF()
        face.add(pdf, "DejaVu")
        font = pdf.fonts["dejavu"]
        own = SubsetMap(font)
        for codepoint in face.standard:
            own.pick(codepoint)
        assert [font.subset.pick(ord(ch)) for ch in text] == [own.pick(ord(ch)) for ch in text]
        assert list(font.subset.items()) == list(own.items()) and font.subset._next == own._next
    assert font.missing_glyphs == [ord("∑"), ord("∞")]


def test_the_widths_a_face_keeps_are_bounded_and_documents_render_the_same_after_a_fresh_start(monkeypatch):
    first = circular_pdf.render(circular())
    monkeypatch.setattr(circular_pdf._Font, "WIDTHS_KEPT", 40)
    for n in range(3):
        circular_pdf.render(circular(recipient_name=f"№{n} колледж", number=f"7/{n}", text="Басқа мәтін. " * 9))
    faces = circular_pdf.prepare().values()
    assert all(0 < len(face.widths) <= 40 for face in faces)
    assert circular_pdf.render(circular()) == first
