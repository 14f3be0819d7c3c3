"""Nobody anonymous, read-only means read-only, the STASK_AUTHORIZE hook, the login page and its session."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from stask.enums import Status
from stask.web import auth
from tests.support.api import (
    ADMIN,
    ADMIN_PASSWORD,
    ADMIN_TOKEN,
    READONLY,
    READONLY_PASSWORD,
    SECOND_ADMIN_TOKEN,
    create,
    error_code,
    host_rule,
    login,
    set_row,
)

#: Every JSON endpoint that changes something (method, path with {id} for a task id).
WRITES = [
    ("post", "/stask/worker/echo/run/say"),
    ("post", "/stask/task/{id}/upload"),
    ("post", "/stask/worker/importer/upload"),
    ("post", "/stask/api/tasks"),
    ("post", "/stask/api/tasks/{id}/retry"),
    ("post", "/stask/api/tasks/{id}/cancel"),
    ("delete", "/stask/api/tasks/{id}"),
    ("post", "/stask/api/tasks/retry-failed"),
    ("post", "/stask/api/tasks/bulk"),
    ("post", "/stask/api/workers/echo/activate"),
    ("post", "/stask/api/workers/echo/deactivate"),
    ("put", "/stask/api/workers/echo/settings"),
    ("post", "/stask/api/workers/discover"),
]
READS = [
    "/stask/task/{id}/progress",
    "/stask/task/{id}/download",
    "/stask/stats",
    "/stask/api/tasks",
    "/stask/api/tasks/{id}",
    "/stask/api/workers",
    "/stask/api/workers/echo",
    "/stask/api/workers/echo/settings",
    "/stask/api/openapi.json",
]


# -- no anonymous access ----------------------------------------------------------------------------
def test_every_endpoint_refuses_anonymous_requests(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app)
    for method, path in [("get", p) for p in READS] + WRITES:
        response = getattr(client, method)(path.format(id=task_id))
        assert error_code(response, 401) == "unauthorized", (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with api_app.app_context():
        assert api_app.extensions["stask"].get_task(task_id).status == Status.QUEUED  # nothing happened


def test_every_panel_and_monitoring_view_is_protected(api_app: Flask, client: FlaskClient) -> None:
    """Walk the URL map: every stask view but login, logout, health and static files refuses anonymous users."""
    public = {"stask_auth.login", "stask_auth.logout", "stask_panel.static"}
    checked = 0
    for rule in api_app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint not in auth.STASK_BLUEPRINTS or rule.endpoint in public or rule.rule == "/stask/health":
            continue
        values = {name: ("1" if name == "id" or name.endswith("_id") else "echo") for name in rule.arguments}
        if "op" in rule.arguments:
            values["op"] = "retry"
        if "action" in rule.arguments:
            values["action"] = "say"
        path = rule.rule
        for name, value in values.items():
            path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", value, path)
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        response = client.open(path, method=method, headers={"Accept": "application/json"})
        assert response.status_code == 401, (rule.rule, method, response.status_code)
        checked += 1
    assert checked >= 20


def test_a_browser_is_sent_to_the_login_page(client: FlaskClient) -> None:
    response = client.get("/stask/tasks?status=failed", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/stask/login?next=/stask/tasks%3Fstatus%3Dfailed"


def test_htmx_requests_get_a_full_page_redirect(client: FlaskClient) -> None:
    response = client.get("/stask/fragments/overview", headers={"HX-Request": "true", "Accept": "text/html"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/stask/login"


def test_health_and_login_stay_public(client: FlaskClient) -> None:
    assert client.get("/stask/login").status_code == 200
    assert client.get("/stask/health").status_code in (200, 503)
    assert client.get("/stask/static/stask.css").status_code == 200


def test_invalid_and_non_bearer_credentials(client: FlaskClient) -> None:
    bad = client.get("/stask/api/tasks", headers={"Authorization": "Bearer wrong"})
    assert error_code(bad, 401) == "invalid_token"
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert error_code(client.get("/stask/api/tasks", headers={"Authorization": "Bearer "}), 401) == "invalid_token"
    basic = client.get("/stask/api/tasks", headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
    assert error_code(basic, 401) == "unauthorized"
    prefix = client.get("/stask/api/tasks", headers={"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"})
    assert error_code(prefix, 401) == "invalid_token"


def test_several_admin_tokens(client: FlaskClient) -> None:
    for token in (ADMIN_TOKEN, SECOND_ADMIN_TOKEN):
        response = client.post("/stask/worker/echo/run/noop", headers={"Authorization": f"bearer {token}"})
        assert response.status_code == 201


def test_nothing_configured_refuses_everyone_and_says_why(make_api_app: Any, monkeypatch: Any) -> None:
    for name in ("STASK_API_TOKEN", "STASK_READONLY_TOKEN", "STASK_ADMIN_PASSWORD", "STASK_READONLY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    app = make_api_app(STASK_API_TOKEN="", STASK_READONLY_TOKEN="", STASK_ADMIN_PASSWORD="", STASK_READONLY_PASSWORD="")
    client = app.test_client()
    response = client.get("/stask/api/tasks")
    assert error_code(response, 401) == "unauthorized"
    assert "no credentials are configured" in response.get_json()["error"]["message"]
    page = client.get("/stask/login").get_data(as_text=True)
    assert "No sign-in is configured" in page and 'type="password"' not in page
    assert client.get("/stask/", headers={"Accept": "text/html"}).status_code == 302


# -- the read-only role ----------------------------------------------------------------------------------
def test_readonly_token_reads_but_cannot_write(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app)
    set_row(api_app, task_id, status=int(Status.FAILED))
    for path in READS:
        response = client.get(path.format(id=task_id), headers=READONLY)
        assert response.status_code in (200, 404), path  # 404: the task has no result file
        if response.status_code == 404:
            assert response.get_json()["error"]["code"] == "no_result"
    for method, path in WRITES:
        response = getattr(client, method)(path.format(id=task_id), headers=READONLY, json={})
        assert error_code(response, 403) == "forbidden", (method, path)
    with api_app.app_context():
        assert api_app.extensions["stask"].get_task(task_id).status == Status.FAILED


def test_readonly_password_signs_in_a_readonly_session(client: FlaskClient) -> None:
    csrf = login(client, READONLY_PASSWORD)
    assert client.get("/stask/api/tasks").status_code == 200
    response = client.post("/stask/worker/echo/run/say", headers={"X-CSRF-Token": csrf})
    assert error_code(response, 403) == "forbidden"


# -- STASK_AUTHORIZE -----------------------------------------------------------------------------------
def test_authorize_hook_decides_and_replaces_the_login(make_api_app: Any) -> None:
    app = make_api_app(STASK_AUTHORIZE=host_rule)
    client = app.test_client()
    assert error_code(client.get("/stask/api/tasks"), 401) == "unauthorized"
    assert client.get("/stask/api/tasks", headers={"X-User": "viewer"}).status_code == 200
    # A host's users are cookie-authenticated: their writes need the CSRF token too.
    no_csrf = client.post("/stask/api/workers/discover", headers={"X-User": "boss"})
    assert error_code(no_csrf, 403) == "csrf_failed"
    client.get("/stask/login", headers={"X-User": "root"})
    with client.session_transaction() as session:
        token = session["stask_csrf"]
    viewer_write = client.post("/stask/api/workers/discover", headers={"X-User": "viewer", "X-CSRF-Token": token})
    assert error_code(viewer_write, 403) == "forbidden"
    allowed = client.post("/stask/api/workers/discover", headers={"X-User": "root", "X-CSRF-Token": token})
    assert allowed.status_code == 200
    # The built-in password form is off, and browsers without a host login URL get a 403 page.
    assert client.post("/stask/login", data={"password": ADMIN_PASSWORD}).status_code == 400
    assert client.get("/stask/", headers={"Accept": "text/html"}).status_code == 403
    # API tokens keep working beside the hook.
    assert client.get("/stask/api/tasks", headers=ADMIN).status_code == 200


def test_authorize_hook_by_import_path_and_host_login_url(make_api_app: Any) -> None:
    app = make_api_app(STASK_AUTHORIZE="tests.support.api:host_rule", STASK_LOGIN_URL="/accounts/login")
    client = app.test_client()
    assert client.get("/stask/api/tasks", headers={"X-User": "viewer"}).status_code == 200
    page = client.get("/stask/tasks", headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"] == "/accounts/login?next=/stask/tasks"


# -- the login page ---------------------------------------------------------------------------------------
def test_login_logout_and_session_cookie_flags(client: FlaskClient) -> None:
    client.get("/stask/login")
    with client.session_transaction() as session:
        csrf = session["stask_csrf"]
    wrong = client.post("/stask/login", data={"password": "guess", "csrf_token": csrf})
    assert wrong.status_code == 401 and "Wrong password." in wrong.get_data(as_text=True)
    response = client.post(
        "/stask/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf, "next": "/stask/tasks"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/stask/tasks"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    with client.session_transaction() as session:
        assert session["stask_csrf"] != csrf  # a fresh session after signing in
        new_csrf = session["stask_csrf"]
    assert client.get("/stask/api/tasks").status_code == 200
    confirm = client.get("/stask/logout")
    assert confirm.status_code == 200 and 'method="post"' in confirm.get_data(as_text=True)
    assert client.get("/stask/api/tasks").status_code == 200  # a cross-site GET does not sign out
    assert client.post("/stask/logout").status_code == 403
    assert client.post("/stask/logout", data={"csrf_token": new_csrf}).status_code == 303
    assert client.get("/stask/api/tasks").status_code == 401


def test_logout_link_from_a_stask_page(client: FlaskClient) -> None:
    login(client)
    response = client.get("/stask/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303
    assert client.get("/stask/api/tasks").status_code == 401


def test_secure_cookies_when_asked(make_api_app: Any) -> None:
    client = make_api_app(STASK_SECURE_COOKIES="true").test_client()
    client.get("/stask/login")
    with client.session_transaction() as session:
        csrf = session["stask_csrf"]
    response = client.post("/stask/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf})
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_needs_its_csrf_token(client: FlaskClient) -> None:
    response = client.post("/stask/login", data={"password": ADMIN_PASSWORD})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert client.get("/stask/api/tasks").status_code == 401


def test_hashed_password_and_password_change_signs_sessions_out(make_api_app: Any) -> None:
    hashed = generate_password_hash("s3cret")
    app = make_api_app(STASK_ADMIN_PASSWORD=hashed)
    restarted = make_api_app(STASK_ADMIN_PASSWORD=hashed)  # the same settings in another process
    changed = make_api_app(STASK_ADMIN_PASSWORD="something else")  # after a password change
    client = app.test_client()
    login(client, "s3cret")
    assert client.get("/stask/api/tasks").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie is not None
    unchanged = restarted.test_client()
    unchanged.set_cookie("session", cookie.value)
    assert unchanged.get("/stask/api/tasks").status_code == 200  # the session itself is valid elsewhere ...
    after_change = changed.test_client()
    after_change.set_cookie("session", cookie.value)
    assert after_change.get("/stask/api/tasks").status_code == 401  # ... until the password changes


def test_failed_logins_are_rate_limited(make_api_app: Any) -> None:
    app = make_api_app(STASK_LOGIN_MAX_FAILURES=3)
    client = app.test_client()
    client.get("/stask/login")
    with client.session_transaction() as session:
        csrf = session["stask_csrf"]
    for _ in range(3):
        assert client.post("/stask/login", data={"password": "nope", "csrf_token": csrf}).status_code == 401
    blocked = client.post("/stask/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf})
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.get_data(as_text=True)
    runtime = app.extensions["stask.runtime"]
    key = runtime.keys.login_failures("127.0.0.1")
    assert 0 < runtime.redis.ttl(key) <= 300  # the lockout ends (the suite's redis-server is 6.2: no EXPIRE NX)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/stask/tasks?status=failed", "/stask/tasks?status=failed"),
        ("//evil.example/stask/", "/stask/"),
        ("https://evil.example/stask/", "/stask/"),
        ("/\\evil.example", "/stask/"),
        ("/elsewhere", "/stask/"),
        ("javascript:alert(1)", "/stask/"),
    ],
)
def test_login_never_redirects_to_another_site(client: FlaskClient, target: str, expected: str) -> None:
    client.get("/stask/login")
    with client.session_transaction() as session:
        csrf = session["stask_csrf"]
    response = client.post("/stask/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf, "next": target})
    assert response.headers["Location"] == expected


def test_one_time_login_token(make_api_app: Any) -> None:
    token = auth.generate_login_token()
    app = make_api_app(STASK_LOGIN_TOKEN=token)
    first = app.test_client()
    response = first.get(f"/stask/login?token={token}&next=/stask/workers")
    assert response.status_code == 303 and response.headers["Location"] == "/stask/workers"
    assert first.get("/stask/api/tasks").status_code == 200
    again = app.test_client().get(f"/stask/login?token={token}")
    assert again.status_code == 403 and "already used" in again.get_data(as_text=True)
    assert app.test_client().get("/stask/login?token=guess").status_code == 403


def test_secret_key_is_generated_when_missing_and_read_from_the_environment(
    make_api_app: Any, monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.delenv("STASK_SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    # Alembic's fileConfig (run by the migrations) disables existing loggers; the warning is still emitted.
    monkeypatch.setattr(logging.getLogger("stask"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="stask"):
        generated = make_api_app(SECRET_KEY=None)
    assert len(generated.config["SECRET_KEY"]) == 64
    assert "no SECRET_KEY or STASK_SECRET_KEY" in caplog.text
    monkeypatch.setenv("STASK_SECRET_KEY", "from-the-environment")
    assert make_api_app(SECRET_KEY=None).config["SECRET_KEY"] == "from-the-environment"
    assert os.environ["STASK_SECRET_KEY"] == "from-the-environment"


@pytest.mark.parametrize(
    "target",
    [
        "/stask/../../x",
        "/stask/..",
        "/stask/tasks/../../elsewhere",
        "/stask/%2e%2e/x",
        "/stask/..%2fx",
        "/stask/\x00x",
        "/stask/\tx",
        "/stask\\..\\x",
    ],
)
def test_next_is_confined_to_the_prefix_after_normalisation(client: FlaskClient, target: str) -> None:
    client.get("/stask/login")
    with client.session_transaction() as session:
        csrf = session["stask_csrf"]
    response = client.post("/stask/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf, "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/stask/"


@pytest.mark.parametrize("target", ["/stask/tasks\r\nX-Evil: 1", "/stask/\nx", "/stask/\rx"])
def test_line_breaks_in_next_are_refused_by_the_login_form(client: FlaskClient, target: str) -> None:
    client.get("/stask/login")
    with client.session_transaction() as session:
        csrf = session["stask_csrf"]
    response = client.post("/stask/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf, "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/stask/"
    assert "X-Evil" not in response.headers


def test_line_breaks_in_next_are_refused_by_the_one_time_link(make_api_app: Any) -> None:
    token = auth.generate_login_token()
    app = make_api_app(STASK_LOGIN_TOKEN=token)
    client = app.test_client()
    response = client.get(f"/stask/login?token={token}&next=/stask/tasks%0D%0AX-Evil:%201")
    assert response.status_code == 303 and response.headers["Location"] == "/stask/"
    assert "X-Evil" not in response.headers
    assert client.get("/stask/api/tasks").status_code == 200  # signed in, the token spent for a working session
