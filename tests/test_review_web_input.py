"""Odd input to the web layer ends as a 4xx with the error shape, never a 500.

Each request here used to raise inside a view: ``str.isdigit`` accepts "²" and other
Unicode digits that ``int()`` refuses, PostgreSQL refuses a NUL byte in a text parameter,
an out-of-range id reached the database, and a float setting could be stored as NaN or
Infinity (then served as invalid JSON and crashing the upload endpoint).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api_support import ADMIN, build, create, login

pytest_plugins = ["tests.api_fixtures"]


def assert_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False and body["error"]["code"] and body["error"]["message"]


@pytest.fixture
def any_client(api_app_any: Flask) -> FlaskClient:
    return api_app_any.test_client()


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


def test_upload_limit_from_an_infinite_setting_is_no_crash(sqlite_path: Path, redis_url: str, tmp_path: Path) -> None:
    """A setting stored outside the API (or a class default) may still be odd: no 500."""
    app = build("sqlite", sqlite_path, redis_url, tmp_path)
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
