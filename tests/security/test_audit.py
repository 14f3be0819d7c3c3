"""The audit log: every change made through the API or a sign-in is a row (who, from where, what,
on what), nothing secret is stored, refusals record nothing, and any signed-in role may read it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.enums import Status
from stask.models import AuditEntry, Base
from tests.support.api import (
    ADMIN,
    ADMIN_PASSWORD,
    ADMIN_TOKEN,
    READONLY,
    READONLY_TOKEN,
    SECOND_ADMIN_TOKEN,
    create,
    error_code,
    login,
    set_row,
)
from tests.support.audit import actions, entries

CLIENT = "198.51.100.23"
SECOND_ADMIN = {"Authorization": f"Bearer {SECOND_ADMIN_TOKEN}"}


def from_address(client: FlaskClient, address: str = CLIENT) -> FlaskClient:
    client.environ_base["REMOTE_ADDR"] = address
    return client


def only(app: Flask, **filters: str) -> dict[str, Any]:
    rows = entries(app, **filters)
    assert len(rows) == 1, rows
    return rows[0]


def test_each_api_change_is_one_row_with_actor_client_and_target(api_app_any: Flask) -> None:
    app = api_app_any
    client = from_address(app.test_client())
    created = client.post("/stask/api/tasks", json={"identifier": "echo", "action": "say"}, headers=ADMIN)
    task_id = created.get_json()["id"]
    row = only(app, action="task.create")
    assert row["target"] == f"task:{task_id}"
    assert (row["actor_role"], row["actor_kind"], row["actor"], row["client"]) == (
        "admin",
        "token",
        "token:admin#1",
        CLIENT,
    )
    assert row["details"] == {"identifier": "echo", "action": "say", "priority": "normal"}

    ran = client.post("/stask/worker/echo/run/say", json={"priority": "high"}, headers=SECOND_ADMIN)
    second = ran.get_json()["id"]
    row = entries(app, action="task.create")[0]
    assert (row["target"], row["actor"], row["details"]["priority"]) == (f"task:{second}", "token:admin#2", "high")

    assert client.post(f"/stask/api/tasks/{task_id}/cancel", headers=ADMIN).status_code == 200
    assert only(app, action="task.cancel")["target"] == f"task:{task_id}"
    assert client.post(f"/stask/api/tasks/{task_id}/retry", headers=ADMIN).status_code == 200
    assert only(app, action="task.retry")["target"] == f"task:{task_id}"
    set_row(app, second, status=int(Status.RUNNING), attempts=1)
    assert client.post(f"/stask/api/tasks/{second}/cancel", headers=ADMIN).get_json()["stopping"] is True
    assert only(app, action="task.stop")["target"] == f"task:{second}"
    set_row(app, second, status=int(Status.FAILED))
    assert client.delete(f"/stask/api/tasks/{second}", headers=ADMIN).status_code == 200
    assert only(app, action="task.delete")["target"] == f"task:{second}"

    assert client.post("/stask/api/workers/echo/deactivate", headers=ADMIN).status_code == 200
    assert only(app, action="worker.deactivate")["target"] == "worker:echo"
    assert client.post("/stask/api/workers/echo/activate", headers=ADMIN).status_code == 200
    assert only(app, action="worker.activate")["target"] == "worker:echo"
    assert client.post("/stask/api/workers/discover", headers=ADMIN).status_code == 200
    discovered = only(app, action="worker.discover")
    assert discovered["target"] is None and set(discovered["details"]) == {"added", "updated", "missing", "invalid"}
    assert client.post("/stask/cache/clear", headers=ADMIN).status_code == 200
    assert only(app, action="cache.clear")["target"] == "cache:workers"
    assert actions(app) == [
        "task.create",
        "task.create",
        "task.cancel",
        "task.retry",
        "task.stop",
        "task.delete",
        "worker.deactivate",
        "worker.activate",
        "worker.discover",
        "cache.clear",
    ]


def test_bulk_and_retry_failed_record_the_ids_once_per_request(api_app_any: Flask) -> None:
    app = api_app_any
    client = app.test_client()
    failed = [create(app) for _ in range(3)]
    for task_id in failed:
        set_row(app, task_id, status=int(Status.FAILED), attempts=1)
    body = client.post("/stask/api/tasks/retry-failed", json={"limit": 2}, headers=ADMIN).get_json()
    row = only(app, action="task.retry_failed")
    assert row["target"] == "tasks"
    assert row["details"] == {"count": 2, "ids": body["retried"], "remaining": True}

    response = client.post("/stask/api/tasks/bulk", json={"action": "cancel", "ids": [*failed, 999_999]}, headers=ADMIN)
    done = response.get_json()["done"]
    row = only(app, action="task.bulk")
    assert row["details"] == {"operation": "cancel", "count": len(done), "ids": done, "refused": 4 - len(done)}


def test_settings_changes_name_the_keys_never_the_values(api_app_any: Flask) -> None:
    client = api_app_any.test_client()
    response = client.put("/stask/api/workers/echo/settings", json={"greeting": "s3cr3t-value"}, headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    row = only(api_app_any, action="worker.settings")
    assert (row["target"], row["details"]) == ("worker:echo", {"keys": ["greeting"]})
    assert "s3cr3t-value" not in json.dumps(entries(api_app_any))


def test_uploads_are_recorded_with_the_stored_name(client: FlaskClient, api_app: Flask) -> None:
    data = {"file": (io.BytesIO(b"a,b\n1,2\n"), "in.csv")}
    response = client.post("/stask/worker/importer/upload", data=data, headers=ADMIN)
    assert response.status_code == 201, response.get_data(as_text=True)
    row = only(api_app, action="worker.upload")
    assert row["target"] == "worker:importer"
    assert row["details"] == {"file": response.get_json()["file"]["name"], "size": 8}


def test_refused_requests_record_nothing(client: FlaskClient, api_app: Flask) -> None:
    task_id = create(api_app)
    error_code(client.post(f"/stask/api/tasks/{task_id}/retry", headers=ADMIN), 409)  # queued: nothing to retry
    error_code(client.post(f"/stask/api/tasks/{task_id}/cancel", headers=READONLY), 403)
    error_code(client.post(f"/stask/api/tasks/{task_id}/cancel"), 401)
    error_code(client.post("/stask/api/tasks/bulk", json={"action": "retry", "ids": [task_id]}, headers=READONLY), 403)
    error_code(client.put("/stask/api/workers/echo/settings", json={"nope": 1}, headers=ADMIN), 400)
    error_code(client.post("/stask/api/workers/nobody/activate", headers=ADMIN), 404)
    bulk = client.post("/stask/api/tasks/bulk", json={"action": "retry", "ids": [task_id]}, headers=ADMIN)
    assert bulk.get_json()["done"] == []  # every id refused: no change, no row
    assert entries(api_app) == []


def test_logins_and_logouts_are_recorded_without_the_password(any_client: FlaskClient, api_app_any: Flask) -> None:
    app = api_app_any
    client = from_address(any_client)
    client.get("/stask/login")
    with client.session_transaction() as session:
        token = session["stask_csrf"]
    refused = client.post("/stask/login", data={"password": "hunter2-wrong", "csrf_token": token})
    assert refused.status_code == 401
    failed = only(app, action="auth.login_failed")
    assert (failed["actor_role"], failed["actor_kind"], failed["actor"], failed["client"]) == (
        None,
        "anonymous",
        "anonymous",
        CLIENT,
    )
    assert failed["details"] == {"method": "password"}

    csrf = login(client, ADMIN_PASSWORD)
    signed_in = only(app, action="auth.login")
    assert signed_in["actor_role"] == "admin" and signed_in["actor_kind"] == "session"
    assert signed_in["actor"].startswith("session:") and len(signed_in["actor"]) == len("session:") + 12
    assert signed_in["details"] == {"method": "password"}

    task_id = create(app)
    assert client.post(f"/stask/api/tasks/{task_id}/cancel", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert only(app, action="task.cancel")["actor"] == signed_in["actor"]  # the same session, the same name

    assert client.post("/stask/logout", data={"csrf_token": csrf}).status_code == 303
    assert only(app, action="auth.logout")["actor"] == signed_in["actor"]
    stored = json.dumps(entries(app))
    for secret in ("hunter2-wrong", ADMIN_PASSWORD, csrf, ADMIN_TOKEN, READONLY_TOKEN):
        assert secret not in stored


def test_a_bad_login_link_is_recorded_and_a_good_one_signs_in(make_api_app: Callable[..., Flask]) -> None:
    app = make_api_app(STASK_LOGIN_TOKEN="one-time-link-token")
    client = app.test_client()
    assert client.get("/stask/login?token=wrong-link-token").status_code == 403
    assert only(app, action="auth.login_failed")["details"] == {"method": "link"}
    assert client.get("/stask/login?token=one-time-link-token").status_code == 303
    row = only(app, action="auth.login")
    assert (row["actor_role"], row["details"]) == ("admin", {"method": "link"})
    assert "one-time-link-token" not in json.dumps(entries(app)) and "wrong-link-token" not in json.dumps(entries(app))


def test_a_host_authorised_user_is_named_host(make_api_app: Callable[..., Flask]) -> None:
    app = make_api_app(STASK_AUTHORIZE="tests.support.api:host_rule")
    client = app.test_client()
    with client.session_transaction() as session:
        session["stask_csrf"] = "host-page-csrf"
    headers = {"X-User": "root", "X-CSRF-Token": "host-page-csrf"}
    assert client.post("/stask/api/workers/echo/deactivate", headers=headers).status_code == 200
    row = only(app, action="worker.deactivate")
    assert (row["actor_role"], row["actor_kind"], row["actor"]) == ("admin", "host", "host")


def test_any_signed_in_role_reads_the_log_and_anonymous_cannot(client: FlaskClient, api_app: Flask) -> None:
    client.post("/stask/api/workers/echo/deactivate", headers=ADMIN)
    for headers in (ADMIN, READONLY):
        body = client.get("/stask/api/audit", headers=headers).get_json()
        assert body["success"] is True
        assert [item["action"] for item in body["items"]] == ["worker.deactivate"]
        assert (body["total"], body["total_capped"], body["page"], body["pages"]) == (1, False, 1, 1)
    assert error_code(client.get("/stask/api/audit"), 401) == "unauthorized"
    for method in (client.post, client.put, client.delete):
        assert method("/stask/api/audit", headers=ADMIN).status_code == 405  # nobody edits the log


def test_filters_by_action_actor_target_and_time(api_app_any: Flask) -> None:
    client = api_app_any.test_client()
    first = create(api_app_any)
    client.post(f"/stask/api/tasks/{first}/cancel", headers=ADMIN)
    client.post("/stask/api/workers/echo/deactivate", headers=SECOND_ADMIN)
    client.post("/stask/api/workers/echo/activate", headers=ADMIN)

    def listed(query: str) -> list[str]:
        response = client.get(f"/stask/api/audit?{query}", headers=READONLY)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["action"] for item in response.get_json()["items"]]

    assert listed("") == ["worker.activate", "worker.deactivate", "task.cancel"]
    assert listed("action=worker.activate") == ["worker.activate"]
    assert listed("actor=token:admin%232") == ["worker.deactivate"]
    assert listed(f"target=task:{first}") == ["task.cancel"]
    assert listed("target=worker:echo&actor=token:admin%231") == ["worker.activate"]
    assert listed("since=2000-01-01T00:00:00Z&until=2999-01-01") == [
        "worker.activate",
        "worker.deactivate",
        "task.cancel",
    ]
    assert listed("until=2001-01-01T00:00:00%2B02:00") == []
    assert listed("since=8999-01-01") == []
    assert listed("since=2026-02-01&until=2026-01-01") == []  # nothing matches; no error (as on the task list)
    page = client.get("/stask/api/audit?per_page=2&page=2", headers=READONLY).get_json()
    assert ([i["action"] for i in page["items"]], page["total"], page["pages"]) == (["task.cancel"], 3, 2)


@pytest.mark.parametrize(
    "query",
    [
        "action=task.explode",
        "action=",  # empty is "no filter": allowed (checked below)
        "actor=session:%3Cscript%3E",
        "actor=" + "x" * 200,
        "target=task:1;drop",
        "target=%00",
        "since=yesterday",
        "since=2026-01-31 12:00",  # the API takes the document's date-time form only
        "page=0",
        "per_page=201",
        "since=0001-01-01T00:00:00%2B01:00",
    ],
)
def test_bad_filters_are_400_in_the_one_error_shape(client: FlaskClient, query: str) -> None:
    response = client.get(f"/stask/api/audit?{query}", headers=READONLY)
    if query == "action=":
        assert response.status_code == 200
        return
    assert error_code(response, 400) == "invalid_input"


def test_a_failed_audit_write_is_logged_and_the_change_still_succeeds(
    api_app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with api_app.app_context():
        engine = api_app.extensions["stask"].db.engine
    table = Base.metadata.tables[AuditEntry.__tablename__]
    table.drop(engine)
    try:
        with caplog.at_level(logging.ERROR, logger="stask"):
            response = client.post("/stask/api/workers/echo/deactivate", headers=ADMIN)
        assert response.status_code == 200
        assert response.get_json()["worker"]["active"] is False
        assert "could not write the audit row" in caplog.text and "worker.deactivate" in caplog.text
    finally:
        table.create(engine)
    with api_app.app_context():
        session = api_app.extensions["stask"].db.session
        assert session.scalar(sa.select(sa.func.count()).select_from(table)) == 0
        session.remove()
