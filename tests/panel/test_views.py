"""Panel views over HTTP (no browser): roles, escaping, htmx fragments, bad input, query counts."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.enums import Status
from stask.models import Task
from tests.support.api import ADMIN, create, login
from tests.support.apps import run_worker

XSS = "<script>alert('x')</script>"


@pytest.fixture
def panel_app(make_app: Callable[..., Flask]) -> Flask:
    """No app context stays pushed: each request must get its own ``g``, as in production."""
    return make_app("sqlite", discover=True, STASK_ADMIN_PASSWORD="admin-pw", STASK_READONLY_PASSWORD="ro-pw")


@contextlib.contextmanager
def service(app: Flask) -> Iterator[Any]:
    """The facade inside a short app context (popped before the next request)."""
    with app.app_context():
        yield app.extensions["stask"]
        app.extensions["stask"].db.session.remove()


def run(app: Flask) -> None:
    with app.app_context():
        run_worker(app)


def sign_in(app: Flask, password: str) -> tuple[FlaskClient, str]:
    """A client with a session, and the CSRF token of that session."""
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/stask/login").text).group(1)
    response = client.post("/stask/login", data={"csrf_token": token, "password": password})
    assert response.status_code == 303
    page = client.get("/stask/workers/csv_export/settings").text
    return client, re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)


def test_pages_render_and_escape_user_text(panel_app: Flask) -> None:
    with service(panel_app) as ext:
        task = ext.create("echo", "say", {"text": XSS})
    run(panel_app)
    client, _ = sign_in(panel_app, "admin-pw")
    for url in ("/stask/", "/stask/tasks", f"/stask/tasks/{task.id}", "/stask/workers", "/stask/workers/echo/settings"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert XSS not in response.text, url
    detail = client.get(f"/stask/tasks/{task.id}").text
    assert "&lt;script&gt;" in detail or "\\u003cscript\\u003e" in detail
    # The worker description of the echo plugin holds markup: shown as text.
    assert "Reports progress &lt;b&gt;in steps&lt;/b&gt;" in client.get("/stask/workers").text


def test_polling_fragment_stops_with_286_at_the_end(panel_app: Flask) -> None:
    with service(panel_app) as ext:
        task = ext.create("echo", "say", {"text": "hi"})
    client, _ = sign_in(panel_app, "admin-pw")
    live = client.get(f"/stask/tasks/{task.id}/bar", headers={"HX-Request": "true"})
    assert live.status_code == 200 and 'hx-trigger="every 1s"' in live.text
    run(panel_app)
    done = client.get(f"/stask/tasks/{task.id}/bar?detail=1&actions=1", headers={"HX-Request": "true"})
    assert done.status_code == 286
    assert "hx-trigger" not in done.text.split('id="task-actions"')[0]
    assert 'data-progress="100"' in done.text and 'hx-swap-oob="true"' in done.text
    assert client.get(f"/stask/tasks/{task.id}/log").status_code == 286


def test_task_table_is_a_fragment_for_htmx_and_a_page_otherwise(panel_app: Flask) -> None:
    client, _ = sign_in(panel_app, "admin-pw")
    page = client.get("/stask/tasks?status=100")
    fragment = client.get("/stask/tasks?status=100", headers={"HX-Request": "true"})
    assert "<html" in page.text and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="task-table"')
    restore = client.get("/stask/tasks", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text
    assert "HX-Request" in page.headers.get("Vary", "")


@pytest.mark.parametrize(
    "query", ["status=nope", "created_from=yesterday", "sort=password", "page=0", "page=abc", "priority=urgent"]
)
def test_bad_filters_give_a_message_not_a_500(panel_app: Flask, query: str) -> None:
    client, _ = sign_in(panel_app, "admin-pw")
    response = client.get(f"/stask/tasks?{query}")
    assert response.status_code == 400
    assert 'class="flash flash-error"' in response.text


def test_unknown_things_are_404_pages(panel_app: Flask) -> None:
    client, _ = sign_in(panel_app, "admin-pw")
    for url in ("/stask/tasks/999999", "/stask/workers/nope/settings", "/stask/tasks/999999/bar"):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 404, url
        assert "<html" in response.text


def test_read_only_sees_no_buttons_and_cannot_change_anything(panel_app: Flask) -> None:
    with service(panel_app) as ext:
        task = ext.create("flaky", "give-up", {})
    run(panel_app)
    client, token = sign_in(panel_app, "ro-pw")
    detail = client.get(f"/stask/tasks/{task.id}").text
    assert "/retry" not in detail and "/delete" not in detail
    workers = client.get("/stask/workers").text
    assert "/run/" not in workers and "Discover workers" not in workers
    assert 'name="ids"' not in client.get("/stask/tasks").text
    headers = {"X-CSRF-Token": token}
    for url, data in (
        (f"/stask/tasks/{task.id}/retry", {}),
        (f"/stask/tasks/{task.id}/delete", {}),
        ("/stask/tasks/bulk", {"op": "delete", "ids": str(task.id)}),
        ("/stask/tasks/retry-failed", {}),
        ("/stask/workers/echo/run/say", {}),
        ("/stask/workers/echo/active", {"active": "0"}),
        ("/stask/workers/discover", {}),
        ("/stask/workers/echo/settings", {"greeting": "x", "steps": "1"}),
    ):
        assert client.post(url, data=data, headers=headers).status_code == 403, url
    with service(panel_app) as ext:
        assert ext.get_task(task.id).status == Status.FAILED


def test_admin_actions_need_the_csrf_token(panel_app: Flask) -> None:
    with service(panel_app) as ext:
        task = ext.create("flaky", "give-up", {})
    run(panel_app)
    client, token = sign_in(panel_app, "admin-pw")
    assert client.post(f"/stask/tasks/{task.id}/retry").status_code == 403
    response = client.post(f"/stask/tasks/{task.id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    with service(panel_app) as ext:
        assert ext.get_task(task.id).status == Status.QUEUED


def test_run_form_validates_fields_and_starts_a_task(panel_app: Flask) -> None:
    client, token = sign_in(panel_app, "admin-pw")
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    bad = client.post(
        "/stask/workers/csv_export/run/export",
        data={"source": "secrets", "days": "seven", "priority": "urgent", "start_at": "soon"},
        headers=headers,
    )
    assert bad.status_code == 200
    assert bad.text.count('class="error"') == 4
    assert "seven" in bad.text  # the typed value is kept
    good = client.post(
        "/stask/workers/csv_export/run/export",
        data={"source": "workers", "days": "3", "throttle_ms": "0", "priority": "high"},
        headers=headers,
    )
    assert 'class="started"' in good.text
    with service(panel_app) as ext:
        row = ext.db.session.scalars(sa.select(Task).order_by(Task.id.desc())).first()
        assert (row.identifier, row.priority, row.data) == (
            "csv_export",
            "high",
            {"source": "workers", "days": 3, "throttle_ms": 0},
        )
    plain = client.post("/stask/workers/csv_export/run/export", data={"csrf_token": token, "source": "tasks"})
    assert plain.status_code == 303 and "/stask/tasks/" in plain.headers["Location"]
    inactive = client.post("/stask/workers/csv_export/active", data={"csrf_token": token, "active": "0"})
    assert inactive.status_code == 303
    refused = client.post("/stask/workers/csv_export/run/export", data={"source": "tasks"}, headers=headers)
    assert "inactive" in refused.text


def test_bulk_actions_and_retry_all_failed(panel_app: Flask) -> None:
    with service(panel_app) as ext:
        failed = [ext.create("flaky", "give-up", {}).id for _ in range(3)]
    run(panel_app)
    client, token = sign_in(panel_app, "admin-pw")
    response = client.post(
        "/stask/tasks/bulk",
        data={"csrf_token": token, "op": "delete", "ids": [str(failed[0]), "abc", "999999"], "next": "//evil.example"},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/stask/tasks")
    page = client.get("/stask/tasks").text
    assert "1 task deleted." in page and "#999999" in page
    client.post("/stask/tasks/retry-failed", data={"csrf_token": token})
    with service(panel_app) as ext:
        assert {ext.get_task(i).status for i in failed[1:]} == {Status.QUEUED}


def test_dashboard_statement_count_does_not_grow_with_tasks(panel_app: Flask) -> None:
    client, _ = sign_in(panel_app, "admin-pw")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with service(panel_app) as ext:
        engine = ext.db.engine
    first = 0
    for n in (1, 20):
        with service(panel_app) as ext:
            ext.create_many([{"identifier": "echo", "action": "noop"}] * n)
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/stask/").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        first = first or len(statements)
    assert len(statements) == first <= 6, statements


# -- odd ids and filters (each database) --------------------------------------------------------------
def test_panel_pages_with_odd_ids_and_filters(any_client: FlaskClient) -> None:
    login(any_client)
    assert any_client.get("/stask/tasks/99999999999999999999999").status_code == 404
    assert any_client.get("/stask/tasks?status=%C2%B2").status_code == 400
    assert any_client.get("/stask/tasks?q=%00").status_code == 400


def test_panel_bulk_skips_ids_that_are_no_number(any_client: FlaskClient, api_app_any: Flask) -> None:
    task_id = create(api_app_any)
    token = login(any_client)
    response = any_client.post(
        "/stask/tasks/bulk",
        data={"op": "cancel", "ids": ["²", "99999999999999999999999", str(task_id)], "csrf_token": token},
    )
    assert response.status_code == 303
    assert any_client.get(f"/stask/api/tasks/{task_id}", headers=ADMIN).get_json()["task"]["status"] == 90


def test_discover_reports_invalid_plugins(make_app: Callable[..., Flask]) -> None:
    from tests.support.apps import TEST_WORKERS

    workers = TEST_WORKERS + ",tests.support.bad_plugins:NoActions,tests.nowhere:Gone"
    app = make_app("sqlite", discover=True, STASK_ADMIN_PASSWORD="admin-pw", STASK_WORKERS=workers)
    client, token = sign_in(app, "admin-pw")
    response = client.post("/stask/workers/discover", headers={"X-CSRF-Token": token})
    assert response.status_code == 303, response.text
    page = client.get(response.headers["Location"]).text
    assert "tests.support.bad_plugins:NoActions" in page and "no task_&lt;action&gt; method" in page
    assert "tests.nowhere:Gone" in page
