"""The JSON API: every endpoint, its success shape and each of its error paths."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stask.enums import Status
from stask.models import utcnow
from tests.support.api import ADMIN, READONLY, create, run_all, set_row
from tests.support.queries import Statements


def error_of(response: Any, status: int) -> str:
    """Assert the one error shape and status; return the error code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"]
    return str(body["error"]["code"])


# -- POST /stask/worker/<identifier>/run/<action> ------------------------------------------------
def test_run_creates_a_queued_task(client: FlaskClient) -> None:
    response = client.post(
        "/stask/worker/echo/run/say",
        json={"data": {"text": "hi"}, "priority": "high", "start_at": "2030-01-02T03:04:05+02:00", "max_attempts": 4},
        headers=ADMIN,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["success"] is True and body["id"] == body["task"]["id"]
    task = body["task"]
    assert (task["identifier"], task["action"], task["status"], task["status_text"]) == ("echo", "say", 10, "queued")
    assert task["priority"] == "high" and task["data"] == {"text": "hi"} and task["max_attempts"] == 4
    assert task["start_at"] == "2030-01-02T01:04:05Z"


def test_run_with_an_empty_body_uses_defaults(client: FlaskClient) -> None:
    response = client.post("/stask/worker/echo/run/noop", headers=ADMIN)
    assert response.status_code == 201
    assert response.get_json()["task"]["priority"] == "normal"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/stask/worker/nobody/run/say", {}, 404, "unknown_worker"),
        ("/stask/worker/echo/run/dance", {}, 404, "unknown_action"),
        ("/stask/worker/echo/run/say", {"priority": "urgent"}, 400, "invalid_input"),
        ("/stask/worker/echo/run/say", {"priority": 3}, 400, "invalid_input"),
        ("/stask/worker/echo/run/say", {"data": [1, 2]}, 400, "invalid_input"),
        ("/stask/worker/echo/run/say", {"start_at": "next tuesday"}, 400, "invalid_input"),
        ("/stask/worker/echo/run/say", {"start_at": "0001-01-01T00:00:00+01:00"}, 400, "invalid_input"),
        ("/stask/worker/echo/run/say", {"start_at": 12}, 400, "invalid_input"),
        ("/stask/worker/echo/run/say", {"max_attempts": 0}, 400, "invalid_input"),
        ("/stask/worker/echo/run/say", {"max_attempts": "many"}, 400, "invalid_input"),
        ("/stask/worker/echo/run/say", {"colour": "red"}, 400, "invalid_input"),
    ],
)
def test_run_refuses_bad_input(client: FlaskClient, path: str, body: dict[str, Any], status: int, code: str) -> None:
    assert error_of(client.post(path, json=body, headers=ADMIN), status) == code


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2, 3]", "application/json", 400),
        ('"text"', "application/json", 400),
        ("null", "application/json", 400),
        ("[" * 100_000 + "]" * 100_000, "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        ("data=1", "application/x-www-form-urlencoded", 415),
        ("hello", "text/plain", 415),
    ],
)
def test_malformed_bodies_are_400_or_415(client: FlaskClient, data: Any, content_type: str, status: int) -> None:
    response = client.post("/stask/worker/echo/run/say", data=data, content_type=content_type, headers=ADMIN)
    error_of(response, status)


def test_huge_json_body_is_413(client: FlaskClient) -> None:
    body = json.dumps({"data": {"blob": "x" * (3 * 1024 * 1024)}})
    response = client.post("/stask/worker/echo/run/say", data=body, content_type="application/json", headers=ADMIN)
    assert error_of(response, 413) == "too_large"


def test_inactive_worker_is_409(api_app: Flask, client: FlaskClient) -> None:
    assert client.post("/stask/api/workers/echo/deactivate", headers=ADMIN).status_code == 200
    response = client.post("/stask/worker/echo/run/say", headers=ADMIN)
    assert error_of(response, 409) == "inactive_worker"


# -- progress, download, stats ----------------------------------------------------------------------
def test_progress_of_a_finished_task(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app, data={"steps": 2, "text": "there"})
    queued = client.get(f"/stask/task/{task_id}/progress", headers=READONLY).get_json()
    assert queued["status"] == 10 and queued["progress"] == 0 and queued["log_lines"] == []
    run_all(api_app)
    body = client.get(f"/stask/task/{task_id}/progress?lines=5", headers=READONLY).get_json()
    assert body["success"] is True
    expected = {"id", "status", "status_text", "progress", "processed", "total", "eta", "message", "log_lines"}
    assert expected <= set(body)
    assert (body["status"], body["status_text"], body["progress"]) == (80, "finished", 100)
    assert body["message"] == "hello there"
    assert any("step 2" in line for line in body["log_lines"])


def test_progress_while_running_comes_from_redis(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app)
    set_row(api_app, task_id, status=int(Status.RUNNING), started_at=utcnow())
    with api_app.app_context():
        api_app.extensions["stask.runtime"].live.publish(
            task_id, {"progress": 40, "processed": 4, "total": 10, "eta": 1.5, "message": "working"}
        )
    body = client.get(f"/stask/task/{task_id}/progress", headers=READONLY).get_json()
    assert (body["progress"], body["processed"], body["total"], body["eta"], body["message"]) == (
        40,
        4,
        10,
        1.5,
        "working",
    )


@pytest.mark.parametrize("lines", ["0", "-1", "abc", "501"])
def test_progress_refuses_bad_line_counts(api_app: Flask, client: FlaskClient, lines: str) -> None:
    task_id = create(api_app)
    assert error_of(client.get(f"/stask/task/{task_id}/progress?lines={lines}", headers=ADMIN), 400) == "invalid_input"


def test_download_sends_the_result_as_attachment(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app, "echo", "write_file", data={"text": "a,b\n1,2\n"})
    run_all(api_app)
    response = client.get(f"/stask/task/{task_id}/download", headers=READONLY)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=out.txt"
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "a,b\n1,2\n"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_download_of_an_html_result_is_not_served_as_html(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app)
    with api_app.app_context():
        folder = api_app.extensions["stask.runtime"].storage.result_dir(task_id)
    folder.mkdir(parents=True)
    (folder / "page.html").write_text("<script>alert(1)</script>")
    set_row(api_app, task_id, status=int(Status.FINISHED), result="page.html")
    response = client.get(f"/stask/task/{task_id}/download", headers=ADMIN)
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"


def test_download_errors(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app)
    assert error_of(client.get(f"/stask/task/{task_id}/download", headers=ADMIN), 404) == "no_result"
    set_row(api_app, task_id, status=int(Status.FINISHED), result="gone.csv")
    assert error_of(client.get(f"/stask/task/{task_id}/download", headers=ADMIN), 404) == "no_result"
    long_name = "a" * 5000
    assert error_of(client.get(f"/stask/task/{task_id}/download?file={long_name}", headers=ADMIN), 404) == "no_result"
    assert error_of(client.get("/stask/task/999999/download", headers=ADMIN), 404) == "task_not_found"


def test_stats(api_app: Flask, client: FlaskClient) -> None:
    first, _ = create(api_app), create(api_app, priority="high")
    set_row(api_app, first, status=int(Status.FAILED))
    body = client.get("/stask/stats", headers=READONLY).get_json()
    assert body["success"] is True
    assert (body["pending"], body["failed"], body["total"]) == (1, 1, 2)
    registered = len(client.get("/stask/api/workers", headers=READONLY).get_json()["workers"])
    assert body["workers"] == body["active_workers"] == registered >= 5
    assert body["queues"] == {"high": 1, "normal": 1, "low": 0}


# -- /stask/api/tasks ------------------------------------------------------------------------------
def test_create_get_and_delete(client: FlaskClient) -> None:
    created = client.post("/stask/api/tasks", json={"identifier": "echo", "action": "say", "data": {}}, headers=ADMIN)
    assert created.status_code == 201
    task_id = created.get_json()["id"]
    got = client.get(f"/stask/api/tasks/{task_id}", headers=READONLY).get_json()
    assert got["success"] is True and got["task"]["id"] == task_id
    deleted = client.delete(f"/stask/api/tasks/{task_id}", headers=ADMIN)
    assert deleted.get_json() == {"success": True, "id": task_id}
    assert error_of(client.get(f"/stask/api/tasks/{task_id}", headers=ADMIN), 404) == "task_not_found"
    assert error_of(client.delete(f"/stask/api/tasks/{task_id}", headers=ADMIN), 404) == "task_not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "say"},
        {"identifier": "echo"},
        {"identifier": 5, "action": "say"},
        {"identifier": "echo", "action": ""},
    ],
)
def test_create_refuses_incomplete_bodies(client: FlaskClient, body: dict[str, Any]) -> None:
    assert error_of(client.post("/stask/api/tasks", json=body, headers=ADMIN), 400) == "invalid_input"


def test_retry_cancel_and_their_invalid_states(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app)
    assert error_of(client.post(f"/stask/api/tasks/{task_id}/retry", headers=ADMIN), 409) == "invalid_state"
    cancelled = client.post(f"/stask/api/tasks/{task_id}/cancel", headers=ADMIN).get_json()
    assert cancelled["task"]["status"] == 90 and cancelled["stopping"] is False
    assert error_of(client.post(f"/stask/api/tasks/{task_id}/cancel", headers=ADMIN), 409) == "invalid_state"
    retried = client.post(f"/stask/api/tasks/{task_id}/retry", headers=ADMIN).get_json()
    assert retried["task"]["status"] == 10


def test_cancel_of_a_running_task_asks_it_to_stop(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app)
    set_row(api_app, task_id, status=int(Status.RUNNING), attempts=1)
    body = client.post(f"/stask/api/tasks/{task_id}/cancel", headers=ADMIN).get_json()
    assert body["stopping"] is True
    assert client.get(f"/stask/task/{task_id}/progress", headers=ADMIN).get_json()["stop_requested"] is True
    assert error_of(client.delete(f"/stask/api/tasks/{task_id}", headers=ADMIN), 409) == "invalid_state"


def test_retry_failed_in_batches(api_app: Flask, client: FlaskClient) -> None:
    ids = [create(api_app) for _ in range(3)]
    for task_id in ids:
        set_row(api_app, task_id, status=int(Status.FAILED), attempts=1)
    first = client.post("/stask/api/tasks/retry-failed", json={"limit": 2}, headers=ADMIN).get_json()
    assert first["retried"] == ids[:2] and first["remaining"] is True
    second = client.post("/stask/api/tasks/retry-failed", headers=ADMIN).get_json()
    assert second["retried"] == ids[2:] and second["remaining"] is False
    for limit in (0, 1001, "5", True):
        assert error_of(client.post("/stask/api/tasks/retry-failed", json={"limit": limit}, headers=ADMIN), 400)


def test_bulk_reports_each_id(api_app: Flask, client: FlaskClient) -> None:
    queued, finished = create(api_app), create(api_app)
    set_row(api_app, finished, status=int(Status.FINISHED))
    body = client.post(
        "/stask/api/tasks/bulk", json={"action": "cancel", "ids": [queued, finished, 2**63 - 1, queued]}, headers=ADMIN
    ).get_json()
    assert body["done"] == [queued]
    assert [(f["id"], f["error"]["code"]) for f in body["failed"]] == [
        (finished, "invalid_state"),
        (2**63 - 1, "task_not_found"),
    ]
    deleted = client.post("/stask/api/tasks/bulk", json={"action": "delete", "ids": [queued, finished]}, headers=ADMIN)
    assert deleted.get_json()["done"] == [queued, finished]


@pytest.mark.parametrize(
    "body",
    [
        {"action": "explode", "ids": [1]},
        {"action": "retry", "ids": []},
        {"action": "retry", "ids": "1,2"},
        {"action": "retry", "ids": [1, "2"]},
        {"action": "retry", "ids": [0]},
        {"action": "retry", "ids": [True]},
        {"action": "retry", "ids": list(range(1, 1002))},
        {"action": "retry", "ids": [1], "extra": 1},
    ],
)
def test_bulk_refuses_bad_input(client: FlaskClient, body: dict[str, Any]) -> None:
    assert error_of(client.post("/stask/api/tasks/bulk", json=body, headers=ADMIN), 400) == "invalid_input"


@pytest.mark.parametrize("task_id", [2**63, 2**64 + 5, 10**40])
def test_huge_ids_are_404_on_every_database(api_app_any: Flask, task_id: int) -> None:
    client = api_app_any.test_client()
    for method, path in [
        ("get", f"/stask/api/tasks/{task_id}"),
        ("get", f"/stask/task/{task_id}/progress"),
        ("get", f"/stask/task/{task_id}/download"),
        ("post", f"/stask/api/tasks/{task_id}/retry"),
        ("post", f"/stask/api/tasks/{task_id}/cancel"),
        ("delete", f"/stask/api/tasks/{task_id}"),
        ("post", f"/stask/task/{task_id}/upload"),
    ]:
        error_of(getattr(client, method)(path, headers=ADMIN), 404)
    largest = client.get(f"/stask/api/tasks/{2**63 - 1}", headers=ADMIN)
    assert error_of(largest, 404) == "task_not_found"


# -- listing -------------------------------------------------------------------------------------------
def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


def test_list_filters_search_and_sorting(api_app_any: Flask) -> None:
    app, client = api_app_any, api_app_any.test_client()
    a = create(app, data={"city": "Київ", "note": "50%_off"})
    b = create(app, "flaky", "run", priority="high")
    c = create(app, priority="low", data={"city": "Lviv"})
    set_row(app, b, status=int(Status.FAILED), message="Boom: disk FULL")
    set_row(app, c, created_at=utcnow() - timedelta(days=3))
    get = lambda query: client.get(f"/stask/api/tasks?{query}", headers=READONLY)  # noqa: E731
    assert _ids(get("")) == [c, b, a]
    assert _ids(get("sort=id&order=asc")) == [a, b, c]
    assert _ids(get("status=failed")) == [b]
    assert _ids(get("status=10,100")) == [c, b, a]
    assert _ids(get("status=pending&status=failed")) == [c, b, a]
    assert _ids(get("identifier=flaky")) == [b]
    assert _ids(get("action=say&priority=low")) == [c]
    assert _ids(get("q=disk full")) == [b]
    assert _ids(get("q=lviv")) == [c]
    assert _ids(get("q=Київ")) == [a]
    assert _ids(get("q=50%25_")) == [a]
    assert _ids(get("q=%25")) == [a]
    assert _ids(get("sort=created_at&order=asc")) == [c, a, b]
    assert _ids(get("sort=priority&order=asc")) == [b, c, a]
    today = utcnow().date().isoformat()
    assert _ids(get(f"created_from={today}")) == [b, a]
    two_days_ago = (utcnow() - timedelta(days=2)).date().isoformat()
    assert _ids(get(f"created_to={two_days_ago}")) == [c]
    assert _ids(get(f"created_to={today}")) == [c, b, a]


def test_list_pagination_and_capped_total(make_api_app: Any) -> None:
    app = make_api_app(STASK_LIST_COUNT_CAP=4)
    client = app.test_client()
    with app.app_context():
        app.extensions["stask"].create_many([{"identifier": "echo", "action": "noop"}] * 7)
    first = client.get("/stask/api/tasks?per_page=3", headers=READONLY).get_json()
    assert (first["total"], first["total_capped"], first["pages"], len(first["items"])) == (4, True, 2, 3)
    last = client.get("/stask/api/tasks?per_page=3&page=3", headers=READONLY).get_json()
    assert len(last["items"]) == 1 and last["page"] == 3
    beyond = client.get("/stask/api/tasks?page=1000000", headers=READONLY).get_json()
    assert beyond["items"] == []
    small = client.get("/stask/api/tasks?identifier=echo&action=noop&per_page=200", headers=READONLY).get_json()
    assert small["total"] == 4 and small["total_capped"] is True and len(small["items"]) == 7


def test_list_is_two_statements_whatever_the_page_size(api_app: Flask) -> None:
    client = api_app.test_client()
    with api_app.app_context():
        api_app.extensions["stask"].create_many([{"identifier": "echo", "action": "noop"}] * 120)
    with Statements(api_app) as counted:
        body = client.get("/stask/api/tasks?per_page=100&status=queued&q=x", headers=READONLY).get_json()
    assert counted.count == 1  # fewer rows than a page on page 1: no count needed
    with Statements(api_app) as counted:
        body = client.get("/stask/api/tasks?per_page=100", headers=READONLY).get_json()
    assert len(body["items"]) == 100 and body["total"] == 120
    assert counted.count == 2, counted.statements


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "status=42",
        "identifier=Not%20Valid",
        "action=a%20b",
        "priority=urgent",
        "created_from=yesterday",
        "created_to=2026-13-45",
        "created_from=0001-01-01T00:00:00%2B01:00",
        "sort=password",
        "order=sideways",
        "page=0",
        "page=-1",
        "page=99999999999999999999",
        "per_page=201",
        "per_page=abc",
        "q=" + "x" * 201,
    ],
)
def test_list_refuses_bad_filters(client: FlaskClient, query: str) -> None:
    assert error_of(client.get(f"/stask/api/tasks?{query}", headers=READONLY), 400) == "invalid_input"


# -- workers ------------------------------------------------------------------------------------------
def test_workers_list_and_detail(api_app: Flask, client: FlaskClient) -> None:
    create(api_app)
    workers = client.get("/stask/api/workers", headers=READONLY).get_json()["workers"]
    by_id = {w["identifier"]: w for w in workers}
    assert {"echo", "flaky", "slow", "recorder", "importer"} <= set(by_id)
    echo = by_id["echo"]
    assert echo["actions"] == ["noop", "say", "write-file"] and echo["available"] is True
    assert echo["default_settings"] == {"greeting": "hello", "steps": 3} and echo["accepts_upload"] is False
    detail = client.get("/stask/api/workers/echo", headers=READONLY).get_json()
    assert detail["worker"]["identifier"] == "echo"
    assert detail["tasks"]["pending"] == 1 and detail["tasks"]["total"] == 1
    assert error_of(client.get("/stask/api/workers/nobody", headers=READONLY), 404) == "unknown_worker"


def test_activate_and_deactivate(client: FlaskClient) -> None:
    off = client.post("/stask/api/workers/echo/deactivate", headers=ADMIN).get_json()
    assert off["worker"]["active"] is False
    on = client.post("/stask/api/workers/echo/activate", headers=ADMIN).get_json()
    assert on["worker"]["active"] is True
    assert error_of(client.post("/stask/api/workers/nobody/activate", headers=ADMIN), 404) == "unknown_worker"


def test_settings_read_and_update(client: FlaskClient) -> None:
    body = client.get("/stask/api/workers/echo/settings", headers=READONLY).get_json()
    assert body["settings"] == body["defaults"] == {"greeting": "hello", "steps": 3} and body["stored"] == {}
    updated = client.put("/stask/api/workers/echo/settings", json={"steps": 5}, headers=ADMIN).get_json()
    assert updated["settings"] == {"greeting": "hello", "steps": 5} and updated["stored"] == {"steps": 5}
    wrapped = client.put("/stask/api/workers/echo/settings", json={"settings": {"greeting": "hi"}}, headers=ADMIN)
    assert wrapped.get_json()["settings"] == {"greeting": "hi", "steps": 5}


@pytest.mark.parametrize(
    "body", [{"colour": "red"}, {"steps": "many"}, {"steps": "5"}, {"steps": [1]}, {"steps": 2.5}, {"greeting": 5}]
)
def test_settings_refuse_unknown_keys_and_wrong_types(client: FlaskClient, body: dict[str, Any]) -> None:
    response = client.put("/stask/api/workers/echo/settings", json=body, headers=ADMIN)
    assert error_of(response, 400) == "invalid_input"


def test_settings_errors(client: FlaskClient) -> None:
    error_of(
        client.put("/stask/api/workers/echo/settings", data="[]", content_type="application/json", headers=ADMIN), 400
    )
    error_of(client.put("/stask/api/workers/nobody/settings", json={}, headers=ADMIN), 404)
    error_of(client.get("/stask/api/workers/nobody/settings", headers=ADMIN), 404)


def test_discover(client: FlaskClient) -> None:
    body = client.post("/stask/api/workers/discover", headers=ADMIN).get_json()
    assert body["success"] is True and "echo" in body["workers"] and body["added"] == []


# -- uploads --------------------------------------------------------------------------------------------
def upload(client: FlaskClient, path: str, content: bytes, name: str = "data.csv", **extra: Any) -> Any:
    headers = {**ADMIN, **extra.pop("headers", {})}
    data = {"file": (io.BytesIO(content), name), **extra}
    return client.post(path, data=data, content_type="multipart/form-data", headers=headers)


def uploads_of(app: Flask, owner: str) -> dict[str, bytes]:
    with app.app_context():
        folder = app.extensions["stask.runtime"].storage.upload_dir(owner)
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def test_worker_upload_stores_a_safely_named_unique_file(api_app: Flask, client: FlaskClient) -> None:
    first = upload(client, "/stask/worker/importer/upload", b"a,b\n", "../../etc/report.csv")
    assert first.status_code == 201
    body = first.get_json()
    assert body["complete"] is True and body["file"] == {
        "name": "etc_report.csv",
        "size": 4,
        "owner": "worker-importer",
    }
    second = upload(client, "/stask/worker/importer/upload", b"c\n", "etc report.csv")
    assert second.get_json()["file"]["name"] == "etc_report-1.csv"
    assert uploads_of(api_app, "worker-importer") == {"etc_report.csv": b"a,b\n", "etc_report-1.csv": b"c\n"}


def test_upload_limits(api_app: Flask, client: FlaskClient) -> None:
    path = "/stask/worker/importer/upload"
    assert error_of(upload(client, path, b"x", "evil.exe"), 415) == "file_type_not_allowed"
    assert error_of(upload(client, path, b"x", "noextension"), 400) == "invalid_input"
    assert error_of(upload(client, path, b"x" * (1024 * 1024 + 1)), 413) == "too_large"
    assert upload(client, path, b"x" * (1024 * 1024)).status_code == 201
    client.put("/stask/api/workers/importer/settings", json={"upload_max_mb": 0.001}, headers=ADMIN)
    assert error_of(upload(client, path, b"x" * 1100), 413) == "too_large"
    assert error_of(client.post(path, data=b"raw", content_type="text/csv", headers=ADMIN), 415)
    no_file = client.post(path, data={"other": "1"}, content_type="multipart/form-data", headers=ADMIN)
    assert error_of(no_file, 400) == "invalid_input"
    assert error_of(upload(client, "/stask/worker/echo/upload", b"x"), 400) == "upload_not_accepted"
    assert error_of(upload(client, "/stask/worker/nobody/upload", b"x"), 404) == "unknown_worker"
    assert set(uploads_of(api_app, "worker-importer")) == {"data.csv"}


def test_app_max_content_length_caps_uploads(make_api_app: Any) -> None:
    app = make_api_app(MAX_CONTENT_LENGTH=2000)
    client = app.test_client()
    assert error_of(upload(client, "/stask/worker/importer/upload", b"x" * 3000), 413) == "too_large"
    assert upload(client, "/stask/worker/importer/upload", b"x" * 1000).status_code == 201


def test_chunked_upload(api_app: Flask, client: FlaskClient) -> None:
    path = "/stask/worker/importer/upload"
    content = bytes(range(256)) * 12  # 3072 bytes in three chunks

    def chunk(first: int, last: int, **extra: Any) -> Any:
        headers = {"Content-Range": f"bytes {first}-{last}/{len(content)}", **extra.pop("headers", {})}
        return upload(client, path, content[first : last + 1], "big.txt", headers=headers, **extra)

    opened = chunk(0, 1023)
    assert opened.status_code == 202
    upload_id = opened.get_json()["upload_id"]
    assert opened.get_json() == {"success": True, "complete": False, "upload_id": upload_id, "received": 1024}
    assert error_of(chunk(2048, 3071, upload_id=upload_id), 409) == "invalid_state"
    assert chunk(1024, 2047, headers={"X-Upload-Id": upload_id}).status_code == 202
    done = chunk(2048, 3071, upload_id=upload_id)
    assert done.status_code == 201 and done.get_json()["file"]["size"] == len(content)
    assert uploads_of(api_app, "worker-importer") == {"big.txt": content}
    assert error_of(chunk(0, 1023, upload_id=upload_id), 404) == "upload_not_found"


def test_chunked_upload_errors(client: FlaskClient) -> None:
    path = "/stask/worker/importer/upload"

    def send(header: str, body: bytes = b"x" * 10, **extra: Any) -> Any:
        return upload(client, path, body, "a.txt", headers={"Content-Range": header}, **extra)

    assert error_of(send("bytes 10-19/30"), 400) == "invalid_input"  # no upload_id after the first chunk
    assert error_of(send("bytes 0-9/30", upload_id="../../etc"), 400) == "invalid_input"
    assert error_of(send("bytes 0-9/30", upload_id="0" * 32), 404) == "upload_not_found"
    assert error_of(send("bytes 9-0/30"), 400) == "invalid_input"
    assert error_of(send("rows 0-9/30"), 400) == "invalid_input"
    assert error_of(send("bytes 0-9/2000000"), 413) == "too_large"
    assert error_of(send("bytes 0-19/30"), 400) == "invalid_input"  # announced 20 bytes, sent 10
    assert error_of(send("bytes 0-4/30"), 400) == "invalid_input"  # announced 5 bytes, sent 10
    opened = send("bytes 0-9/30")
    upload_id = opened.get_json()["upload_id"]
    other = upload(
        client,
        "/stask/worker/importer/upload",
        b"x" * 10,
        "b.txt",
        headers={"Content-Range": "bytes 10-19/30"},
        upload_id=upload_id,
    )
    assert error_of(other, 400) == "invalid_input"  # another file name


def test_task_upload(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app, "importer", "load")
    response = upload(client, f"/stask/task/{task_id}/upload", b"1,2\n", "rows.csv")
    assert response.status_code == 201 and response.get_json()["file"]["owner"] == f"task-{task_id}"
    assert uploads_of(api_app, f"task-{task_id}") == {"rows.csv": b"1,2\n"}
    set_row(api_app, task_id, status=int(Status.FINISHED))
    assert error_of(upload(client, f"/stask/task/{task_id}/upload", b"x"), 409) == "invalid_state"
    echo_task = create(api_app)
    assert error_of(upload(client, f"/stask/task/{echo_task}/upload", b"x"), 400) == "upload_not_accepted"


def test_upload_limit_from_an_infinite_setting_is_no_crash(make_api_app: Any) -> None:
    """A setting stored outside the API (or a class default) may still be odd: no 500."""
    app = make_api_app()
    with app.app_context():
        ext = app.extensions["stask"]
        row = ext.get_worker("importer")
        row.settings = {"upload_max_mb": float("inf")}
        ext.db.session.commit()
        ext.runtime.workers.invalidate()
    response = app.test_client().post(
        "/stask/worker/importer/upload", data={"file": (io.BytesIO(b"a,b\n"), "x.csv")}, headers=ADMIN
    )
    assert response.status_code == 201, response.get_data(as_text=True)


# -- routing errors keep the shape -------------------------------------------------------------------
def test_unknown_paths_and_methods_give_the_error_shape(client: FlaskClient) -> None:
    assert error_of(client.get("/stask/api/nothing-here", headers=ADMIN), 404) == "not_found"
    assert error_of(client.get("/stask/api/tasks/abc", headers=ADMIN), 404) == "not_found"
    assert error_of(client.get("/stask/api/tasks/-5", headers=ADMIN), 404) == "not_found"
    wrong = client.put("/stask/api/tasks", headers=ADMIN)
    assert error_of(wrong, 405) == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert error_of(client.get("/stask/worker/echo/run/say", headers=ADMIN), 405) == "method_not_allowed"


def test_browsers_get_an_html_error_page_outside_the_api(client: FlaskClient) -> None:
    response = client.get("/stask/no-such-page", headers={**ADMIN, "Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    api = client.get("/stask/api/no-such-thing", headers={**ADMIN, "Accept": "text/html"})
    assert api.status_code == 404 and api.mimetype == "application/json"


def test_host_routes_keep_their_own_errors(make_api_app: Any) -> None:
    app = make_api_app()

    @app.get("/host/page")
    def host_page() -> str:
        return "host"

    client = app.test_client()
    assert client.get("/host/page").get_data(as_text=True) == "host"
    assert "Content-Security-Policy" not in client.get("/host/page").headers
    missing = client.get("/host/missing")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


# -- odd input gives a 4xx with the error shape, never a 500 ----------------------------------------
# Each request here used to raise inside a view: ``str.isdigit`` accepts "²" and other Unicode digits
# that ``int()`` refuses, PostgreSQL refuses a NUL byte in a text parameter, an out-of-range id reached
# the database, and a float setting could be stored as NaN or Infinity (then served as invalid JSON
# and crashing the upload endpoint).
def assert_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False and body["error"]["code"] and body["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "/stask/task/{id}/progress?lines=%C2%B2",
        "/stask/task/{id}/progress?lines=" + "9" * 5000,
        "/stask/api/tasks?page=%C2%B2",
        "/stask/api/tasks?per_page=%D9%A3",
        "/stask/api/tasks?status=%C2%B2",
        "/stask/api/tasks?q=a%00b",
        "/stask/api/workers/ec%00ho",
        "/stask/api/workers/ec%00ho/settings",
    ],
)
def test_odd_query_values_are_bad_requests(any_client: FlaskClient, api_app_any: Flask, url: str) -> None:
    task_id = create(api_app_any)
    response = any_client.get(url.format(id=task_id), headers=ADMIN)
    assert response.status_code in (400, 404), response.get_data(as_text=True)
    assert_error(response, response.status_code)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/stask/worker/echo/run/say", {"max_attempts": "²"}),
        ("post", "/stask/worker/echo/run/say", {"max_attempts": "9" * 5000}),
        ("post", "/stask/worker/echo/run/say", {"data": {"text": "\ud800"}}),
        ("post", "/stask/worker/ec\x00ho/run/say", {}),
        ("post", "/stask/api/workers/ec%00ho/activate", {}),
    ],
)
def test_odd_bodies_are_client_errors(any_client: FlaskClient, method: str, url: str, body: dict[str, Any]) -> None:
    response = getattr(any_client, method)(url, data=json.dumps(body), content_type="application/json", headers=ADMIN)
    assert response.status_code in (400, 404), response.get_data(as_text=True)
    assert_error(response, response.status_code)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1" + "0" * 400])
def test_float_settings_must_be_finite(client: FlaskClient, raw: str) -> None:
    before = client.get("/stask/api/workers/importer/settings", headers=ADMIN).get_json()
    response = client.put(
        "/stask/api/workers/importer/settings",
        data='{"upload_max_mb": ' + raw + "}",
        content_type="application/json",
        headers=ADMIN,
    )
    assert_error(response, 400)
    after = client.get("/stask/api/workers/importer/settings", headers=ADMIN)
    json.loads(after.get_data(as_text=True), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert after.get_json() == before


@pytest.mark.parametrize("action", [{}, [], None, 1])
def test_bulk_refuses_an_action_that_is_not_a_string(client: FlaskClient, action: Any) -> None:
    body = {"action": action, "ids": [1]}
    assert error_of(client.post("/stask/api/tasks/bulk", json=body, headers=ADMIN), 400) == "invalid_input"


@pytest.mark.parametrize("action", ["say\n", "html\n"])
def test_actions_are_matched_in_full(client: FlaskClient, action: str) -> None:
    body = {"identifier": "echo", "action": action, "data": {}}
    assert error_of(client.post("/stask/api/tasks", json=body, headers=ADMIN), 400) == "invalid_input"


def test_monitoring_identifiers_are_matched_in_full(client: FlaskClient) -> None:
    response = client.get("/stask/performance/workers", query_string={"identifier": "echo\n"}, headers=ADMIN)
    assert error_of(response, 400) == "invalid_input"
