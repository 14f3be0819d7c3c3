"""The schedules' API: the contract fields, bad input refused with nothing stored, roles, code schedules."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.models import StoredSchedule
from tests.schedules.plugins import SCHEDULE_WORKERS
from tests.support.api import ADMIN, AUTH_CONFIG, READONLY, error_code, run_all

CONTRACT = {
    "name",
    "identifier",
    "action",
    "data",
    "priority",
    "cron",
    "interval",
    "timezone",
    "enabled",
    "misfire",
    "overlap",
    "jitter",
    "start_date",
    "end_date",
    "next_run_at",
    "last_run_at",
    "last_task_id",
    "source",
}


@pytest.fixture
def schedules_app(make_app: Any) -> Flask:
    return make_app(
        "sqlite",
        discover=True,
        **{**AUTH_CONFIG, "STASK_WORKERS": AUTH_CONFIG["STASK_WORKERS"] + "," + SCHEDULE_WORKERS.split(",")[-1]},
    )


@pytest.fixture
def api(schedules_app: Flask) -> FlaskClient:
    return schedules_app.test_client()


def stored(app: Flask) -> int:
    with app.app_context():
        db = app.extensions["stask"].db
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(StoredSchedule).where(StoredSchedule.source == "panel")
        )
        db.session.remove()
    return int(count or 0)


def test_create_read_change_pause_resume_delete(api: FlaskClient, schedules_app: Flask) -> None:
    body = {"name": "greeting", "identifier": "echo", "action": "say", "cron": "*/5 * * * *", "data": {"text": "hi"}}
    response = api.post("/stask/api/schedules", json=body, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    schedule = created["schedule"]
    assert created["id"] == schedule["id"] and CONTRACT <= set(schedule)
    assert (schedule["source"], schedule["timezone"], schedule["misfire"], schedule["overlap"]) == (
        "panel",
        "UTC",
        "run_once",
        "skip",
    )
    assert schedule["next_run_at"].endswith("Z") and schedule["last_task_id"] is None
    url = f"/stask/api/schedules/{schedule['id']}"
    assert api.get(url, headers=READONLY).get_json()["schedule"]["name"] == "greeting"
    listed = api.get("/stask/api/schedules?identifier=echo", headers=READONLY).get_json()
    assert [item["id"] for item in listed["items"]] == [schedule["id"]] and listed["total"] == 1
    changed = api.put(url, json={"interval": 120}, headers=ADMIN).get_json()["schedule"]
    assert (changed["cron"], changed["interval"]) == (None, 120)
    assert api.post(url + "/pause", headers=ADMIN).get_json()["schedule"]["next_run_at"] is None
    assert api.post(url + "/resume", headers=ADMIN).get_json()["schedule"]["next_run_at"]
    assert api.delete(url, headers=ADMIN).get_json() == {"success": True, "id": schedule["id"]}
    assert error_code(api.get(url, headers=ADMIN), 404) == "schedule_not_found"


def test_run_now_creates_a_task_that_carries_its_schedule(api: FlaskClient, schedules_app: Flask) -> None:
    body = {"identifier": "echo", "action": "say", "interval": 3600, "data": {"text": "now"}}
    schedule_id = api.post("/stask/api/schedules", json=body, headers=ADMIN).get_json()["id"]
    response = api.post(f"/stask/api/schedules/{schedule_id}/run", headers=ADMIN)
    assert response.status_code == 201
    task = response.get_json()["task"]
    assert task["schedule_id"] == schedule_id and task["scheduled_for"].endswith("Z")
    run_all(schedules_app)
    other = api.post("/stask/api/tasks", json={"identifier": "echo", "action": "noop"}, headers=ADMIN).get_json()["id"]
    listed = api.get(f"/stask/api/tasks?schedule_id={schedule_id}", headers=READONLY).get_json()
    assert [item["id"] for item in listed["items"]] == [task["id"]] and other != task["id"]
    assert listed["items"][0]["status_text"] == "finished"
    assert (
        api.get(f"/stask/api/schedules/{schedule_id}", headers=READONLY).get_json()["schedule"]["last_task_id"]
        == task["id"]
    )
    assert error_code(api.get("/stask/api/tasks?schedule_id=x", headers=READONLY), 400) == "invalid_input"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"identifier": "echo", "action": "say", "cron": "0 0 3 * * *"}, "cron"),
        ({"identifier": "echo", "action": "say", "interval": 0}, "interval"),
        ({"identifier": "echo", "action": "say", "interval": 60, "cron": "@daily"}, "cron"),
        ({"identifier": "echo", "action": "say"}, "cron"),
        ({"identifier": "echo", "action": "say", "interval": 60, "timezone": "Nowhere/Atlantis"}, "timezone"),
        ({"identifier": "ghost", "action": "say", "interval": 60}, "identifier"),
        ({"identifier": "echo", "action": "dance", "interval": 60}, "action"),
        ({"identifier": "scheduled", "action": "report", "interval": 60, "data": {"rows": 5000}}, "data.rows"),
        ({"identifier": "echo", "action": "say", "interval": 60, "next_run_at": "2030-01-01T00:00:00Z"}, "next_run_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(
    api: FlaskClient, schedules_app: Flask, body: dict, field: str
) -> None:
    response = api.post("/stask/api/schedules", json=body, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    assert field in response.get_json()["error"]["message"]
    assert stored(schedules_app) == 0


def test_writes_need_the_admin_role(api: FlaskClient, schedules_app: Flask) -> None:
    body = {"identifier": "echo", "action": "say", "interval": 60}
    assert error_code(api.post("/stask/api/schedules", json=body, headers=READONLY), 403) == "forbidden"
    assert stored(schedules_app) == 0
    schedule_id = api.post("/stask/api/schedules", json=body, headers=ADMIN).get_json()["id"]
    for method, suffix in (("put", ""), ("delete", ""), ("post", "/pause"), ("post", "/resume"), ("post", "/run")):
        response = getattr(api, method)(f"/stask/api/schedules/{schedule_id}{suffix}", json={}, headers=READONLY)
        assert response.status_code == 403, (method, suffix)


def test_a_code_schedule_can_only_be_paused_or_resumed(api: FlaskClient) -> None:
    items = api.get("/stask/api/schedules?identifier=scheduled", headers=ADMIN).get_json()["items"]
    report = next(item for item in items if item["name"] == "weekday report")
    assert report["source"] == "code"
    url = f"/stask/api/schedules/{report['id']}"
    assert error_code(api.put(url, json={"cron": "0 9 * * *"}, headers=ADMIN), 409) == "invalid_state"
    assert error_code(api.delete(url, headers=ADMIN), 409) == "invalid_state"
    assert api.put(url, json={"enabled": False}, headers=ADMIN).get_json()["schedule"]["enabled"] is False
    assert api.post(url + "/resume", headers=ADMIN).get_json()["schedule"]["enabled"] is True
