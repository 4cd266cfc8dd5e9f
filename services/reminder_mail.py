"""The emails of reminders: one reminder, or a person's digest, in their language, as plain text and HTML, with
links to the pages (ADR 023). Rendered by a worker, outside any request: the web's catalogues and templates are
read directly."""

from __future__ import annotations

import functools
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any

from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.clauses import reference
from services.config import Settings
from services.mail import MailNotConfigured, Notice
from services.web import i18n

TEMPLATES = Path(__file__).parent / "web" / "templates"


@functools.cache
def translations(language: str) -> Translations:
    """Return every domain's catalogue of a language, merged (as Flask-Babel merges them for the pages)."""
    folder = i18n.compiled_catalogues()
    merged: Translations | None = None
    for domain in i18n.domains():
        found = Translations.load(folder, [language], domain)
        if merged is None:
            merged = found if isinstance(found, Translations) else Translations()
        elif isinstance(found, Translations):
            merged.merge(found)
    return merged or Translations()


@functools.cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                       extensions=["jinja2.ext.i18n"], keep_trailing_newline=True)


def gettext_in(language: str) -> Any:
    """Return a gettext of the language that fills %(name)s placeholders, as Flask-Babel's does."""
    catalogue = translations(language)

    def _(message: str, **variables: Any) -> str:
        text = catalogue.gettext(message)
        return text % variables if variables else text

    return _


def compose(settings: Settings, row: Any) -> Notice:
    """Return the email of one written outbox row (a reminder, or a digest)."""
    from services.web.notifications import line, link

    if not settings.smtp_from:
        raise MailNotConfigured("SMTP_FROM is not set")
    language = row.language if row.language in i18n.LANGUAGES else i18n.DEFAULT
    _ = gettext_in(language)
    base = settings.public_url or f"http://127.0.0.1:{settings.port}"
    items = [{**item, "kind": "reminder", "summary": item.get("summary", False)} for item in row.items]
    lines = [{"text": line(item, _), "clause": reference(item["clause"], language) if item.get("clause") else "",
              "url": base + link(item, language)} for item in items]
    if row.kind == "digest":
        subject = _("Reminders of the methodical work platform: %(count)s", count=len(lines))
    else:
        subject = lines[0]["text"] if len(lines[0]["text"]) < 120 else lines[0]["text"][:117] + "..."
    env = _environment()
    env.install_gettext_callables(gettext=_, ngettext=lambda s, p, n, **kw: _(s if n == 1 else p, **kw),  # type: ignore[attr-defined]
                                  newstyle=True)
    context = {"lines": lines, "digest": row.kind == "digest", "period": row.period,
               "notifications_url": f"{base}/{language}/notifications", "profile_url": f"{base}/{language}/profile",
               "lang": language}
    plain = env.get_template("emails/reminders.txt").render(**context)
    html = env.get_template("emails/reminders.html").render(**context)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, row.email, subject
    domain = settings.smtp_from.rpartition("@")[2].strip("> ") or "methodical.local"
    message["Date"] = formatdate(localtime=False)
    # From the outbox key: a message sent again after a crash is recognisably the same one.
    message["Message-ID"] = f"<{row.key.replace(':', '.')}@{domain}>"
    message.set_content(plain)
    message.add_alternative(html, subtype="html")
    sender, recipient = parseaddr(settings.smtp_from)[1], parseaddr(row.email)[1]
    international = not (sender.isascii() and recipient.isascii())
    return Notice(sender, recipient, message.as_bytes(policy=policy.SMTPUTF8 if international else policy.SMTP),
                  international=international)
