"""The panel's changes are audited like the API's, and the audit page lists, filters and escapes them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stask.enums import Status
from tests.support.api import create, set_row
from tests.support.audit import actions, entries

PANEL_CONFIG: dict[str, Any] = {"STASK_ADMIN_PASSWORD": "admin-pw", "STASK_READONLY_PASSWORD": "ro-pw"}


@pytest.fixture
def panel_any(backend: str, make_app: Callable[..., Flask]) -> Flask:
    """Each database in turn; no app context stays pushed (each request gets its own, as in production)."""
    return make_app(backend, discover=True, **PANEL_CONFIG)


@pytest.fixture
def panel_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app("sqlite", discover=True, **PANEL_CONFIG)


def sign_in(app: Flask, password: str) -> tuple[FlaskClient, str]:
    """A signed-in client and its session's CSRF token."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/stask/login").text).group(1)  # type: ignore[union-attr]
    assert client.post("/stask/login", data={"csrf_token": token, "password": password}).status_code == 303
    page = client.get("/stask/").text
    return client, re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_each_panel_change_is_one_row(panel_any: Flask) -> None:
    app = panel_any
    client, token = sign_in(app, "admin-pw")
    form = {"csrf_token": token}
    session_actor = entries(app, action="auth.login")[0]["actor"]

    started = client.post("/stask/workers/echo/run/say", data={**form, "text": "hi"})
    assert started.status_code == 303, started.text
    task_id = int(started.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/stask/tasks/{task_id}/cancel", data=form).status_code == 303
    assert client.post(f"/stask/tasks/{task_id}/retry", data=form).status_code == 303
    set_row(app, task_id, status=int(Status.RUNNING), attempts=1)
    assert client.post(f"/stask/tasks/{task_id}/stop", data=form).status_code == 303
    set_row(app, task_id, status=int(Status.FAILED))
    assert client.post(f"/stask/tasks/{task_id}/delete", data=form).status_code == 303

    failed = [create(app) for _ in range(2)]
    for failed_id in failed:
        set_row(app, failed_id, status=int(Status.FAILED), attempts=1)
    assert client.post("/stask/tasks/retry-failed", data=form).status_code == 303
    ids = [str(i) for i in failed]
    assert client.post("/stask/tasks/bulk", data={**form, "op": "cancel", "ids": ids}).status_code == 303

    assert client.post("/stask/workers/echo/active", data={**form, "active": "0"}).status_code == 303
    assert client.post("/stask/workers/echo/active", data={**form, "active": "1"}).status_code == 303
    assert client.post("/stask/workers/discover", data=form).status_code == 303
    settings = client.post("/stask/workers/echo/settings", data={**form, "greeting": "bonjour", "steps": "3"})
    assert settings.status_code == 303, settings.text
    assert client.post("/stask/cache/clear", data=form).status_code == 303

    assert actions(app) == [
        "auth.login",
        "task.create",
        "task.cancel",
        "task.retry",
        "task.stop",
        "task.delete",
        "task.retry_failed",
        "task.bulk",
        "worker.deactivate",
        "worker.activate",
        "worker.discover",
        "worker.settings",
        "cache.clear",
    ]
    rows = entries(app)
    assert {(row["actor"], row["actor_role"], row["actor_kind"], row["client"]) for row in rows} == {
        (session_actor, "admin", "session", "192.0.2.44")
    }
    by_action = {row["action"]: row for row in rows}
    for action in ("task.create", "task.cancel", "task.retry", "task.stop", "task.delete"):
        assert by_action[action]["target"] == f"task:{task_id}", action
    assert by_action["task.retry_failed"]["details"] == {"count": 2, "ids": failed, "remaining": False}
    assert by_action["task.bulk"]["details"] == {"operation": "cancel", "count": 2, "ids": failed, "refused": 0}
    assert by_action["worker.settings"]["details"] == {"keys": ["greeting"]}  # only the changed key, no value
    assert "bonjour" not in str(rows)
    assert by_action["cache.clear"]["target"] == "cache:workers"


def test_refused_panel_requests_record_nothing(panel_app: Flask) -> None:
    reader, token = sign_in(panel_app, "ro-pw")
    task_id = create(panel_app)
    assert reader.post(f"/stask/tasks/{task_id}/cancel", data={"csrf_token": token}).status_code == 403
    admin, admin_token = sign_in(panel_app, "admin-pw")
    assert admin.post(f"/stask/tasks/{task_id}/cancel").status_code == 403  # no CSRF token
    refused = admin.post(f"/stask/tasks/{task_id}/retry", data={"csrf_token": admin_token})  # queued: refused
    assert refused.status_code == 303
    bad = admin.post("/stask/workers/echo/settings", data={"csrf_token": admin_token, "steps": "many"})
    assert bad.status_code == 400
    assert actions(panel_app) == ["auth.login", "auth.login"]


def test_the_page_lists_filters_and_escapes_for_both_roles(panel_app: Flask) -> None:
    admin, token = sign_in(panel_app, "admin-pw")
    task_id = create(panel_app)
    admin.post(f"/stask/tasks/{task_id}/cancel", data={"csrf_token": token})
    admin.post("/stask/workers/echo/active", data={"csrf_token": token, "active": "0"})
    reader, _ = sign_in(panel_app, "ro-pw")

    page = reader.get("/stask/audit")
    assert page.status_code == 200
    assert 'href="/stask/audit" class="active" aria-current="page"' in page.text  # the nav link, active
    assert "4 entries" in page.text  # two sign-ins, two changes
    htmx = {"HX-Request": "true"}
    table = reader.get("/stask/audit", headers=htmx)
    assert table.status_code == 200 and "<html" not in table.text  # the table alone for htmx
    for text in ("task.cancel", "worker.deactivate", f"task:{task_id}", "worker:echo", "192.0.2.44"):
        assert text in table.text

    filtered = reader.get(f"/stask/audit?target=task:{task_id}", headers=htmx).text
    assert "task.cancel" in filtered and "worker.deactivate" not in filtered
    by_action = reader.get("/stask/audit?action=auth.login", headers=htmx).text
    assert "2 entries" in by_action and "task.cancel" not in by_action

    bad = reader.get("/stask/audit?actor=%3Cscript%3Ealert(1)%3C/script%3E")
    assert bad.status_code == 400
    assert "<script>alert(1)" not in bad.text and "&lt;script&gt;" in bad.text

    detail = reader.get(f"/stask/tasks/{task_id}").text
    assert f"/stask/audit?target=task:{task_id}" in detail or f"/stask/audit?target=task%3A{task_id}" in detail

    anonymous = panel_app.test_client().get("/stask/audit", headers={"Accept": "text/html"})
    assert anonymous.status_code == 302 and "/stask/login" in anonymous.headers["Location"]


def test_the_page_paginates(panel_app: Flask) -> None:
    admin, token = sign_in(panel_app, "admin-pw")
    for _ in range(3):
        admin.post("/stask/cache/clear", data={"csrf_token": token})
    first = admin.get("/stask/audit?per_page=2").text
    assert 'class="pagination"' in first and "page=2" in first
    second = admin.get("/stask/audit?per_page=2&page=2").text
    assert second.count("<tr>") == 1 + 2 and "auth.login" in second  # header row + the two oldest
