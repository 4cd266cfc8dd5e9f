"""The notice of a circular, as the relay receives it: headers encoded, the document attached (p.34)."""

from __future__ import annotations

import email
import email.policy

from services import mail
from services.config import Settings

SETTINGS = Settings(database_url="postgresql:///unused", smtp_host="127.0.0.1", smtp_from="umo@methodical.example.kz")
CIRCULAR = "6f1c1f3e-7f51-4e47-9a3c-2f5b0f7f1d11"


def notice(to: str = "college@example.kz", language: str = "kk") -> mail.Notice:
    return mail.notice(SETTINGS, to=to, language=language, number="1/17", title="Цифрлық тренажерлер: ҒҚҢӨҰҮҺІ",
                       union="Дәнекерлеу ОӘБ", decision=1, circular_id=CIRCULAR, document=b"%PDF-1.4 \x00\xff" * 900,
                       filename=f"circular-1-17-{CIRCULAR}.pdf")


def test_a_notice_parses_back_to_its_headers_text_and_document():
    sent = notice()
    assert (sent.sender, sent.recipient, sent.international) == ("umo@methodical.example.kz", "college@example.kz",
                                                                False)
    message = email.message_from_bytes(sent.data, policy=email.policy.default)
    assert message["From"] == "umo@methodical.example.kz" and message["To"] == "college@example.kz"
    assert message["Subject"] == "№ 1/17 циркуляр: Цифрлық тренажерлер: ҒҚҢӨҰҮҺІ"
    assert str(message["Message-ID"]).strip() == f"<circular-{CIRCULAR}@methodical.example.kz>"
    assert "34-тармағы" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"circular-1-17-{CIRCULAR}.pdf"
    assert attachment.get_content() == b"%PDF-1.4 \x00\xff" * 900
    assert all(len(line) <= 998 for line in sent.data.split(b"\r\n"))


def test_an_address_beyond_ascii_goes_as_an_smtputf8_message():
    sent = notice(to="колледж@мысал.kz", language="ru")
    assert sent.international and sent.recipient == "колледж@мысал.kz"
    message = email.message_from_bytes(sent.data, policy=email.policy.default)
    assert message["Subject"].startswith("Циркуляр № 1/17")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == b"%PDF-1.4 \x00\xff" * 900
