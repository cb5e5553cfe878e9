"""Liveness and readiness probes, and the JSON error shape under /api/."""

from __future__ import annotations

from onboarding import create_app

from .conftest import base_config


def test_healthz_is_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_with_the_database_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readyz_with_redis_down_is_not_ready(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", JOBS_EAGER=False)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"] == {"database": "ok", "redis": "unreachable"}


def test_readyz_with_redis_up_is_ready(make_app, redis_server):
    app = make_app(REDIS_URL=redis_server.url, JOBS_EAGER=False)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_with_the_database_unreachable_is_not_ready(tmp_path):
    missing = tmp_path / "no-such-directory" / "x.db"
    app = create_app(base_config(f"sqlite:///{missing}"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "not ready", "checks": {"database": "unreachable"}}
    assert app.test_client().get("/healthz").status_code == 200, "alive even when not ready"


def test_unknown_api_path_gets_a_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.is_json
    body = response.get_json()
    assert body == {"error": {"code": "not_found", "message": "Page not found", "fields": {}}}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_errors_are_json_under_api_and_html_elsewhere(client):
    response = client.post("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.is_json
    page = client.get("/no-such-page")
    assert page.status_code == 404 and not page.is_json
    assert "Page not found" in page.get_data(as_text=True)
