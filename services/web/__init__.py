"""The web pages: people sign in and work in a browser, in Russian, Kazakh or English (ADR 019).

The pages live in the API's Flask application and call the same application services and read models. Their
session, CSRF protection and security headers apply to the web's own paths only; the API's bearer tokens apply
to /api/ only.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from services.config import Settings
from services.web import i18n

API_PREFIX = "/api/"
csrf = CSRFProtect()


class FormCookies(SecureCookieSessionInterface):
    """Flask's signed cookie, for the web's CSRF token and one-time messages only; never opened for the API."""

    def open_session(self, app: Flask, request: Request) -> Any:
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)


def install(app: Flask, settings: Settings) -> None:
    """Add the web pages to the application."""
    from services.web import audit, pages, unions

    app.config.update(
        SECRET_KEY=settings.web_secret_key(),
        SESSION_COOKIE_NAME="methodical_form",
        SESSION_COOKIE_SECURE=settings.web_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Forms are checked in the web's own hook (pages.py), so /api/ is never asked for a CSRF token.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the form cookie's browser session
        BABEL_DEFAULT_LOCALE=i18n.DEFAULT,
        # Each journey's messages are a gettext domain of its own (messages.po, web_unions.po, ...): all are loaded.
        BABEL_DOMAIN=";".join(i18n.DOMAINS),
        BABEL_TRANSLATION_DIRECTORIES=";".join([i18n.compiled_catalogues()] * len(i18n.DOMAINS)),
    )
    app.session_interface = FormCookies()
    csrf.init_app(app)
    Babel(app, locale_selector=i18n.select_locale, timezone_selector=lambda: "Asia/Almaty")
    app.register_blueprint(pages.blp)
    for journey in (unions.blp, audit.blp): app.register_blueprint(journey)  # noqa: E701 - the unions' and audit pages
