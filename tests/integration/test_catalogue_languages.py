"""The catalogue of directions gives each in Kazakh beside its Russian text and English label (issue 23)."""

from __future__ import annotations

from typing import Any

from domain.directions import directions_for

FIELDS = {"code", "clause", "number", "level", "text_ru", "text_kk", "label_en", "duplicate_of"}


def test_every_direction_of_every_level_has_its_kazakh_text_beside_the_existing_fields(client: Any, tour: Any):
    response = client.get("/api/v1/catalogue/directions", headers=tour.operator)
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    assert len(items) == 58
    for item, found in zip(items, directions_for(), strict=True):
        assert set(item) == FIELDS, item
        assert (item["code"], item["text_ru"], item["text_kk"]) == (found.code, found.text_ru, found.text_kk)
        assert item["text_kk"] != item["text_ru"]


def test_one_level_keeps_its_filter_and_gives_the_kazakh_text_too(client: Any, tour: Any):
    response = client.get("/api/v1/catalogue/directions", headers=tour.operator, query_string={"level": "union"})
    items = response.get_json()["items"]
    assert [d["code"] for d in items] == [f"p.33.{n}" for n in range(1, 12)]
    assert items[3]["text_kk"].startswith("оқытудың, білімді бақылаудың заманауи технологияларын")
