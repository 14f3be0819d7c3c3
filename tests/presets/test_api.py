"""The presets' API and service: the contract, runs with overrides merged, bad input refused with
nothing stored or created, roles and audit rows. On every database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.models import AuditEntry, Preset, Task
from stask.service.presets import merge_data
from tests.presets.plugins import PRESET_CONFIG
from tests.support.api import ADMIN, READONLY, error_code, run_all

CONTRACT = {"id", "name", "identifier", "action", "data", "priority", "created_by", "created_at", "updated_at"}
REPORT = {"name": "weekly", "identifier": "report", "action": "build", "data": {"rows": 5, "title": "W"}}


@pytest.fixture
def presets_app(backend: str, make_app: Callable[..., Flask]) -> Flask:
    return make_app(backend, discover=True, **PRESET_CONFIG)


@pytest.fixture
def api(presets_app: Flask) -> FlaskClient:
    return presets_app.test_client()


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        db = app.extensions["stask"].db
        number = db.session.scalar(sa.select(sa.func.count()).select_from(model))
        db.session.remove()
    return int(number or 0)


def audit_actions(app: Flask) -> list[tuple[str, str | None]]:
    with app.app_context():
        db = app.extensions["stask"].db
        rows = db.session.execute(sa.select(AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)).all()
        db.session.remove()
    return [(row.action, row.target) for row in rows]


def create(api: FlaskClient, **fields: Any) -> dict[str, Any]:
    response = api.post("/stask/api/presets", json={**REPORT, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def test_create_list_get_update_delete(api: FlaskClient, presets_app: Flask) -> None:
    created = create(api)
    preset = created["preset"]
    assert created["id"] == preset["id"] and set(preset) == CONTRACT
    assert (preset["priority"], preset["created_by"], preset["data"]) == ("normal", "api", {"rows": 5, "title": "W"})
    other = create(api, name="echo it", identifier="echo", action="say", data=None, priority="high")["preset"]
    assert other["data"] == {} and other["priority"] == "high"
    url = f"/stask/api/presets/{preset['id']}"
    assert api.get(url, headers=READONLY).get_json()["preset"] == preset
    listed = api.get("/stask/api/presets", headers=READONLY).get_json()
    assert [item["name"] for item in listed["items"]] == ["echo it", "weekly"]  # by worker, then name
    assert (listed["total"], listed["page"], listed["per_page"], listed["pages"]) == (2, 1, 50, 1)
    one = api.get("/stask/api/presets?identifier=report&per_page=1", headers=READONLY).get_json()
    assert [item["id"] for item in one["items"]] == [preset["id"]] and one["total"] == 1
    changed = api.put(url, json={"priority": "low", "data": {"rows": 7}}, headers=ADMIN).get_json()["preset"]
    assert (changed["name"], changed["priority"], changed["data"]) == ("weekly", "low", {"rows": 7})
    assert api.delete(url, headers=ADMIN).get_json() == {"success": True, "id": preset["id"]}
    assert error_code(api.get(url, headers=READONLY), 404) == "preset_not_found"
    assert count(presets_app, Preset) == 1
    actions = [action for action, _ in audit_actions(presets_app)]
    assert actions == ["preset.create", "preset.create", "preset.update", "preset.delete"]


def test_run_merges_the_overrides_over_the_preset_data(api: FlaskClient, presets_app: Flask) -> None:
    preset_id = create(api, priority="high")["id"]
    response = api.post(
        f"/stask/api/presets/{preset_id}/run", json={"data": {"rows": 9, "format": "json"}}, headers=ADMIN
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    task = body["task"]
    assert body["id"] == task["id"]
    assert task["data"] == {"rows": 9, "format": "json", "title": "W"}  # overrides win, the rest is the preset's
    assert (task["identifier"], task["action"], task["priority"]) == ("report", "build", "high")
    plain = api.post(f"/stask/api/presets/{preset_id}/run", headers=ADMIN).get_json()["task"]
    assert plain["data"] == {"rows": 5, "title": "W"}
    run_all(presets_app)
    finished = api.get(f"/stask/api/tasks/{task['id']}", headers=READONLY).get_json()["task"]
    assert finished["status_text"] == "finished" and finished["message"] == "W: 9 rows as json"
    assert ("preset.run", f"preset:{preset_id}") in audit_actions(presets_app)
    stored = api.get(f"/stask/api/presets/{preset_id}", headers=READONLY).get_json()["preset"]
    assert stored["data"] == {"rows": 5, "title": "W"}  # a run does not change the preset


def test_merge_is_shallow() -> None:
    assert merge_data({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"x": 3}}) == {"a": {"x": 3}, "b": 1}
    assert merge_data(None, None) == {}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rows": 5000}, "data.rows"),
        ({"rows": "many"}, "data.rows"),
        ({"format": "xml"}, "data.format"),
        ({"title": 7}, "data.title"),
    ],
)
def test_bad_overrides_are_a_400_naming_the_field_and_create_nothing(
    api: FlaskClient, presets_app: Flask, overrides: dict[str, Any], field: str
) -> None:
    preset_id = create(api)["id"]
    response = api.post(f"/stask/api/presets/{preset_id}/run", json={"data": overrides}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    assert response.get_json()["error"]["message"].startswith(field)
    assert count(presets_app, Task) == 0
    assert "preset.run" not in [action for action, _ in audit_actions(presets_app)]


@pytest.mark.parametrize("body", [{"data": None}, {"data": [1]}, {"data": "x"}, {"priority": "high"}])
def test_a_run_body_is_data_as_an_object_only(api: FlaskClient, presets_app: Flask, body: dict[str, Any]) -> None:
    preset_id = create(api)["id"]
    assert error_code(api.post(f"/stask/api/presets/{preset_id}/run", json=body, headers=ADMIN), 400) == "invalid_input"
    assert count(presets_app, Task) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"identifier": "ghost"}, "identifier"),
        ({"identifier": "Not An Id"}, "identifier"),
        ({"action": "dance"}, "action"),
        ({"data": {"rows": 0}}, "data.rows"),
        ({"data": ["rows"]}, "data"),
        ({"priority": "urgent"}, "priority"),
        ({"priority": "HIGH"}, "priority"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"id": 5}, "id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(
    api: FlaskClient, presets_app: Flask, fields: dict[str, Any], field: str
) -> None:
    response = api.post("/stask/api/presets", json={**REPORT, **fields}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    assert field in response.get_json()["error"]["message"]
    assert count(presets_app, Preset) == 0
    preset_id = create(api)["id"]
    assert error_code(api.put(f"/stask/api/presets/{preset_id}", json=fields, headers=ADMIN), 400) == "invalid_input"
    assert api.get(f"/stask/api/presets/{preset_id}", headers=ADMIN).get_json()["preset"]["name"] == "weekly"


def test_a_name_is_required_and_unique_per_worker(api: FlaskClient, presets_app: Flask) -> None:
    body = {key: value for key, value in REPORT.items() if key != "name"}
    assert "name" in api.post("/stask/api/presets", json=body, headers=ADMIN).get_json()["error"]["message"]
    create(api)
    assert error_code(api.post("/stask/api/presets", json=REPORT, headers=ADMIN), 409) == "preset_name_taken"
    create(api, identifier="echo", action="say", data={})  # the same name on another worker
    other = create(api, name="other")["id"]
    assert error_code(api.put(f"/stask/api/presets/{other}", json={"name": "weekly"}, headers=ADMIN), 409)
    assert count(presets_app, Preset) == 3


def test_running_a_preset_of_an_inactive_worker_is_refused(api: FlaskClient, presets_app: Flask) -> None:
    preset_id = create(api)["id"]
    assert api.post("/stask/api/workers/report/deactivate", headers=ADMIN).status_code == 200
    assert error_code(api.post(f"/stask/api/presets/{preset_id}/run", headers=ADMIN), 409) == "inactive_worker"
    assert count(presets_app, Task) == 0


def test_writes_need_the_admin_role(api: FlaskClient, presets_app: Flask) -> None:
    assert error_code(api.post("/stask/api/presets", json=REPORT, headers=READONLY), 403) == "forbidden"
    assert count(presets_app, Preset) == 0
    preset_id = create(api)["id"]
    for method, suffix in (("put", ""), ("delete", ""), ("post", "/run")):
        response = getattr(api, method)(f"/stask/api/presets/{preset_id}{suffix}", json={}, headers=READONLY)
        assert response.status_code == 403, (method, suffix)
    assert count(presets_app, Task) == 0 and count(presets_app, Preset) == 1
    assert api.get("/stask/api/presets", headers=READONLY).status_code == 200


def test_unknown_ids_and_bad_pages(api: FlaskClient) -> None:
    assert error_code(api.get("/stask/api/presets/999", headers=ADMIN), 404) == "preset_not_found"
    assert error_code(api.post("/stask/api/presets/999/run", headers=ADMIN), 404) == "preset_not_found"
    assert api.get("/stask/api/presets/x", headers=ADMIN).status_code == 404
    for query in ("page=0", "per_page=201", "page=x", "identifier=%20report", "identifier=Report"):
        assert error_code(api.get(f"/stask/api/presets?{query}", headers=ADMIN), 400) == "invalid_input", query
    for query in ("page=", "identifier="):  # the list rules: an empty value is "not given"
        assert api.get(f"/stask/api/presets?{query}", headers=ADMIN).status_code == 200, query


def test_service_run_and_its_errors(presets_app: Flask) -> None:
    with presets_app.app_context():
        presets = presets_app.extensions["stask"].service.presets
        preset = presets.create({**REPORT}, created_by="code")
        task = presets.run(preset.id, {"rows": 2})
        assert task.data == {"rows": 2, "title": "W"}
        with pytest.raises(Exception) as refused:
            presets.run(preset.id, {"rows": -1})
        assert getattr(refused.value, "field", None) == "data.rows"
        presets_app.extensions["stask"].db.session.remove()
