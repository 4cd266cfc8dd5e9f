"""Email notices of delivered circulars, through the SMTP relay the environment names."""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from domain import clauses
from services.config import Settings

log = logging.getLogger(__name__)

SUBJECTS = {
    "ru": "Циркуляр № {number}: {title}",
    "kk": "№ {number} циркуляр: {title}",
}
BODIES = {
    "ru": ("Учебно-методическое объединение «{union}» доводит до вашего сведения решение № {decision}: "
           "«{title}».\n\nЦиркуляр прилагается и доступен на платформе. Решение носит рекомендательный "
           "характер (" + clauses.of_rules("p.34", "ru") + "); просим ознакомиться и отметить его на платформе.\n"),
    "kk": ("«{union}» оқу-әдістемелік бірлестігі № {decision} шешімді назарыңызға жеткізеді: «{title}».\n\n"
           "Циркуляр қоса беріледі және платформада қолжетімді. Шешім ұсынымдық сипатта болады "
           "(" + clauses.of_rules("p.34", "kk") + "); танысып, платформада белгілеуіңізді сұраймыз.\n"),
}


class MailNotConfigured(RuntimeError):
    """Raised when a notice should be sent but SMTP_HOST or SMTP_FROM is not set."""


@dataclass(frozen=True)
class Notice:
    """A notice as handed to the relay: the envelope and the whole message (CRLF line ends)."""

    sender: str
    recipient: str
    data: bytes
    international: bool = False  # an address beyond ASCII: sent with SMTPUTF8


def notice(settings: Settings, *, to: str, language: str, number: str, title: str, union: str, decision: int,
           circular_id: str, document: bytes, filename: str) -> Notice:
    """Return the notice of one circular, with its document attached.

    Its Message-ID derives from the circular, so a notice sent again after a crash is recognisably the same.
    The headers are folded and encoded by the email package; the two parts, base64 throughout, are put together
    here (the package's generator took more time than rendering the text of the circular).
    """
    if not settings.smtp_from:
        raise MailNotConfigured("SMTP_FROM is not set")
    lang = language if language in SUBJECTS else "ru"
    subject = SUBJECTS[lang].format(number=number, title=title)
    body = BODIES[lang].format(union=union, decision=decision, title=title)
    domain = settings.smtp_from.rpartition("@")[2].strip("> ") or "methodical.local"
    message_id = f"<circular-{circular_id}@{domain}>"
    sender, recipient = parseaddr(settings.smtp_from)[1], parseaddr(to)[1]
    if not (sender.isascii() and recipient.isascii()):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
        message["Date"], message["Message-ID"] = formatdate(localtime=False), message_id
        message.set_content(body)
        message.add_attachment(document, maintype="application", subtype="pdf", filename=filename)
        return Notice(sender, recipient, message.as_bytes(policy=policy.SMTPUTF8), international=True)
    boundary = f"=_circular_{circular_id}"  # "_" never occurs in base64, the only content encoding used
    head = b"".join(_header(name, value) for name, value in (
        ("From", settings.smtp_from), ("To", to), ("Subject", subject), ("Date", formatdate(localtime=False)),
        ("Message-ID", message_id), ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
    ))
    delimiter = f"--{boundary}\r\n".encode()
    data = b"".join((
        head, b"\r\n",
        delimiter, b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n',
        _base64(body.encode()),
        delimiter, b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n",
        _header("Content-Disposition", f'attachment; filename="{filename}"'), b"\r\n",
        _base64(document),
        f"--{boundary}--\r\n".encode(),
    ))
    return Notice(sender, recipient, data)


def _header(name: str, value: str) -> bytes:
    """One header line: as it is when short plain ASCII; the subject in RFC 2047 words; else as the email package folds it."""
    if value.isascii() and value.isprintable() and len(name) + len(value) < 76:
        return f"{name}: {value}\r\n".encode()
    if name == "Subject" and value.isprintable():
        encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
        return f"{name}: {encoded}\r\n".encode()
    return policy.SMTP.fold_binary(name, policy.SMTP.header_factory(name, value))


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _open(settings: Settings) -> smtplib.SMTP:
    """Open a session with the configured relay (STARTTLS and login when configured)."""
    if not settings.smtp_host:
        raise MailNotConfigured("SMTP_HOST is not set")
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
    try:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


class Relay:
    """One SMTP session to the configured relay, kept open across the notices a worker process sends.

    Opening a session (TCP, greeting, EHLO, STARTTLS, login) costs more than sending a notice. The session is
    closed after MAX_MESSAGES notices or IDLE_SECONDS without one (relays drop idle clients), and opened again.
    A notice whose reused session turns out to be dropped (the relay timed it out) is sent once more on a new
    session; like a worker killed after the relay accepted it, that may repeat a notice (same Message-ID,
    ADR 006), never lose one. Not for concurrent use: one per worker process.
    """

    MAX_MESSAGES = 100
    IDLE_SECONDS = 10.0

    def __init__(self, settings: Settings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._sent = 0
        self._last = 0.0

    def send(self, message: Notice) -> None:
        """Send a notice, on the open session if there is a usable one."""
        if self._smtp is not None and (self._sent >= self.MAX_MESSAGES
                                       or time.monotonic() - self._last > self.IDLE_SECONDS):
            self.close()
        reused = self._smtp is not None
        if self._smtp is None:
            self._smtp = _open(self.settings)
            self._sent = 0
        try:
            self._send(message)
        except (smtplib.SMTPServerDisconnected, ConnectionError) as error:
            self._drop()
            if not reused:
                raise
            log.info("the SMTP relay dropped the session (%s); sending on a new one", error)
            self._smtp = _open(self.settings)
            self._sent = 0
            self._send(message)
        except BaseException:
            self._drop()  # the session's state is unknown (a refused recipient, a timeout): start clean
            raise
        self._sent += 1
        self._last = time.monotonic()

    def _send(self, message: Notice) -> None:
        assert self._smtp is not None
        options: list[str] = []
        if message.international:
            self._smtp.ehlo_or_helo_if_needed()
            if not self._smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("the relay does not take an address beyond ASCII (no SMTPUTF8)")
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        self._smtp.sendmail(message.sender, [message.recipient], message.data, mail_options=options)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def close(self) -> None:
        """End the session politely (QUIT), if one is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
