"""The notice of a circular cites p.34 as its language writes a clause (issue 23)."""

from __future__ import annotations

import email
import email.policy

import pytest

from services import mail
from services.config import Settings

SETTINGS = Settings(database_url="postgresql:///unused", smtp_host="127.0.0.1", smtp_from="umo@methodical.example.kz")


@pytest.mark.parametrize(("language", "cited", "not_cited"), [
    ("ru", "(п. 34 Правил)", "тармақ"),
    ("kk", "(Қағидалардың 34-тармағы)", "Правил"),
])
def test_the_notice_cites_p34_as_its_language_writes_it(language, cited, not_cited):
    sent = mail.notice(SETTINGS, to="college@example.kz", language=language, number="1/17", title="Тренажерлер",
                       union="Дәнекерлеу ОӘБ", decision=1, circular_id="6f1c1f3e-7f51-4e47-9a3c-2f5b0f7f1d11",
                       document=b"%PDF-1.4", filename="circular.pdf")
    message = email.message_from_bytes(sent.data, policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()
    assert cited in body and not_cited not in body and "p.34" not in body
