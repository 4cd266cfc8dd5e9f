"""Email notices of delivered circulars, through the SMTP relay the environment names."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from services.config import Settings

SUBJECTS = {
    "ru": "Циркуляр № {number}: {title}",
    "kk": "№ {number} циркуляр: {title}",
}
BODIES = {
    "ru": ("Учебно-методическое объединение «{union}» доводит до вашего сведения решение № {decision}: "
           "«{title}».\n\nЦиркуляр прилагается и доступен на платформе. Решение носит рекомендательный "
           "характер (п.34 Правил); просим ознакомиться и отметить его на платформе.\n"),
    "kk": ("«{union}» оқу-әдістемелік бірлестігі № {decision} шешімді назарыңызға жеткізеді: «{title}».\n\n"
           "Циркуляр қоса беріледі және платформада қолжетімді. Шешім ұсынымдық сипатта болады "
           "(Қағидалардың 34-тармағы); танысып, платформада белгілеуіңізді сұраймыз.\n"),
}


class MailNotConfigured(RuntimeError):
    """Raised when a notice should be sent but SMTP_HOST or SMTP_FROM is not set."""


def notice(settings: Settings, *, to: str, language: str, number: str, title: str, union: str, decision: int,
           circular_id: str, document: bytes, filename: str) -> EmailMessage:
    """Return the notice of one circular, with its document attached.

    Its Message-ID derives from the circular, so a notice sent again after a crash is recognisably the same.
    """
    if not settings.smtp_from:
        raise MailNotConfigured("SMTP_FROM is not set")
    lang = language if language in SUBJECTS else "ru"
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = SUBJECTS[lang].format(number=number, title=title)
    message["Date"] = formatdate(localtime=False)
    domain = settings.smtp_from.rpartition("@")[2].strip("> ") or "methodical.local"
    message["Message-ID"] = f"<circular-{circular_id}@{domain}>" if domain else make_msgid()
    message.set_content(BODIES[lang].format(union=union, decision=decision, title=title))
    message.add_attachment(document, maintype="application", subtype="pdf", filename=filename)
    return message


def send(settings: Settings, message: EmailMessage) -> None:
    """Send a message through the configured relay (STARTTLS and login when configured)."""
    if not settings.smtp_host:
        raise MailNotConfigured("SMTP_HOST is not set")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)
