"""Schedules that run a preset: the preset is a live reference (its worker, action, data and
priority when a slot fires), the schedule's data merged over the preset's; bad references and
data refused with nothing stored; a preset in use cannot be deleted. On every database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.models import Preset, StoredSchedule, Task
from tests.presets.plugins import PRESET_CONFIG
from tests.support.api import ADMIN, error_code, login

PRESET = {"name": "weekly", "identifier": "report", "action": "build", "data": {"rows": 5, "title": "W"}}


@pytest.fixture
def preset_app(backend: str, make_app: Callable[..., Flask]) -> Flask:
    """Only the tests' own schedules fire: the built-in nightly cleanup (03:30 UTC) would be due
    too whenever a test's slot lies past it (an hour of every day)."""
    app = make_app(backend, discover=True, **PRESET_CONFIG)
    with app.app_context():
        db = app.extensions["stask"].db
        db.session.execute(sa.update(StoredSchedule).where(StoredSchedule.source == "code").values(enabled=False))
        db.session.commit()
        db.session.remove()
    return app


@pytest.fixture
def api(preset_app: Flask) -> FlaskClient:
    return preset_app.test_client()


def add_preset(api: FlaskClient, **fields: Any) -> int:
    response = api.post("/stask/api/presets", json={**PRESET, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def add_schedule(api: FlaskClient, **fields: Any) -> dict[str, Any]:
    response = api.post("/stask/api/schedules", json={"interval": 3600, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json()["schedule"])


def refused(api: FlaskClient, fields: dict[str, Any]) -> str:
    response = api.post("/stask/api/schedules", json={"interval": 3600, **fields}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    return str(response.get_json()["error"]["message"])


def rows(app: Flask, model: Any) -> list[Any]:
    with app.app_context():
        db = app.extensions["stask"].db
        found = list(db.session.scalars(sa.select(model).order_by(model.id)))
        for row in found:
            db.session.expunge(row)
        db.session.remove()
    return found


def fire(app: Flask, at: datetime) -> Any:
    with app.app_context():
        report = app.extensions["stask.service"].schedules.fire_due(at)
        app.extensions["stask"].db.session.remove()
    return report


def next_run(schedule: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(schedule["next_run_at"].rstrip("Z"))


def panel_schedules(app: Flask) -> list[StoredSchedule]:
    return [row for row in rows(app, StoredSchedule) if row.source != "code"]


def test_a_slot_runs_the_preset_as_it_is_now_with_the_schedule_data_merged(api: FlaskClient, preset_app: Flask) -> None:
    preset_id = add_preset(api, priority="high")
    schedule = add_schedule(api, preset_id=preset_id, data={"rows": 9}, overlap="allow")
    assert (schedule["preset_id"], schedule["identifier"], schedule["action"]) == (preset_id, "report", "build")
    assert (schedule["priority"], schedule["data"]) == ("high", {"rows": 9})  # its own data: the overrides
    slot = next_run(schedule)
    report = fire(preset_app, slot + timedelta(seconds=1))
    assert len(report.created) == 1
    task = next(row for row in rows(preset_app, Task) if row.id == report.created[0])
    assert (task.identifier, task.action, task.priority) == ("report", "build", "high")
    assert task.data == {"rows": 9, "title": "W"}
    # A live reference: the preset's new data and priority are the next slot's.
    changed = api.put(
        f"/stask/api/presets/{preset_id}",
        json={"data": {"title": "New", "format": "json"}, "priority": "low"},
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.get_json()
    listed = api.get(f"/stask/api/schedules/{schedule['id']}", headers=ADMIN).get_json()["schedule"]
    assert listed["priority"] == "low"  # kept in step with the preset
    report = fire(preset_app, slot + timedelta(seconds=3601))
    task = next(row for row in rows(preset_app, Task) if row.id == report.created[0])
    assert task.priority == "low" and task.data == {"title": "New", "format": "json", "rows": 9}
    # Run now takes the preset too.
    ran = api.post(f"/stask/api/schedules/{schedule['id']}/run", headers=ADMIN).get_json()["task"]
    assert (ran["priority"], ran["data"]) == ("low", {"title": "New", "format": "json", "rows": 9})


def test_bad_references_and_merged_data_are_refused_and_nothing_is_stored(api: FlaskClient, preset_app: Flask) -> None:
    preset_id = add_preset(api)
    assert refused(api, {"preset_id": preset_id, "data": {"rows": 0}}).startswith("data.rows")
    assert refused(api, {"preset_id": preset_id, "data": {"format": "xml"}}).startswith("data.format")
    assert refused(api, {"preset_id": preset_id + 100}).startswith("preset_id")
    assert refused(api, {"preset_id": preset_id, "identifier": "echo", "action": "say"}).startswith("identifier")
    assert refused(api, {"preset_id": preset_id, "action": "other"}).startswith("action")
    assert panel_schedules(preset_app) == []
    # Given and equal is fine; so is an update that keeps the preset.
    schedule = add_schedule(api, preset_id=preset_id, identifier="report", action="build", priority="normal")
    url = f"/stask/api/schedules/{schedule['id']}"
    response = api.put(url, json={"data": {"rows": 5000}}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    assert response.get_json()["error"]["message"].startswith("data.rows")
    assert api.put(url, json={"name": "renamed"}, headers=ADMIN).status_code == 200
    assert [row.data for row in panel_schedules(preset_app)] == [{}]
    detached = api.put(url, json={"preset_id": None}, headers=ADMIN).get_json()["schedule"]
    assert detached["preset_id"] is None and detached["identifier"] == "report"


def test_a_preset_in_use_cannot_be_deleted(api: FlaskClient, preset_app: Flask) -> None:
    preset_id = add_preset(api)
    first = add_schedule(api, preset_id=preset_id)
    second = add_schedule(api, preset_id=preset_id, name="again")
    response = api.delete(f"/stask/api/presets/{preset_id}", headers=ADMIN)
    assert error_code(response, 409) == "preset_in_use"
    assert f"{first['id']}, {second['id']}" in response.get_json()["error"]["message"]
    assert [row.id for row in rows(preset_app, Preset)] == [preset_id]
    for schedule in (first, second):
        assert api.delete(f"/stask/api/schedules/{schedule['id']}", headers=ADMIN).status_code == 200
    assert api.delete(f"/stask/api/presets/{preset_id}", headers=ADMIN).status_code == 200


def test_a_preset_edited_into_a_conflict_consumes_the_slot_without_a_task(api: FlaskClient, preset_app: Flask) -> None:
    preset_id = add_preset(api, data={})
    schedule = add_schedule(api, preset_id=preset_id, data={"format": "csv"})
    # The preset is changed (here by hand, as an edit racing the check could) into data that,
    # merged with the schedule's, no longer fits the action's fields.
    with preset_app.app_context():
        db = preset_app.extensions["stask"].db
        db.session.execute(sa.update(Preset).where(Preset.id == preset_id).values(data={"rows": 0}))
        db.session.commit()
        db.session.remove()
    slot = next_run(schedule)
    report = fire(preset_app, slot + timedelta(seconds=1))
    assert report.created == [] and report.skipped == 1
    (row,) = panel_schedules(preset_app)
    assert row.next_run_at == slot + timedelta(seconds=3600)  # the slot is consumed
    assert row.last_skip_reason is not None and "data.rows" in row.last_skip_reason
    assert [task for task in rows(preset_app, Task) if task.schedule_id == row.id] == []


@pytest.mark.parametrize("backend", ["sqlite"])  # the CLI is the same adapter on every database
def test_the_cli_takes_a_preset(api: FlaskClient, preset_app: Flask) -> None:
    preset_id = add_preset(api)
    runner = preset_app.test_cli_runner()

    def cli(*args: str) -> Any:
        return runner.invoke(args=["stask", "schedule", *args])

    refused = cli("add", "echo", "say", "--interval", "60", "--preset", str(preset_id))
    assert refused.exit_code == 1 and "identifier: preset" in refused.output
    bad = cli("add", "report", "build", "--interval", "60", "--preset", str(preset_id), "--data", '{"rows": 0}')
    assert bad.exit_code == 1 and "data.rows" in bad.output
    added = cli("add", "report", "build", "--interval", "60", "--preset", str(preset_id), "--data", '{"rows": 7}')
    assert added.exit_code == 0, added.output
    (row,) = panel_schedules(preset_app)
    assert (row.preset_id, row.data) == (preset_id, {"rows": 7})
    assert cli("update", str(row.id), "--preset", str(preset_id + 9)).exit_code == 1
    removed = runner.invoke(args=["stask", "preset", "remove", str(preset_id)])
    assert removed.exit_code == 1 and f"schedule(s) {row.id}" in removed.output


@pytest.mark.parametrize("backend", ["sqlite"])  # the panel is the same adapter on every database
def test_the_panel_form_picks_a_preset(api: FlaskClient, preset_app: Flask) -> None:
    preset_id = add_preset(api, priority="high")
    client = preset_app.test_client()
    token = login(client)
    listed = client.get("/stask/presets").get_data(as_text=True)
    assert f"/stask/schedules/new?preset_id={preset_id}" in listed
    form = client.get(f"/stask/schedules/new?preset_id={preset_id}").get_data(as_text=True)
    assert f'<option value="{preset_id}" selected>weekly (report.build)</option>' in form
    post = {
        "csrf_token": token,
        "name": "",
        "preset_id": str(preset_id),
        "identifier": "echo",  # the worker select's value is ignored: the preset's is taken
        "action": "say",
        "priority": "normal",
        "data": '{"rows": 2000}',
        "kind": "interval",
        "interval": "600",
        "timezone": "UTC",
        "misfire": "run_once",
        "overlap": "skip",
        "jitter": "0",
        "enabled": "1",
    }
    refused = client.post("/stask/schedules/new", data=post)
    assert refused.status_code == 400 and "data.rows" in refused.get_data(as_text=True)
    saved = client.post("/stask/schedules/new", data={**post, "data": '{"rows": 20}'})
    assert saved.status_code == 303, saved.get_data(as_text=True)
    (row,) = panel_schedules(preset_app)
    assert (row.preset_id, row.identifier, row.action, row.priority) == (preset_id, "report", "build", "high")
    edit = client.get(f"/stask/schedules/{row.id}/edit").get_data(as_text=True)
    assert f'<option value="{preset_id}" selected>' in edit
    kept = client.post(f"/stask/presets/{preset_id}/delete", data={"csrf_token": token})
    assert kept.status_code == 303
    assert "is run by schedule(s)" in client.get("/stask/presets").get_data(as_text=True)
    assert [preset.id for preset in rows(preset_app, Preset)] == [preset_id]
