"""The directions in Kazakh (issue 23): every sub-item of p.7, p.8, p.9, p.13 and p.33 has its own Kazakh text."""

from __future__ import annotations

import re

import pytest

from domain.directions import DIRECTIONS, direction

KAZAKH_LETTERS = set("ӘәҒғҚқҢңӨөҰұҮүҺһІі")
DUPLICATE_PAIRS = [("p.9.5", "p.9.12"), ("p.9.8", "p.9.24"), ("p.9.11", "p.9.26"), ("p.9.21", "p.9.23")]


def words(text: str) -> set[str]:
    return set(re.findall(r"[\w-]+", text.lower()))


def test_every_direction_has_a_kazakh_text_of_its_own_not_a_copy_of_the_russian():
    for d in DIRECTIONS:
        assert d.text_kk and d.text_kk != d.text_ru, d.code
        assert KAZAKH_LETTERS & set(d.text_kk), d.code
        # A copied or half-translated text shares its words with the Russian; a translation shares almost none
        # (a loanword such as "менеджмент" at most).
        shared = words(d.text_kk) & words(d.text_ru)
        assert len(shared) <= 2, (d.code, shared)


def test_every_kazakh_text_is_cyrillic_normalised_and_without_numbering_or_final_punctuation():
    for d in DIRECTIONS:
        assert d.text_kk == " ".join(d.text_kk.split()), d.code
        assert not re.search(r"[A-Za-z]", d.text_kk), d.code
        assert not re.match(r"\d+\)", d.text_kk) and d.text_kk[-1] not in ";.", d.code


def test_items_the_order_repeats_read_the_same_in_kazakh_and_the_others_differ():
    for earlier, later in DUPLICATE_PAIRS:
        assert direction(earlier).text_kk == direction(later).text_kk
    # p.9.19 is p.9.7 without its inclusion of credit and distance technologies
    assert "кредиттік және қашықтықтан" in direction("p.9.7").text_kk
    assert "кредиттік" not in direction("p.9.19").text_kk
    assert direction("p.9.7").text_kk.startswith("оқытудың жаңа технологиялары")
    texts = [d.text_kk for d in DIRECTIONS if d.duplicate_of is None]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(("code", "term"), [
    ("p.33.1", "үлгілік оқу жоспарлары мен үлгілік оқу бағдарламаларын"),
    ("p.33.1", "оқу-әдістемелік кешендер"),
    ("p.9.16", "жұмыс оқу бағдарламаларын"),
    ("p.9.17", "жұмыс оқу жоспарлары мен жұмыс оқу бағдарламаларын"),
    ("p.9.14", "білім берудің мемлекеттік жалпыға міндетті стандарттарын"),
    ("p.33.2", "техникалық және кәсіптік білім беру, орта білімнен кейінгі білім беру ұйымдарында"),
    ("p.7.7", "педагог қызметкерлер мен оларға теңестірілген тұлғаларды аттестаттау"),
    ("p.8.5", "педагогикалық тәлімгерлікті"),
])
def test_the_kazakh_texts_use_the_official_terms(code, term):
    assert term in direction(code).text_kk


def test_p33_4_reads_in_kazakh_as_a_union_writes_it():
    assert direction("p.33.4").text_kk == ("оқытудың, білімді бақылаудың заманауи технологияларын және оқу процесін "
                                           "ақпараттандыруды енгізу жөнінде ұсыныстар мен әдістемелік ұсынымдар әзірлеу")


def test_a_direction_gives_its_text_in_russian_kazakh_or_english_and_russian_for_any_other_language():
    found = direction("p.33.4")
    assert found.text("ru") == found.text_ru
    assert found.text("kk") == found.text_kk
    assert found.text("en") == found.label_en
    for other in ("de", "", "KK", "kz"):
        assert found.text(other) == found.text_ru
