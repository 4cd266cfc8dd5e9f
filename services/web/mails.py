"""Emails of sign-in: the invitation and the password reset link, in the person's language."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from flask import render_template
from flask_babel import force_locale, format_datetime, gettext

from services.config import Settings
from services.mail import Notice, Relay

log = logging.getLogger(__name__)


def compose(settings: Settings, *, to: str, language: str, kind: str, url: str, expires_at: datetime,
            full_name: str, tenant: str) -> Notice:
    """Return the email with the link (`kind`: invitation or reset) in the language given."""
    with force_locale(language):
        if kind == "invitation":
            subject = gettext("Invitation to the methodical work platform")
        else:
            subject = gettext("Resetting your password on the methodical work platform")
        body = render_template(f"emails/{kind}.txt", url=url, full_name=full_name, tenant=tenant,
                               expires=format_datetime(expires_at, "medium"))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message["Date"], message["Message-ID"] = formatdate(localtime=False), make_msgid(domain="methodical.local")
    message.set_content(body)
    sender, recipient = parseaddr(settings.smtp_from or "")[1], parseaddr(to)[1]
    international = not (sender.isascii() and recipient.isascii())
    data = message.as_bytes(policy=policy.SMTPUTF8 if international else policy.SMTP)
    return Notice(sender, recipient, data, international=international)


def send(settings: Settings, notice: Notice) -> bool:
    """Send the email through the configured relay; return False (and log why, never the link) if it failed."""
    if not (settings.smtp_host and settings.smtp_from):
        return False
    relay = Relay(settings)
    try:
        relay.send(notice)
    except (smtplib.SMTPException, OSError) as error:
        log.warning("a sign-in email was not sent: %s", type(error).__name__)
        return False
    finally:
        relay.close()
    return True
