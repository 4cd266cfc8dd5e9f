"""The page of a person's notifications (their reminders and what waits for them), marking them read, and the
count in every page's header; the words of each reminder, shared with its email (services/reminder_mail.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField
from wtforms.fields.choices import SelectChoice

from domain import policy
from projections import notifications as notifications_rm
from projections.base import PositionNotReached, wait_for_position
from services.api.common import runtime
from domain.reminders import DEFAULT_MAIL, MAIL_CHOICES
from services.web import pages
from services.web.forms import Form
from services.web.documents import L, command_context, use_foundation

blp = Blueprint("web_notifications", __name__, template_folder="templates")
use_foundation(blp)


class MailForm(Form):
    """How reminders come by email (the profile's section "mail")."""

    section = HiddenField(default="mail")
    mail = RadioField(_l("How reminders come by email"), choices=[
        SelectChoice("at_once", _l("Each reminder at once")), SelectChoice("daily", _l("A daily digest")),
        SelectChoice("weekly", _l("A weekly digest")), SelectChoice("none", _l("No email"))])


def mail_section(posted: str | None) -> tuple[MailForm, Response | None]:
    """Return the profile's email-choice form, and the redirect once a posted choice is saved (else None)."""
    person = g.person
    form = MailForm(formdata=request.form if posted == "mail" else None, mail=person.mail or DEFAULT_MAIL)
    if posted == "mail" and form.validate() and form.mail.data in MAIL_CHOICES:
        runtime().platform.choose_mail(command_context(policy.CHOOSE_MAIL), person.tenant_id, person.id,
                                       form.mail.data)
        flash(gettext("How reminders come by email is saved."), "success")
        return form, redirect(url_for("web.profile", lang=g.lang))
    return form, None


def _day(value: Any) -> str:
    return date.fromisoformat(value).strftime("%d.%m.%Y") if isinstance(value, str) and value else str(value)


def line(item: dict[str, Any], _: Callable[..., str] = gettext) -> str:
    """Return what a notification says, in the language `_` translates to."""
    rule, facts = item["rule"], item.get("facts") or {}
    unit = facts.get("unit", "")
    if item["kind"] == "document":
        return _("A document waits for your move: %(title)s.", title=facts.get("title", ""))
    if item["kind"] == "plan":
        return _("The annual plan of %(unit)s for %(year)s waits for your approval.", unit=unit,
                 year=facts.get("year", ""))
    if item["kind"] == "circular":
        return _("Circular No. %(number)s waits to be acknowledged: %(title)s.", number=facts.get("number", ""),
                 title=facts.get("title", ""))
    if rule == "leader_term_ending":
        return _("The one-year term of the leader of %(unit)s ends on %(day)s, in %(count)s days.", unit=unit,
                 day=_day(facts.get("ends_on")), count=facts.get("days", ""))
    if rule == "leader_term_ends":
        return _("The one-year term of the leader of %(unit)s ends today: hold an election.", unit=unit)
    if rule == "no_meeting_this_quarter":
        return _("%(unit)s has held no meeting this quarter; it ends on %(day)s.", unit=unit,
                 day=_day(facts.get("ends_on")))
    if rule == "few_meetings_this_year":
        return _("%(unit)s has met %(count)s time(s) this academic year; it meets at least %(minimum)s times.",
                 unit=unit, count=facts.get("held", 0), minimum=facts.get("minimum", 2))
    if rule == "plan_not_approved":
        if facts.get("drafted"):
            return _("The annual plan of %(unit)s for %(year)s is not approved yet.", unit=unit,
                     year=facts.get("year", ""))
        return _("%(unit)s has no annual plan for %(year)s yet.", unit=unit, year=facts.get("year", ""))
    if rule == "below_minimum":
        return _("%(unit)s has %(members)s member(s), fewer than its minimum of %(minimum)s.", unit=unit,
                 members=facts.get("members", 0), minimum=facts.get("minimum", 3))
    if rule == "document_waiting":
        return _("The document %(title)s has waited %(count)s days for your move.", title=facts.get("title", ""),
                 count=facts.get("days", ""))
    if rule == "circular_unacknowledged":
        if item.get("summary"):
            return _("A member has not acknowledged circular No. %(number)s (%(union)s) for %(count)s days.",
                     number=facts.get("number", ""), union=facts.get("union", ""), count=facts.get("days", ""))
        return _("Circular No. %(number)s has waited %(count)s days to be acknowledged: %(title)s.",
                 number=facts.get("number", ""), count=facts.get("days", ""), title=facts.get("title", ""))
    return rule


def link(item: dict[str, Any], lang: str) -> str:
    """Return the path of the page where the notification's subject is acted on."""
    subject = item.get("subject_id")
    if item["kind"] == "document" or item["rule"] == "document_waiting":
        return f"/{lang}/documents/{subject}"
    if item["kind"] == "circular" or (item["rule"] == "circular_unacknowledged" and not item.get("summary")):
        return f"/{lang}/circulars/{subject}"
    if item["rule"] == "circular_unacknowledged":
        return f"/{lang}/notifications"
    return f"/{lang}/units/{subject}"


def unread_count() -> int | None:
    """Return how many notifications the signed-in person has not read (None for nobody or the operator)."""
    person = g.get("person")
    if person is None:
        return None
    rt = runtime()
    try:
        with rt.engine.connect() as conn:
            today = notifications_rm.settings_for(conn, person.tenant_id).today(pages.now())
            return sum(1 for i in notifications_rm.inbox(conn, person.tenant_id, person.id, list(person.roles), today)
                       if not i["read"])
    except Exception:  # noqa: BLE001 - a count that cannot be read leaves the header without it, not the page
        return None


@blp.app_context_processor
def header() -> dict[str, Any]:
    """Give every page the count of the person's unread notifications (computed only if the header asks)."""
    return {"unread_notifications": unread_count}


@blp.route(f"/{L}/notifications", methods=["GET", "POST"])
@pages.signed_in
def notifications(lang: str) -> Response:
    """The person's notifications, unread first; mark one or all read."""
    if g.operator:
        return pages.not_found()
    person = g.person
    rt = runtime()
    with rt.engine.connect() as conn:
        today = notifications_rm.settings_for(conn, person.tenant_id).today(pages.now())
        items = notifications_rm.inbox(conn, person.tenant_id, person.id, list(person.roles), today)
    if request.method == "POST":
        wanted = request.form.get("key")
        keys = [i["key"] for i in items if not i["read"] and (wanted is None or i["key"] == wanted)]
        ctx = command_context(policy.MARK_NOTIFICATIONS_READ)
        done = rt.platform.mark_read(ctx, person.tenant_id, person.id, keys)
        try:  # the page it redirects to shows them read (and the header's count without them)
            wait_for_position(rt.engine, notifications_rm.read_model, done.position, 3.0)
        except PositionNotReached:
            pass  # shown read a moment later; the reads are recorded
        flash(gettext("Marked as read."), "success")
        return redirect(url_for("web_notifications.notifications", lang=lang))
    shown = items[:50]
    for item in shown:
        item["text"] = line(item)
        item["href"] = link(item, lang)
    return pages.page("notifications/list.html", items=shown, total=len(items),
                      unread=sum(1 for i in items if not i["read"]))
