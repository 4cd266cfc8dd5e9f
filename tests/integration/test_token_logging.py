"""Credentials: no token, nor its secret half, ever reaches a log record; the access log omits Authorization."""

from __future__ import annotations

import json
import logging
import re
import secrets
from pathlib import Path

from support import bearer

ROOT = Path(__file__).resolve().parents[2]


def _everything_logged(records: list[logging.LogRecord]) -> str:
    """Every record as a handler could write it: message, arguments, exception and stack text, extras."""
    formatter = logging.Formatter()
    parts = []
    for record in records:
        parts.append(formatter.format(record))
        parts.append(repr(record.args))
        parts.append(repr({k: v for k, v in vars(record).items() if k not in ("args", "msg", "exc_info")}))
    return "\n".join(parts)


def test_no_token_or_secret_appears_in_any_log_record(client, tour, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger of the app and its libraries
    tenant = tour.tenant()
    head, head_headers = tour.head(tenant["id"])
    issued = client.post(f"/api/v1/tenants/{tenant['id']}/people/{head['id']}/tokens", headers=head_headers)
    assert issued.status_code == 201
    token = issued.get_json()["token"]
    person_hex, _, secret = token.partition(".")
    assert secret and len(person_hex) == 32

    used = client.get(f"/api/v1/tenants/{tenant['id']}/people", headers=bearer(token))
    assert used.status_code == 200
    wrong_secret = f"{person_hex}.{secrets.token_urlsafe(32)}"
    wrong_person = f"{secrets.token_hex(16)}.{secret}"
    for presented in (wrong_secret, wrong_person, "not-a-token", secret):
        assert client.get(f"/api/v1/tenants/{tenant['id']}/people", headers=bearer(presented)).status_code == 401
    # Commands refused for their input or the caller's role, with the good token.
    assert client.post(f"/api/v1/tenants/{tenant['id']}/people", json={"full_name": ""},
                       headers=bearer(token)).status_code == 422
    assert client.post("/api/v1/tenants", json={}, headers=bearer(token)).status_code in (403, 422)
    # Revoked, then presented again.
    token_id = issued.get_json()["token_id"]
    revoked = client.delete(f"/api/v1/tenants/{tenant['id']}/people/{head['id']}/tokens/{token_id}",
                            headers=head_headers)
    assert revoked.status_code == 200, revoked.get_json()
    assert client.get(f"/api/v1/tenants/{tenant['id']}/people", headers=bearer(token)).status_code == 401

    # The capture works for the app's loggers (a control record); the app itself logs nothing on these paths.
    logging.getLogger("services.api").debug("control record")
    assert any(r.getMessage() == "control record" for r in caplog.records)
    logged = _everything_logged(caplog.records)
    secrets_presented = {
        "token": token, "secret": secret, "wrong_secret": wrong_secret, "wrong_person": wrong_person,
        "head_token": head_headers["Authorization"].split(" ", 1)[1],
        "operator_token": settings.operator_token,
    }
    leaked = [name for name, value in secrets_presented.items() if value in logged]
    assert not leaked, leaked
    # Nor the secret halves on their own, or their stored SHA-256 form.
    from services.tenancy import hash_secret

    for value in (secret, wrong_secret.partition(".")[2], hash_secret(secret)):
        assert value not in logged
    print(json.dumps({"test": "token_logging", "log_records_besides_control": len(caplog.records) - 1,
                      "loggers": sorted({r.name for r in caplog.records}), "requests": 11,
                      "tokens_checked": len(secrets_presented), "found_in_logs": 0}))


def test_the_access_log_format_does_not_include_the_authorization_header() -> None:
    namespace: dict[str, object] = {}
    exec(compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    access_log_format = str(namespace["access_log_format"])
    # gunicorn names request headers %({name}i); an authorization header, or all headers, must not be logged.
    headers = [h.lower() for h in re.findall(r"%\(\{([^}]*)\}i\)", access_log_format)]
    assert "authorization" not in headers and "proxy-authorization" not in headers
    assert "authorization" not in access_log_format.lower()
    # %(r)s is the request line (method, path, query), never a header; tokens never travel in the query.
    print(json.dumps({"test": "access_log_format", "format": access_log_format, "request_headers_logged": headers}))


def test_the_access_log_writes_invitation_and_reset_links_without_their_secret() -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    namespace: dict[str, object] = {}
    exec(compile((ROOT / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["logger_class"] == "services.web.access_log.RedactingLogger"
    from services.web.access_log import RedactingLogger

    secret = f"{secrets.token_hex(16)}.{secrets.token_urlsafe(32)}"
    logger = RedactingLogger(Config())
    for path in (f"/kk/invitations/{secret}", f"/ru/password-reset/{secret}"):
        environ = {"REQUEST_METHOD": "POST", "RAW_URI": path, "PATH_INFO": path, "SERVER_PROTOCOL": "HTTP/1.1",
                   "QUERY_STRING": "", "HTTP_REFERER": f"http://127.0.0.1:8000{path}"}
        atoms = logger.atoms(SimpleNamespace(status="200 OK", sent=10, headers=[("X-Request-Id", "r1")]), SimpleNamespace(headers=[]),
                             environ, timedelta(milliseconds=3))
        line = str(namespace["access_log_format"]) % atoms
        assert secret not in line and secret.partition(".")[2] not in repr(atoms)
        assert path.rsplit("/", 1)[0] + "/[redacted]" in line


def _json_lines(records: list[logging.LogRecord]) -> str:
    """Every record as the platform's own handler writes it: one JSON line each (services/logs.py)."""
    from services import logs

    formatter = logs.formatter()
    bound = logs.BoundContext("test")
    lines = []
    for record in records:
        bound.filter(record)
        lines.append(formatter.format(record))
    return "\n".join(lines)


def test_no_password_or_document_body_appears_in_any_log_record_or_json_line(
        client, tour, settings, platform, web_engine, caplog) -> None:
    import dataclasses
    import re as re_
    from urllib.parse import urlsplit

    from services.api import create_app

    web = create_app({"TESTING": True, "PLATFORM": platform, "ENGINE": web_engine, "CREATE_SCHEMA": False,
                      "SETTINGS": dataclasses.replace(settings, web_cookie_secure=False)})

    def post_form(browser, path, **fields):  # noqa: ANN001, ANN202 - as a browser sends a form, with its CSRF token
        page = browser.get(path).get_data(as_text=True)
        csrf = re_.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf, page[:300]
        return browser.post(path, data={"csrf_token": csrf.group(1), **fields})

    caplog.set_level(logging.DEBUG)
    tenant = tour.tenant()
    head, head_headers = tour.head(tenant["id"])
    teacher, teacher_headers = tour.person(tenant["id"], head_headers, ["teacher"], ["Математика"])
    login = f"person-{secrets.token_hex(5)}@mektep.kz"
    invited = client.post(f"/api/v1/tenants/{tenant['id']}/people/{teacher['id']}/invitations",
                          json={"email": login}, headers=head_headers)
    assert invited.status_code == 201, invited.get_json()
    link_secret = urlsplit(invited.get_json()["url"]).path.rsplit("/", 1)[1]
    password = f"жасыл алма терезе {secrets.token_hex(6)}"
    wrong_password = f"қызыл алма есік {secrets.token_hex(6)}"
    browser = web.test_client()
    set_password = post_form(browser, f"/ru/invitations/{link_secret}", password=password, password_confirm=password)
    assert set_password.status_code == 302
    assert post_form(web.test_client(), "/ru/login", login=login, password=wrong_password).status_code == 422
    signed_in = post_form(browser, "/ru/login", login=login, password=password)
    assert signed_in.status_code == 302
    from services.web.pages import SESSION_COOKIE

    session_cookie = browser.get_cookie(SESSION_COOKIE).value
    assert session_cookie
    # Document bodies, a revision's and a refused one's.
    body = f"Мазмұны: сызықтық теңдеулер, құпия мәтін {secrets.token_hex(8)}"
    revision = f"Екінші нұсқа, құпия мәтін {secrets.token_hex(8)}"
    drafted = client.post(f"/api/v1/tenants/{tenant['id']}/documents", headers=teacher_headers,
                          json={"kind": "working_program", "title": "Алгебра 7", "body": body})
    assert drafted.status_code == 201, drafted.get_json()
    revised = client.post(f"/api/v1/tenants/{tenant['id']}/documents/{drafted.get_json()['id']}/revisions",
                          headers=teacher_headers, json={"body": revision})
    assert revised.status_code in (200, 201), revised.get_json()
    refused_body = f"Директор жазбайды {secrets.token_hex(8)}"
    refused = client.post(f"/api/v1/tenants/{tenant['id']}/documents", headers=head_headers,
                          json={"kind": "working_program", "title": "x", "body": refused_body})
    assert refused.status_code == 403

    # The requests were logged, one JSON line each (the capture works), and nothing secret is in them.
    request_lines = [r for r in caplog.records if r.name == "methodical.request"]
    assert len(request_lines) >= 8
    assert any(getattr(r, "route", "").endswith("/login") and r.status == 422 for r in request_lines)
    everything = _everything_logged(caplog.records) + "\n" + _json_lines(caplog.records)
    secret_values = {"password": password, "wrong_password": wrong_password, "invitation_link": link_secret,
                     "document_body": body, "revision_body": revision, "refused_body": refused_body,
                     "operator_token": settings.operator_token, "session_cookie": session_cookie}
    leaked = [name for name, value in secret_values.items() if value in everything]
    assert not leaked, leaked
    # The parts of a body, and a password's words on their own, are not there either.
    assert body.rsplit(" ", 1)[1] not in everything and password.rsplit(" ", 1)[1] not in everything
    print(json.dumps({"test": "password_and_body_logging", "records": len(caplog.records),
                      "request_lines": len(request_lines), "values_checked": len(secret_values), "found_in_logs": 0}))
