"""Operations: metrics by route template, scrape-time gauges, liveness and readiness, and a request id that leads
from an event (and the job it caused) to the request's log line."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from unions_support import UnionScenario, delivery, ok, smtp  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
TENANTS = "/api/v1/tenants"


def scrape(settings: Any) -> dict[str, Any]:
    """Return what /metrics serves, by sample name: [(labels, value)]."""
    from werkzeug.test import Client

    from services import metrics

    answer = Client(metrics.wsgi_app(metrics.platform_collector(settings))).get("/metrics")
    assert answer.status_code == 200
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def test_requests_are_counted_by_route_template_and_status_never_by_raw_path(client, tour, settings) -> None:
    tenant = tour.tenant()
    _, head = tour.head(tenant["id"])
    assert client.get(f"{TENANTS}/{tenant['id']}/people", headers=head).status_code == 200
    assert client.get(f"{TENANTS}/{tenant['id']}/no-such-thing", headers=head).status_code == 404
    assert client.post(f"{TENANTS}/{tenant['id']}/people", headers=head, json={"full_name": ""}).status_code == 422
    samples = scrape(settings)
    counts = {(s["route"], s["method"], s["status"]): v for s, v in samples["methodical_http_request_duration_seconds_count"]}
    assert counts[("/api/v1/tenants/<uuid:tid>/people", "GET", "200")] >= 1
    assert counts[("/api/v1/tenants/<uuid:tid>/people", "POST", "422")] >= 1
    assert counts[("unmatched", "GET", "404")] >= 1
    assert not any(tenant["id"] in route for route, _, _ in counts)
    buckets = [s for s, _ in samples["methodical_http_request_duration_seconds_bucket"]
               if s["route"] == "/api/v1/tenants/<uuid:tid>/people"]
    assert {s["le"] for s in buckets} >= {"0.005", "0.1", "1.0", "+Inf"}
    refusals = {(s["status"], s["clause"]): v for s, v in samples["methodical_refusals_total"]}
    assert refusals[("422", "")] >= 1
    kinds = {s["kind"]: v for s, v in samples["methodical_events_appended_total"]}
    assert kinds["Tenant.Registered"] >= 1 and kinds["Person.Joined"] >= 1, sorted(kinds)


def test_the_scrape_reads_projection_lag_outbox_queue_and_chain_from_the_servers(client, tour, settings,
                                                                                 platform) -> None:
    from projections.base import wait_for_position
    from projections.registry import READ_MODELS

    tenant = tour.tenant()
    position = int(tenant["position"])
    for read_model in READ_MODELS.values():  # the session's projector follows the log
        wait_for_position(client.application.extensions["methodical"].engine, read_model, position, 10)
    samples = scrape(settings)
    lag = {s["read_model"]: v for s, v in samples["methodical_projection_lag_events"]}
    assert set(lag) >= set(READ_MODELS)
    seconds = {s["read_model"]: v for s, v in samples["methodical_projection_lag_seconds"]}
    assert all(v >= 0 for v in seconds.values())
    [(_, head)] = samples["methodical_log_head_position"]
    assert head >= position
    assert samples["methodical_outbox_circulars"][0][1] >= 0
    assert samples["methodical_outbox_oldest_seconds"][0][1] >= 0
    states = {s["state"] for s, _ in samples["methodical_queue_jobs"]}
    assert states == {"queued", "failed", "started", "scheduled"}
    assert "methodical_queue_workers" in samples
    assert samples["methodical_chain_head_position"][0][1] >= 0
    up = {s["dependency"]: v for s, v in samples["methodical_dependency_up"]}
    assert up == {"postgres": 1.0, "redis": 1.0}


def test_lag_counts_the_events_not_yet_applied_and_their_age(engine, platform) -> None:
    from sqlalchemy import update

    from projections.base import tracking
    from services import metrics

    [before] = [lag for lag in metrics.projection_lag(engine) if lag["read_model"] == "tenants"]
    head = before["head"]
    # A tracking record set back by 3 positions: as if the projector had not applied the last three events.
    with engine.begin() as conn:
        conn.execute(update(tracking).where(tracking.c.read_model == "__lag_probe__").values(notification_id=0))
        conn.execute(tracking.insert().values(read_model="__lag_probe__", application_name="methodical",
                                              notification_id=max(0, head - 3)))
    try:
        [probe] = [lag for lag in metrics.projection_lag(engine) if lag["read_model"] == "__lag_probe__"]
        assert probe["events_behind"] == min(3, head)
        assert 0 < probe["seconds_behind"] < 3600
    finally:
        with engine.begin() as conn:
            conn.execute(tracking.delete().where(tracking.c.read_model == "__lag_probe__"))


def test_a_verification_of_the_chain_is_a_metric(client, settings) -> None:
    verified = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {settings.operator_token}"})
    assert verified.status_code == 200
    report = verified.get_json()
    samples = scrape(settings)
    assert samples["methodical_chain_valid"][0][1] == (1.0 if report["ok"] else 0.0)
    assert samples["methodical_chain_verified_position"][0][1] == report.get("last_position", 0)
    assert samples["methodical_chain_verified_timestamp_seconds"][0][1] > 0


def test_sign_ins_are_counted_by_outcome(client, settings, platform, web_engine) -> None:
    from services.api import create_app

    web = create_app({"TESTING": True, "PLATFORM": platform, "ENGINE": web_engine, "CREATE_SCHEMA": False,
                      "SETTINGS": dataclasses.replace(settings, web_cookie_secure=False)})
    before = {s["outcome"]: v for s, v in scrape(settings).get("methodical_signins_total", [])}
    browser = web.test_client()
    page = browser.get("/ru/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = browser.post("/ru/login", data={"csrf_token": csrf, "login": "nobody@mektep.kz",
                                             "password": "not the password at all"})
    assert answer.status_code == 422
    after = {s["outcome"]: v for s, v in scrape(settings)["methodical_signins_total"]}
    assert after["refused"] == before.get("refused", 0) + 1


def test_liveness_asks_nothing_and_readiness_names_the_servers_and_each_read_models_lag(client) -> None:
    live = client.get("/api/v1/health/live")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 200, ready.get_json()
    body = ready.get_json()
    assert body["postgres"] == "ok" and body["redis"] == "ok"
    assert {p["read_model"] for p in body["projections"]} >= {"tenants", "people", "circulars"}
    assert client.get("/api/v1/health").status_code == 200  # as before


def test_readiness_holds_while_redis_does_not_answer_and_says_so(settings, platform, web_engine) -> None:
    # No request waits on Redis: a web host stays in the balancer's rotation through a Redis outage.
    from services.api import create_app

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on this port now
    web = create_app({"TESTING": True, "PLATFORM": platform, "ENGINE": web_engine, "CREATE_SCHEMA": False,
                      "SETTINGS": dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{port}/0")})
    ready = web.test_client().get("/api/v1/health/ready")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["redis"] == "unavailable" and ready.get_json()["postgres"] == "ok"
    health = web.test_client().get("/api/v1/health")  # the servers' health still says Redis is down
    assert health.status_code == 503 and "Redis" in health.get_json()["detail"]


def test_readiness_is_refused_while_a_read_model_lags_past_the_limit(settings, platform, web_engine, engine,
                                                                    tour) -> None:
    from projections.base import tracking
    from services.api import create_app

    tour.tenant()  # the log has an event the stalled read model has not applied, whichever tests ran before

    web = create_app({"TESTING": True, "PLATFORM": platform, "ENGINE": web_engine, "CREATE_SCHEMA": False,
                      "SETTINGS": dataclasses.replace(settings, ready_max_lag=0.001)})
    with engine.begin() as conn:
        conn.execute(tracking.insert().values(read_model="__stalled__", application_name="methodical",
                                              notification_id=0))
    try:
        answer = web.test_client().get("/api/v1/health/ready")
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert "__stalled__" in answer.get_json()["detail"]
    finally:
        with engine.begin() as conn:
            conn.execute(tracking.delete().where(tracking.c.read_model == "__stalled__"))
    assert web.test_client().get("/api/v1/health/live").status_code == 200


def test_a_sane_request_id_is_kept_and_reaches_the_events_metadata_and_the_log_line(client, tour, platform,
                                                                                    caplog) -> None:
    from uuid import UUID

    caplog.set_level(logging.INFO, logger="methodical.request")
    tenant = tour.tenant()
    _, head = tour.head(tenant["id"])
    added = client.post(f"{TENANTS}/{tenant['id']}/people", headers={**head, "X-Request-Id": "lb-7f3a.42"},
                        json={"full_name": "Ұлан Серік", "roles": ["teacher"], "subjects": ["Физика"]})
    assert added.status_code == 201 and added.headers["X-Request-Id"] == "lb-7f3a.42"
    [event] = list(platform.events.get(UUID(added.get_json()["id"])))
    assert event.meta["request_id"] == "lb-7f3a.42"
    [line] = [r for r in caplog.records if getattr(r, "request_id", None) == "lb-7f3a.42"]
    assert line.route == "/api/v1/tenants/<uuid:tid>/people" and line.status == 201 and line.method == "POST"
    # What a client sends that is not a sane id (too long, or with spaces or newlines) is replaced.
    for bad in ("x" * 200, "two words", "a\\nb"):
        answer = client.get(f"{TENANTS}/{tenant['id']}/people", headers={**head, "X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-Id"])


def test_the_job_a_request_caused_logs_and_records_that_requests_id(client, tour, platform, delivery,
                                                                     caplog) -> None:
    from uuid import UUID

    from services import logs

    scenario = UnionScenario(client, tour)
    caplog.set_level(logging.INFO)
    adopted = client.post(f"/api/v1/unions/{scenario.id}/decisions", headers={**scenario.chair,
                                                                              "X-Request-Id": "adopt-1234"}, json={
        "title": "Цифрлық тренажерлер", "text": "Енгізу ұсынылады.", "direction": "p.33.4",
        "specialties": ["0911000"]})
    assert adopted.status_code == 201, adopted.get_json()
    delivery.run(adopted.get_json()["position"])
    job_lines = [r for r in caplog.records if r.name == "methodical.job"]
    assert len(job_lines) == adopted.get_json()["circulars_expected"] == 2
    assert all(r.request_id == "adopt-1234" and r.outcome == "finished" and r.job_id.startswith("circular-")
               for r in job_lines)
    for circular in adopted.get_json()["circulars"]:
        events = list(platform.events.get(UUID(circular["id"])))
        assert [type(e).__name__ for e in events] == ["Issued", "Delivered"]
        assert {e.meta["request_id"] for e in events} == {"adopt-1234"}
    # The job's line is JSON with both ids.
    line = json.loads(logs.formatter().format(job_lines[0]))
    assert line["request_id"] == "adopt-1234" and line["job_id"].startswith("circular-") and line["event"] == "job"


# deploy/: the alert rules and the dashboard name only metrics that /metrics serves

def _metric_names(expression: str) -> set[str]:
    return set(re.findall(r"\b(methodical_[a-z_]+)", expression))


def _served(settings: Any) -> set[str]:
    return set(scrape(settings))


def test_the_alert_rules_parse_and_name_served_metrics(client, settings) -> None:
    client.get("/api/v1/health/live")  # at least one request counted
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {"ProjectionLagging", "OutboxStuck", "DeliveryJobsFailed", "AuditChainBroken"} <= set(alerts)
    served = _served(settings)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("page", "ticket"), name
        assert rule["annotations"]["summary"], name
        names = _metric_names(rule["expr"])
        assert names and names <= served, (name, names - served)
    assert "> 60" in alerts["ProjectionLagging"]["expr"] and "> 600" in alerts["OutboxStuck"]["expr"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yaml").read_text())
    assert "alerts.yaml" in config["rule_files"][0]
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"


def test_the_dashboard_parses_and_each_panel_names_served_metrics(client, settings) -> None:
    client.get("/api/v1/health/live")
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboard.json").read_text())
    served = _served(settings)
    panels = dashboard["panels"]
    assert len(panels) >= 8
    for panel in panels:
        names = set().union(*(_metric_names(t["expr"]) for t in panel["targets"]))
        assert names and names <= served, (panel["title"], names - served)


def test_compose_runs_every_process_with_a_health_check(settings) -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"db", "redis", "web", "projector", "dispatcher", "worker", "scheduler", "prometheus"} <= set(services)
    for name in ("db", "redis", "web", "projector", "dispatcher", "worker", "prometheus"):
        assert "healthcheck" in services[name], name
    assert "/api/v1/health/live" in " ".join(services["web"]["healthcheck"]["test"])
    units = {p.name for p in (ROOT / "deploy" / "systemd").iterdir()}
    assert {"methodical-web.service", "methodical-projector.service", "methodical-dispatcher.service",
            "methodical-worker@.service"} <= units
