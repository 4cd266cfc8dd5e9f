"""The web pages: people sign in and work in a browser, in Russian, Kazakh or English (ADR 021).

The pages live in the API's Flask application and call the same application services and read models. Their
session, CSRF protection and security headers apply to the web's own paths only; the API's bearer tokens apply
to /api/ only.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from domain.base import TIME_ZONE
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
    from services.web import audit, documents, notifications, organization, pages, unions

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
        # One folder per domain, as Flask-Babel pairs them: every module's catalogue is read with the foundation's.
        BABEL_DOMAIN=";".join(i18n.domains()),
        BABEL_TRANSLATION_DIRECTORIES=";".join([i18n.compiled_catalogues()] * len(i18n.domains())),
    )
    app.session_interface = FormCookies()
    csrf.init_app(app)
    Babel(app, locale_selector=i18n.select_locale, timezone_selector=lambda: TIME_ZONE)
    app.register_blueprint(pages.blp)
    app.jinja_env.filters["clause"] = i18n.clause  # "p.33.4" as the page's language writes it
    app.register_blueprint(organization.blp)
    documents.register(app)  # documents, circulars and the operator's pages
    app.register_blueprint(unions.blp)
    app.register_blueprint(audit.blp)
    app.register_blueprint(notifications.blp)
    # An address that no route serves has no blueprint to answer it: outside /api/ it is the web's page.
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)


def _unrouted(error: HTTPException) -> Response:
    """Answer a request no route serves: a problem document under /api/, a page in the browser's language else."""
    from services.api.errors import http_problem
    from services.web import pages

    if request.path.startswith(API_PREFIX):
        return http_problem(error)
    g.lang = i18n.best_language()
    response = pages.not_found() if error.code == 404 else pages.not_allowed()
    return pages.protect(response)
