"""A circular's PDF is in its recipient's language throughout (issue 23): the direction's text and every clause."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timezone
from types import SimpleNamespace
from uuid import UUID

import pytest
from pypdf import PdfReader

from domain.directions import directions_for
from services import circular_pdf

KAZAKH = dict(title="Дәнекерлеушілерді оқытудағы цифрлық тренажерлер", union_name="Дәнекерлеу ОӘБ",
              recipient_name="Алматы политехникалық колледжі",
              text="Колледждерге виртуалды дәнекерлеу тренажерлерін енгізу ұсынылады. " * 6)
RUSSIAN = dict(title="Цифровые тренажёры в обучении сварщиков", union_name="УМО по сварке",
               recipient_name="Алматинский колледж энергетики",
               text="Колледжам рекомендуется внедрить виртуальные сварочные тренажёры. " * 6)
LATIN_CLAUSE = re.compile(r"\bp\.\s?\d")


def circular(language: str, **changes: object) -> SimpleNamespace:
    values = dict(
        id=UUID("6f1c1f3e-7f51-4e47-9a3c-2f5b0f7f1d11"), language=language, number="1/17", decision_number=1,
        created_on=datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc), issued_on=date(2026, 11, 26),
        direction="p.33.4", specialties=["0911000"], **(KAZAKH if language == "kk" else RUSSIAN),
    )
    values.update(changes)
    return SimpleNamespace(**values)


def lines_of(document: bytes) -> list[str]:
    return [" ".join(line.split()) for page in PdfReader(io.BytesIO(document)).pages
            for line in page.extract_text().splitlines()]


def text_of(document: bytes) -> str:
    return " ".join(lines_of(document))


def test_a_kazakh_circular_names_the_direction_in_kazakh_and_its_clauses_as_kazakh_writes_them():
    text = text_of(circular_pdf.render(circular("kk")))
    kk = directions_for("union")[3]
    assert kk.code == "p.33.4"
    assert f"Жұмыс бағыты (Қағидалардың 33.4-тармағы): {kk.text_kk}" in text
    assert "Қағидалардың 34-тармағы, № 583 бұйрық" in text
    assert kk.text_ru not in text and "разработка" not in text
    assert not LATIN_CLAUSE.search(text) and "п." not in text and "Правил" not in text


def test_a_russian_circular_names_the_direction_in_russian_and_its_clauses_as_russian_writes_them():
    text = text_of(circular_pdf.render(circular("ru")))
    found = directions_for("union")[3]
    assert f"Направление работы (п. 33.4 Правил): {found.text_ru}" in text
    assert "(п. 34 Правил, приказ № 583)" in text
    assert found.text_kk not in text and "тармақ" not in text
    assert not LATIN_CLAUSE.search(text)


@pytest.mark.parametrize("found", directions_for("union"), ids=lambda d: d.code)
def test_every_union_direction_is_printed_in_the_circular_s_language(found):
    number = found.code.removeprefix("p.")
    kk = text_of(circular_pdf.render(circular("kk", direction=found.code)))
    ru = text_of(circular_pdf.render(circular("ru", direction=found.code)))
    assert f"(Қағидалардың {number}-тармағы): {found.text_kk}" in kk
    assert f"(п. {number} Правил): {found.text_ru}" in ru


def test_nothing_the_platform_prints_in_a_kazakh_circular_is_in_russian():
    # The platform's own words in a Russian circular (its labels and the direction) that Kazakh does not share:
    # none of them may appear in a Kazakh one whose own data is in Kazakh.
    ru = set(re.findall(r"\w+", text_of(circular_pdf.render(circular("ru"))).lower()))
    kk = set(re.findall(r"\w+", text_of(circular_pdf.render(circular("kk"))).lower()))
    ru -= set(re.findall(r"\w+", " ".join(RUSSIAN.values()).lower()))
    shared = {"циркуляр"}  # the same word in both languages
    assert ru & kk <= shared | {"1", "17", "26", "11", "2026", "0911000", "33", "4", "34", "583"}, ru & kk
    assert ru - shared  # the check has Russian words to look for


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_a_sign_is_never_parted_from_its_number_at_a_line_s_end(language):
    # At this width the Russian notice of p.34 used to end a line with "приказ №" and start the next with "583".
    for recipient in ("Колледж № 17", "Алматы қаласының № 17 жоғары колледжі", "Колледж"):
        document = circular_pdf.render(circular(language, recipient_name=recipient))
        for line in lines_of(document):
            assert not re.search(r"(№|\bп\.)$", line), line
        assert circular_pdf._render(circular(language, recipient_name=recipient), reuse=False) == document


def test_an_unknown_language_is_written_in_russian_throughout():
    text = text_of(circular_pdf.render(circular("de")))
    assert "Направление работы (п. 33.4 Правил)" in text and directions_for("union")[3].text_ru in text
