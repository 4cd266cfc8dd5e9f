"""The API's human-readable documentation, and what a path the API does not serve answers."""

from __future__ import annotations

import re

from support import bearer


def test_swagger_ui_is_served_offline_over_the_live_document_without_inline_script(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html  # nothing from another host
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script is a file
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self' governs scripts
    assert "'self'" in page.headers["Content-Security-Policy"]
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.data) > 100, src
    initializer = client.get("/api/v1/docs/initializer.js").get_data(as_text=True)
    assert '"/api/v1/openapi.json"' in initializer
    assert client.get("/api/v1/docs/../../openapi.json").status_code in (200, 404)  # no escape from the folder
    assert client.get("/api/v1/docs/package.json").status_code == 404


def test_an_unknown_path_answers_404_with_or_without_a_token_and_a_wrong_method_405(client, settings):
    for headers in ({}, bearer("not-a-token"), bearer(settings.operator_token)):
        missing = client.get("/api/v1/no-such-thing", headers=headers)
        assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = client.put("/api/v1/tenants", json={})
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    # A served path still needs a credential.
    assert client.get("/api/v1/tenants").status_code == 401


def test_a_query_parameter_a_route_does_not_take_is_refused_naming_it(client, tour):
    school = tour.tenant("school")
    _, head = tour.head(school["id"])
    url = f"/api/v1/tenants/{school['id']}/people"
    refused = client.get(url, query_string={"q": "Ахметова", "limit": 5}, headers=head)
    assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["q"]
    assert "limit" in refused.get_json()["errors"]["q"][0]  # it says what the route takes
    assert client.get(url, query_string={"limit": 5}, headers=head).status_code == 200
    one = client.get(f"/api/v1/tenants/{school['id']}", query_string={"verbose": "1"}, headers=head)
    assert one.status_code == 422 and list(one.get_json()["errors"]) == ["verbose"]
