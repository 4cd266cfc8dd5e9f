"""The web's pages of signing in and of the person's own account, the dashboard shell, and what every page
shares: its language, the signed-in person (read again on every request), CSRF checks and security headers."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from flask import (Blueprint, Response, flash, g, make_response, redirect, render_template, request, session,
                   url_for)
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from domain import rules
from domain.base import DomainError, NotFound
from domain.people import LinkNotValid, LoginTaken, OperatorAccount
from services.api.common import runtime
from services.api.errors import status_of
from services.api.limits import FailedAuthentications
from services.auth import Caller
from services.commands import StaleWrite
from services.signin import OPERATOR_LOGIN, WeakPassword, WrongCredentials
from services.web import csrf, forms, i18n, mails
from services.web.i18n import LANGUAGES

log = logging.getLogger(__name__)

blp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
L = "<any(ru, kk, en):lang>"
SESSION_COOKIE = "methodical_session"

SECURITY_HEADERS = {
    # No inline script or style anywhere: a page runs only what the platform serves itself.
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Invitation and reset links carry their secret in the path: never hand it to another site.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def now() -> datetime:
    """Return this moment, timezone-aware."""
    moment = runtime().clock()
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def address() -> str:
    """Return the client's address as this process sees it."""
    return request.remote_addr or ""


def request_id() -> str:
    """Return this request's id (set by the API's hook for every request)."""
    return g.get("request_id") or ""


# Every request of the web

@blp.before_request
def identify() -> Response | None:
    """Take the page's language; read the signed-in person again; check the CSRF token of a form."""
    g.lang = (request.view_args or {}).get("lang") or i18n.best_language()
    g.person = g.session_id = g.tenant = None
    g.session_ended = g.operator = False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and request.endpoint != "web.static":  # a stylesheet needs nobody signed in
        found = runtime().platform.person_for_session(cookie[:200], now())
        operator_session = None if found else runtime().platform.operator_for_session(cookie[:200], now())
        if operator_session is not None:
            g.operator, g.session_id = True, operator_session
            g.caller = Caller()  # the platform operator, as OPERATOR_TOKEN is to the API
        elif found is None:
            g.session_ended = True  # expired, signed out, the person left, or a forged cookie: all the same
        else:
            g.person, g.session_id = found
            g.caller = Caller(g.person)  # the read models' row-level security reads the caller's scope
            g.tenant = runtime().platform.get_tenant(g.person.tenant_id)
            if request.method == "GET" and "lang" in (request.view_args or {}) and g.person.language != g.lang:
                # The language a person last chose (the switch on every page) is remembered for them.
                try:
                    runtime().platform.choose_language(g.person.id, g.lang, now=now(), request_id=request_id())
                except StaleWrite:
                    pass  # another request of theirs changed the person first: a preference can wait a page
    if request.method == "POST":
        csrf.protect()  # after the person is known, so that a refusal's page still shows who is signed in
    return None


@blp.after_request
def protect(response: Response) -> Response:
    """Add the security headers; forget a session cookie that signs in nobody."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if runtime().settings.web_cookie_secure:  # served over TLS: browsers are to keep to it
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if g.get("session_ended"):
        response.delete_cookie(SESSION_COOKIE, path="/", secure=runtime().settings.web_cookie_secure,
                               httponly=True, samesite="Lax")
    return response


@blp.app_context_processor
def page_context() -> dict[str, Any]:
    """What every template may use: the language, its switch, the person, names of roles."""
    return {"lang": g.get("lang", i18n.DEFAULT), "languages": LANGUAGES, "language_names": i18n.NAMES,
            "switch_to": switch_to, "person": g.get("person"), "tenant": g.get("tenant"), "role_name": role_name,
            "page_link": page_link,
            "operator": g.get("operator", False),
            "format_datetime": format_datetime, "format_date": format_date}


def switch_to(language: str) -> str:
    """Return this page's address in another language."""
    args = dict(request.view_args or {})
    if request.endpoint and request.endpoint.startswith("web.") and "lang" in args:
        args["lang"] = language
        target = url_for(request.endpoint, **args)
    else:
        target = url_for("web.dashboard", lang=language)
    return target + (f"?{request.query_string.decode()}" if request.query_string else "")


# Lists (web.md: 50 rows a page with next/previous links and a search box `q`); the macros `search` and `pager`
# of macros.html show them.

ROWS = 50
PAGING = ("page", "after", "before", "at")  # a list's place, never kept in a link to another page of it


@dataclass(frozen=True)
class Listing:
    """One page of a list: its rows, its number (None for a list paged by position), and the query arguments of
    the pages before and after it (None at either end)."""

    rows: list[Any]
    number: int | None = None
    previous: dict[str, Any] | None = None
    next: dict[str, Any] | None = None


def search_text() -> str:
    """Return the search box's text (`q`), trimmed and bounded."""
    return request.args.get("q", "").strip()[:200].replace("\x00", "")


def page_number() -> int:
    """Return the list page asked for (`page`; 1 for anything that is not a small positive number)."""
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


def _position(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def listed(conn: Any, query: Any, rows: int = ROWS) -> Listing:
    """Run an ordered list query for the page asked for (`page`): `rows` rows, and whether more lie either side."""
    number = page_number()
    found = list(conn.execute(query.limit(rows + 1).offset((number - 1) * rows)))
    return Listing(found[:rows], number, {"page": number - 1} if number > 1 else None,
                   {"page": number + 1} if len(found) > rows else None)


def listed_by(conn: Any, query: Any, column: Any, key: str, rows: int = ROWS) -> Listing:
    """Run a list query ordered by a growing position (`column`, the rows' attribute `key`) for the page asked for
    (`after` or `before` a position): what a list that grows while it is read is paged by."""
    before = _position("before")
    if before is not None:
        found = list(conn.execute(query.where(column < before).order_by(column.desc()).limit(rows + 1)))
        shown = list(reversed(found[:rows]))
        earlier = len(found) > rows
        return Listing(shown, None, {"before": getattr(shown[0], key)} if shown and earlier else None,
                       {"after": getattr(shown[-1], key)} if shown else None)
    after = _position("after") or 0
    found = list(conn.execute(query.where(column > after).order_by(column).limit(rows + 1)))
    shown = found[:rows]
    return Listing(shown, None, {"before": getattr(shown[0], key)} if shown and after else None,
                   {"after": getattr(shown[-1], key)} if shown and len(found) > rows else None)


def page_link(**where: Any) -> str:
    """Return this page's address with its query kept (its search, its filters) at another place of its list."""
    kept = {k: v for k, v in request.args.items() if k not in PAGING and v}
    return url_for(request.endpoint or "web.dashboard", **{**(request.view_args or {}), **kept, **where})


def minute_formatter(format: str = "short") -> Callable[[datetime | None], str]:
    """Return a function that writes a moment as format_datetime does in this page's language and zone, for a
    long list: each minute is formatted once (the short format shows no seconds), "" for none."""
    from babel.dates import format_datetime as babel_datetime
    from flask_babel import get_locale, get_timezone

    locale, zone, seen = get_locale(), get_timezone(), {}

    def written(moment: datetime | None) -> str:
        if moment is None:
            return ""
        minute = int(moment.timestamp()) // 60
        if minute not in seen:
            seen[minute] = babel_datetime(moment, format, tzinfo=zone, locale=locale)
        return seen[minute]

    return written


def role_name(role: str) -> str:
    """Return the name of a role in the page's language."""
    names = {
        rules.HEAD: _("Head of the organization"), rules.DEPUTY_HEAD: _("Deputy head"),
        rules.METHODIST: _("Methodist"), rules.TEACHER: _("Teacher"),
        "industrial_training_master": _("Master of industrial training"), "class_teacher": _("Class teacher"),
        "preschool_educator": _("Preschool educator"), "librarian": _("Librarian"), rules.AUDITOR: _("Auditor"),
    }
    return names.get(role, role)


# The pages a signed-in operator works in besides the operator's own (services/web/operator.py): every other page
# is a person's, of a tenant the operator belongs to none of, so it is the 404 page for the operator.
OPERATOR_SEES = {"web.dashboard", "web.profile", "web_audit.timeline", "web_audit.as_of", "web_audit.changes",
                 "web_audit.verify_chain"}


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let only a signed-in person see the page; others go to the sign-in form, told why."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.operator and request.endpoint not in OPERATOR_SEES:
            return not_found()
        if g.person is None and not g.operator:
            if g.session_ended:
                flash(_("Your session has ended. Sign in again."), "info")
            else:
                flash(_("Sign in to continue."), "info")
            target = request.path if request.method == "GET" else None
            return redirect(url_for("web.login", lang=g.lang, next=target))
        return view(*args, **kwargs)

    return wrapper


def page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a page."""
    return make_response(render_template(template, **context), status)


def error_page(status: int, title: str, message: str) -> Response:
    """Render the page of a refusal in the page's language."""
    return page("error.html", status, title=title, message=message)


@blp.errorhandler(Exception)
def web_error(error: Exception) -> Response:
    """Answer every failure of a page with a page in its language, never a bare 500."""
    if isinstance(error, CSRFError):
        return error_page(400, _("The form has expired"), _(
            "The form was open too long or was sent from another page, so nothing was changed. "
            "Go back, reload the page and send the form again."))
    if isinstance(error, NotFound) or (isinstance(error, HTTPException) and error.code == 404):
        return not_found()
    if isinstance(error, HTTPException) and error.code == 405:
        return not_allowed()
    if isinstance(error, HTTPException) and error.code and error.code < 500:
        return error_page(error.code, _("The request was not understood"), _(
            "Nothing was changed. Go back and try again."))
    if isinstance(error, StaleWrite):
        return error_page(409, _("This cannot be done"), _("Another change was saved at the same moment; nothing "
                                                          "was changed. Go back and try again."))
    if isinstance(error, DomainError):
        # Forms show their refusals beside their fields; one that escapes a page is told in its language only.
        log.info("a page refused: %s", error.detail)
        return error_page(status_of(error), _("This cannot be done"),
                          _("Nothing was changed. Go back and try again."))
    if type(error).__name__ in ("OperationalError", "InterfaceError", "PoolTimeout", "TimeoutError"):
        log.warning("database unavailable: %s", error)
        return error_page(503, _("The platform is busy"), _("The database is not answering. Try again in a minute."))
    log.exception("unexpected error on a page")
    return error_page(500, _("Something went wrong"), _("The error has been logged. Try again later."))


def not_allowed() -> Response:
    """The page of a request method that the address does not take."""
    return error_page(405, _("This cannot be done here"), _("This page does not take such a request."))


def not_found() -> Response:
    """The page of a missing object, or of one the person may not see: the same for both."""
    return error_page(404, _("Page not found"), _(
        "There is no such page, or it is not yours to see. Check the address or go to the home page."))


# Addresses without a page

@blp.route("/")
def root() -> Response:
    """Send the browser to the home page in the person's language, else the browser's, else Russian."""
    language = (g.person.language if g.person is not None else None) or i18n.best_language()
    return redirect(url_for("web.dashboard", lang=language))


@blp.route(f"/{L}/<path:rest>", methods=["GET", "POST"])
def missing(lang: str, rest: str) -> Response:
    """Answer an address under a language that names no page."""
    return not_found()


# Signing in and out

def _limiters() -> tuple[FailedAuthentications, FailedAuthentications]:
    rt = runtime()
    cached = getattr(rt, "signin_limiters", None)
    if cached is None:
        # The limits library, through the API's own counter of failures (Redis shared by every worker).
        cached = (FailedAuthentications(replace(rt.settings, auth_failure_limit=rt.settings.signin_login_limit)),
                  FailedAuthentications(replace(rt.settings, auth_failure_limit=rt.settings.signin_address_limit)))
        rt.signin_limiters = cached  # type: ignore[attr-defined]
    return cached


def _limit_keys(login: str) -> tuple[str, str]:
    digest = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
    return f"methodical-signin/login/{digest}", f"methodical-signin/address/{address()}"


def _wait_minutes(refusals: list[Response | None]) -> int | None:
    waits = [int(r.headers.get("Retry-After", "60")) for r in refusals if r is not None]
    return max(1, math.ceil(max(waits) / 60)) if waits else None


def safe_next(target: str | None) -> str | None:
    """Return a page of this site to go to after signing in; None for anything else (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.split("/")[1:2] not in ([lang] for lang in LANGUAGES):
        return None
    return target


@blp.route(f"/{L}/login", methods=["GET", "POST"])
def login(lang: str) -> Response:
    """Sign in with email and password."""
    if g.person is not None or g.operator:
        return redirect(url_for("web.dashboard", lang=lang))
    form = forms.LoginForm(formdata=request.form if request.method == "POST" else None,
                           next=request.args.get("next", ""))
    error = None
    status = 200
    if request.method == "POST" and form.validate():
        per_login, per_address = _limiters()
        login_key, address_key = _limit_keys(form.login.data)
        wait = _wait_minutes([per_login.refused(login_key), per_address.refused(address_key)])
        if wait is not None:
            error, status = _("Too many failed attempts. Try again in %(minutes)s min.", minutes=wait), 429
        else:
            rt = runtime()
            seen = {"now": now(), "hours": rt.settings.session_hours, "address": address(),
                    "agent": request.headers.get("User-Agent", ""), "request_id": request_id()}
            try:
                if form.login.data.strip().lower() == OPERATOR_LOGIN:
                    signed = rt.platform.sign_in_operator(form.password.data, rt.settings.operator_token, **seen)
                else:
                    signed = rt.platform.sign_in(form.login.data, form.password.data, language=lang, **seen)
            except WrongCredentials:
                per_login.count(login_key)
                per_address.count(address_key)
                error, status = _("The email or the password is wrong."), 422
            else:
                session.clear()  # a new CSRF token for the signed-in person: none from before carries over
                flash(_("You are signed in."), "success")
                response = redirect(safe_next(form.next.data) or url_for("web.dashboard", lang=lang))
                response.set_cookie(SESSION_COOKIE, signed.cookie, max_age=rt.settings.session_hours * 3600,
                                    path="/", secure=rt.settings.web_cookie_secure, httponly=True, samesite="Lax")
                g.session_ended = False
                return response
    elif request.method == "POST":
        status = 422
    return page("login.html", status, form=form, error=error)


@blp.route(f"/{L}/logout", methods=["GET", "POST"])
def logout(lang: str) -> Response:
    """Sign out of this session (POST); a GET shows the button."""
    if request.method == "GET":
        if g.person is None and not g.operator:
            return redirect(url_for("web.login", lang=lang))
        return page("logout.html")
    if g.person is not None:
        runtime().platform.sign_out(g.person.id, [g.session_id], now=now(), address=address(),
                                    request_id=request_id())
    elif g.operator:
        runtime().platform.sign_out_operator([g.session_id], now=now(), address=address(), request_id=request_id())
    session.clear()
    flash(_("You have signed out."), "success")
    g.session_ended = True
    return redirect(url_for("web.login", lang=lang))


# Invitation and reset links

LINK_PROBLEMS = {
    "used": lambda: _("This link has been used already. If you have set your password, sign in; otherwise ask "
                      "your head or deputy head for a new invitation."),
    "expired": lambda: _("This link has expired. Ask your head or deputy head for a new invitation, or ask for "
                         "a new password reset link."),
    "unknown": lambda: _("This link is not valid: it may have been mistyped or cut. Copy the whole link from "
                         "the email."),
}


def _link_refused(error: LinkNotValid) -> Response:
    return error_page(404, _("The link does not work"), LINK_PROBLEMS.get(error.reason, LINK_PROBLEMS["unknown"])())


def _set_password_page(kind: str, token: str, template: str) -> Response:
    rt = runtime()
    try:
        person, _link = rt.platform.person_for_link(kind, token[:200], now())
    except LinkNotValid as error:
        return _link_refused(error)
    form = forms.NewPasswordForm(formdata=request.form if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            try:
                rt.platform.set_password_by_link(kind, token[:200], form.password.data, now(), request_id(),
                                                 address())
            except WeakPassword as error:
                form.password.errors = [weak_password_message(error.reason)]
            except LinkNotValid as error:
                return _link_refused(error)
            else:
                flash(_("Your password is set. Sign in with your email and the new password."), "success")
                return redirect(url_for("web.login", lang=g.lang))
    return page(template, status, form=form, login=person.login, full_name=person.full_name)


def weak_password_message(reason: str) -> str:
    """Say in the page's language why a password was refused."""
    from services.signin import MIN_PASSWORD_LENGTH

    return {
        "too_short": _("A password has at least %(count)s characters.", count=MIN_PASSWORD_LENGTH),
        "too_long": _("A password has at most 200 characters."),
        "is_login": _("The password must not be your email address."),
        "common": _("This password is among the first ones guessed (a common word, a name, a date or a keyboard "
                    "row). Choose a longer, less usual one: several unrelated words, for example."),
    }.get(reason, _("Choose another password."))


@blp.route(f"/{L}/invitations/<token>", methods=["GET", "POST"])
def invitation(lang: str, token: str) -> Response:
    """Set a password with an invitation link."""
    return _set_password_page("invitation", token, "invitation.html")


@blp.route(f"/{L}/password-reset/<token>", methods=["GET", "POST"])
def password_reset(lang: str, token: str) -> Response:
    """Set a new password with a reset link."""
    return _set_password_page("reset", token, "password_reset.html")


@blp.route(f"/{L}/password-reset", methods=["GET", "POST"])
def password_reset_request(lang: str) -> Response:
    """Ask for a reset link by email; the answer is the same whether or not the login exists."""
    form = forms.ResetRequestForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "POST":
        if not form.validate():
            return page("password_reset_request.html", 422, form=form)
        rt = runtime()
        per_login, per_address = _limiters()
        login_key, address_key = _limit_keys(form.login.data)
        if per_address.refused(address_key) is None:
            per_address.count(address_key)  # each request counts: the form must not mail a person endlessly
            issued = rt.platform.request_reset(form.login.data, now=now(), hours=rt.settings.password_reset_hours,
                                               request_id=request_id())
            if issued is not None and issued.person.login:
                language = issued.person.language or lang
                base = rt.settings.public_url or request.host_url.rstrip("/")
                notice = mails.compose(rt.settings, to=issued.person.login, language=language, kind="reset",
                                       url=f"{base}/{language}/password-reset/{issued.token}",
                                       expires_at=issued.expires_at, full_name=issued.person.full_name,
                                       tenant=rt.platform.get_tenant(issued.person.tenant_id).name)
                mails.send(rt.settings, notice)
        flash(_("If this email is a login of the platform, a link to set a new password has been sent to it. "
                "The link works once, for %(hours)s hours.", hours=rt.settings.password_reset_hours), "info")
        return redirect(url_for("web.password_reset_request", lang=lang))
    return page("password_reset_request.html", form=form)


# The person's own pages

@blp.route(f"/{L}/")
@signed_in
def dashboard(lang: str) -> Response:
    """The home page: who is signed in, and for the head and deputy head the organization's findings."""
    if g.operator:
        return page("operator.html")
    findings = None
    if {rules.HEAD, rules.DEPUTY_HEAD} & set(g.person.roles):
        from services.web.findings import findings_of

        findings = findings_of(g.person.tenant_id, runtime().today())
    return page("dashboard.html", findings=findings)


@blp.route(f"/{L}/profile", methods=["GET", "POST"])
@signed_in
def profile(lang: str) -> Response:
    """The person's language, email, password and sessions (the operator's sessions only)."""
    rt = runtime()
    if g.operator:
        return _operator_profile()
    person = g.person
    posted = request.form.get("section") if request.method == "POST" else None
    language_form = forms.LanguageForm(formdata=request.form if posted == "language" else None,
                                       language=person.language or lang)
    email_form = forms.EmailForm(formdata=request.form if posted == "email" else None, email=person.login or "")
    password_form = forms.PasswordChangeForm(formdata=request.form if posted == "password" else None)
    from services.web.notifications import mail_section  # reminders by email (ADR 023)

    mail_form, saved = mail_section(posted)
    if saved is not None:
        return saved
    if posted == "language" and language_form.validate():
        rt.platform.choose_language(person.id, language_form.language.data, now=now(), request_id=request_id())
        g.lang = language_form.language.data
        flash(_("The language is saved."), "success")
        return redirect(url_for("web.profile", lang=language_form.language.data))
    if posted == "email" and email_form.validate():
        try:
            rt.platform.change_login(_self_context(), person.tenant_id, person.id, email_form.email.data)
        except LoginTaken:
            email_form.email.errors = [_("Another person already signs in with this email address.")]
        except DomainError:
            email_form.email.errors = [_("Enter an email address, like name@school.kz.")]
        else:
            flash(_("Your email is saved; sign in with it from now on."), "success")
            return redirect(url_for("web.profile", lang=lang))
    if posted == "password" and password_form.validate():
        try:
            rt.platform.change_password(_self_context(), person.id, password_form.current_password.data,
                                        password_form.password.data, keep=g.session_id)
        except WrongCredentials:
            password_form.current_password.errors = [_("This is not your current password.")]
        except WeakPassword as error:
            password_form.password.errors = [weak_password_message(error.reason)]
        else:
            flash(_("Your password is changed; your other sessions are signed out."), "success")
            return redirect(url_for("web.profile", lang=lang))
    if posted == "sessions":
        rt.platform.sign_out(person.id, [], now=now(), address=address(), request_id=request_id(), everywhere=True)
        g.session_ended = True
        flash(_("You have signed out everywhere."), "success")
        return redirect(url_for("web.login", lang=lang))
    sessions = _live(person.sessions())
    status = 422 if posted in ("email", "password", "language", "mail") else 200
    return page("profile.html", status, language_form=language_form, email_form=email_form, mail_form=mail_form,
                password_form=password_form, sessions_form=forms.SessionsForm(), sessions=sessions)


def _operator_profile() -> Response:
    rt = runtime()
    if request.method == "POST" and request.form.get("section") == "sessions":
        rt.platform.sign_out_operator([], now=now(), address=address(), request_id=request_id(), everywhere=True)
        g.session_ended = True
        flash(_("You have signed out everywhere."), "success")
        return redirect(url_for("web.login", lang=g.lang))
    account = rt.platform.load(OperatorAccount.id_for(), OperatorAccount, "operator account", read_only=True)
    return page("profile.html", sessions=_live(account.sessions()), sessions_form=forms.SessionsForm())


def _live(sessions: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the sessions that have not ended, newest first."""
    return sorted(({"id": UUID(hex=k), **v} for k, v in sessions.items() if v["expires_at"] > now()),
                  key=lambda s: s["started_at"], reverse=True)


def _self_context() -> Any:
    from domain.base import Context
    from services.signin import as_self

    return Context(actor=as_self(g.person), request_id=request_id(), now=now(), ids=uuid4)
