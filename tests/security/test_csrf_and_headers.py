"""CSRF on every session write (API and panel forms), bearer requests exempt, security headers."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import (
    ADMIN,
    create,
    error_code,
    login,
)


# -- CSRF -------------------------------------------------------------------------------------------------
def test_session_writes_need_the_csrf_token(api_app: Flask, client: FlaskClient) -> None:
    csrf = login(client)
    missing = client.post("/stask/worker/echo/run/say", json={})
    assert error_code(missing, 403) == "csrf_failed"
    wrong = client.post("/stask/worker/echo/run/say", json={}, headers={"X-CSRF-Token": "x" * 43})
    assert error_code(wrong, 403) == "csrf_failed"
    assert client.post("/stask/worker/echo/run/say", json={}, headers={"X-CSRF-Token": csrf}).status_code == 201
    task_id = create(api_app)
    as_form = client.post(f"/stask/api/tasks/{task_id}/cancel", data={"csrf_token": csrf})
    assert as_form.status_code == 200
    form_run = client.post("/stask/worker/echo/run/noop", data={"csrf_token": csrf})
    assert form_run.status_code == 201
    assert error_code(client.delete(f"/stask/api/tasks/{task_id}"), 403) == "csrf_failed"
    assert client.delete(f"/stask/api/tasks/{task_id}", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_panel_forms_need_the_csrf_token_too(api_app: Flask, client: FlaskClient) -> None:
    csrf = login(client)
    response = client.post("/stask/workers/discover", headers={"Accept": "text/html"})
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert client.post("/stask/workers/discover", data={"csrf_token": csrf}).status_code in (200, 302, 303)


def test_bearer_requests_are_exempt_from_csrf(client: FlaskClient) -> None:
    assert client.post("/stask/worker/echo/run/say", json={}, headers=ADMIN).status_code == 201


# -- security headers -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/stask/api/tasks", ADMIN),
        ("/stask/api/tasks", {}),
        ("/stask/login", {}),
        ("/stask/api/missing", ADMIN),
        ("/stask/static/stask.css", {}),
        ("/stask/", ADMIN),
    ],
)
def test_security_headers_on_every_stask_response(client: FlaskClient, path: str, headers: dict[str, str]) -> None:
    response = client.get(path, headers=headers)
    csp = response.headers["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_api_answers_are_not_cached(client: FlaskClient) -> None:
    assert client.get("/stask/api/tasks", headers=ADMIN).headers["Cache-Control"] == "no-store"
