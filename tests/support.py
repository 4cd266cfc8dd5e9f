"""Helpers the tests share: valid BINs, and a client that registers tenants and people through the API."""

from __future__ import annotations

import itertools
import json
import random
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from domain.base import day_of
from domain.tenants import bin_check_digit

_counter = itertools.count(1)


@contextmanager
def fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """Create a database of its own on the server named by `server_url`; yield its URL; drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    params = conninfo_to_dict(server_url)
    admin = make_conninfo(**{**params, "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(**{**params, "dbname": name})
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def platform_today() -> date:
    """Return the platform's day now (Kazakhstan's: domain.base.day_of), the day the rules call today; UTC's day
    is the day before for five hours of each night."""
    return day_of(datetime.now(timezone.utc))


def valid_bin(rng: random.Random | None = None) -> str:
    """Return a fresh 12-digit BIN with a valid check digit."""
    rng = rng or random.Random()
    while True:
        first = f"{rng.randrange(0, 100):02d}{rng.randrange(1, 13):02d}4{rng.randrange(0, 10**6):06d}"
        digit = bin_check_digit(first)
        if digit is not None:
            return first + str(digit)


def invalid_bin(rng: random.Random | None = None) -> str:
    """Return a 12-digit BIN whose check digit is wrong."""
    good = valid_bin(rng)
    return good[:11] + str((int(good[11]) + 1) % 10)


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


class Tour:
    """Drives the API as the operator and as people, the way a client would."""

    def __init__(self, client: Any, operator_token: str):
        self.client = client
        self.operator = bearer(operator_token)

    def tenant(self, kind: str = "school", **fields: Any) -> dict[str, Any]:
        """Register a tenant and return the response body."""
        body = {"name": f"{kind} {next(_counter)}", "kind": kind, "bin": valid_bin(), "region": "Almaty", **fields}
        response = self.client.post("/api/v1/tenants", json=body, headers=self.operator)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def head(self, tenant_id: str, full_name: str = "Head") -> tuple[dict[str, Any], dict[str, str]]:
        """Add a head through the operator, issue their token; return the person and their headers."""
        response = self.client.post(
            f"/api/v1/tenants/{tenant_id}/people", json={"full_name": full_name, "roles": ["head"]}, headers=self.operator
        )
        assert response.status_code == 201, response.get_json()
        person = response.get_json()
        return person, self.token(tenant_id, person["id"], self.operator)

    def person(self, tenant_id: str, by: dict[str, str], roles: list[str], subjects: list[str] | None = None,
               full_name: str = "Person") -> tuple[dict[str, Any], dict[str, str]]:
        """Add a person (by a head's headers), issue their token; return the person and their headers."""
        response = self.client.post(
            f"/api/v1/tenants/{tenant_id}/people",
            json={"full_name": full_name, "roles": roles, "subjects": subjects or []},
            headers=by,
        )
        assert response.status_code == 201, response.get_json()
        person = response.get_json()
        return person, self.token(tenant_id, person["id"], by)

    def token(self, tenant_id: str, person_id: str, by: dict[str, str]) -> dict[str, str]:
        """Issue a token for the person and return the headers that present it."""
        response = self.client.post(f"/api/v1/tenants/{tenant_id}/people/{person_id}/tokens", headers=by)
        assert response.status_code == 201, response.get_json()
        return bearer(response.get_json()["token"])


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Http:
    """A client of the running service that knows only the HTTP contract."""

    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, token: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """Send a request; return the status and the decoded JSON body."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, method: str, path: str, token: str | None = None, body: Any = None, status: int = 200) -> Any:
        """Send a request that must answer `status`; return its body."""
        got, answer = self.call(method, path, token, body)
        assert got == status, answer
        return answer


def snapshot(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Return every read model's rows, table by table, in a stable order (to compare two builds of them)."""
    from sqlalchemy import select

    from projections.registry import READ_MODELS

    found = {}
    with engine.connect() as conn:
        for read_model in READ_MODELS.values():
            for table in read_model.tables:
                found[table.name] = sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
    return found
