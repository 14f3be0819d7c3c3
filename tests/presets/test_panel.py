"""The presets in the panel: the list, save as preset from a task and from the run form, one-click
run from the worker card, edit and delete, field errors in place, escaping, the read-only role."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.models import Preset, Task
from tests.presets.plugins import PRESET_CONFIG
from tests.support.api import READONLY_PASSWORD, login
from tests.support.queries import Statements

XSS = "<script>alert('x')</script>"


@pytest.fixture
def panel_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app("sqlite", discover=True, **PRESET_CONFIG)


def signed_in(app: Flask, password: str | None = None) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = login(client) if password is None else login(client, password)
    return client, token


def presets(app: Flask) -> list[Preset]:
    with app.app_context():
        db = app.extensions["stask"].db
        rows = list(db.session.scalars(sa.select(Preset).order_by(Preset.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def tasks(app: Flask) -> list[Task]:
    with app.app_context():
        db = app.extensions["stask"].db
        rows = list(db.session.scalars(sa.select(Task).order_by(Task.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def stored(app: Flask, **fields: Any) -> int:
    with app.app_context():
        service = app.extensions["stask"].service
        preset_id = service.presets.create(
            {"name": "weekly", "identifier": "report", "action": "build", "data": {"rows": 5}, **fields}
        ).id
        app.extensions["stask"].db.session.remove()
    return int(preset_id)


def test_pages_render_and_escape_names(panel_app: Flask) -> None:
    preset_id = stored(panel_app, name=XSS, data={"title": XSS})
    client, _ = signed_in(panel_app)
    for url in ("/stask/presets", f"/stask/presets/{preset_id}/edit", "/stask/presets/new", "/stask/workers"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert XSS not in response.text, url
    listing = client.get("/stask/presets").text
    assert "&lt;script&gt;" in listing and 'href="/stask/presets"' in listing  # the nav link


def test_save_as_preset_from_a_task_page(panel_app: Flask) -> None:
    with panel_app.app_context():
        task = panel_app.extensions["stask"].create("report", "build", {"rows": 42, "format": "json"}, priority="low")
        task_id = task.id
        panel_app.extensions["stask"].db.session.remove()
    client, token = signed_in(panel_app)
    page = client.get(f"/stask/tasks/{task_id}").text
    assert 'id="save-preset"' in page and "Save as preset" in page
    response = client.post("/stask/presets/new", data={"csrf_token": token, "task_id": task_id, "name": "answer"})
    assert response.status_code == 303, response.text
    [preset] = presets(panel_app)
    assert (preset.name, preset.identifier, preset.action, preset.data, preset.priority) == (
        "answer",
        "report",
        "build",
        {"rows": 42, "format": "json"},
        "low",
    )
    again = client.post("/stask/presets/new", data={"csrf_token": token, "task_id": task_id, "name": "answer"})
    assert again.status_code == 400
    assert "Another preset of this worker has this name." in again.text and 'value="answer"' in again.text
    prefilled = client.get(f"/stask/presets/new?task={task_id}").text
    assert "&#34;rows&#34;: 42" in prefilled or "&quot;rows&quot;: 42" in prefilled


def test_save_as_preset_from_the_run_form_stores_and_starts_nothing(panel_app: Flask) -> None:
    client, token = signed_in(panel_app)
    form = {"csrf_token": token, "rows": "12", "format": "json", "title": "T", "priority": "high"}
    response = client.post(
        "/stask/workers/report/run/build", data={**form, "intent": "preset", "preset_name": "twelve"}
    )
    assert response.status_code == 303, response.text
    [preset] = presets(panel_app)
    assert (preset.name, preset.data, preset.priority) == (
        "twelve",
        {"rows": 12, "format": "json", "title": "T"},
        "high",
    )
    assert tasks(panel_app) == []
    htmx = client.post(
        "/stask/workers/report/run/build",
        data={**form, "rows": "5000", "intent": "preset", "preset_name": "too many"},
        headers={"HX-Request": "true"},
    )
    assert 'class="field has-error' in htmx.text and "Must be at most 1000." in htmx.text
    nameless = client.post(
        "/stask/workers/report/run/build", data={**form, "intent": "preset"}, headers={"HX-Request": "true"}
    )
    assert "Give the preset a name." in nameless.text
    assert len(presets(panel_app)) == 1 and tasks(panel_app) == []
    started = client.post("/stask/workers/report/run/build", data=form)  # the first button still runs
    assert started.status_code == 303 and len(tasks(panel_app)) == 1


def test_run_from_the_worker_card_and_the_list(panel_app: Flask) -> None:
    preset_id = stored(panel_app)
    client, token = signed_in(panel_app)
    card = client.get("/stask/workers").text
    assert f'action="/stask/presets/{preset_id}/run"' in card and "weekly" in card
    response = client.post(f"/stask/presets/{preset_id}/run", data={"csrf_token": token, "back": "workers"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/stask/workers#worker-report")
    [task] = tasks(panel_app)
    assert (task.identifier, task.action, task.data) == ("report", "build", {"rows": 5})
    flashed = client.get("/stask/workers").text
    assert f'<a href="/stask/tasks/{task.id}">#{task.id}</a>' in flashed
    from_list = client.post(f"/stask/presets/{preset_id}/run", data={"csrf_token": token})
    assert from_list.headers["Location"].endswith(f"/stask/presets#preset-{preset_id}")
    assert len(tasks(panel_app)) == 2


def test_the_cards_read_presets_in_one_statement(panel_app: Flask) -> None:
    """Presets of every worker come from one SELECT, however many cards and presets."""
    client, _ = signed_in(panel_app)
    client.get("/stask/workers")
    with Statements(panel_app) as before:
        client.get("/stask/workers")
    for index in range(3):
        stored(panel_app, name=f"p{index}")
        stored(panel_app, name=f"e{index}", identifier="echo", action="say", data={})
    with Statements(panel_app) as after:
        page = client.get("/stask/workers").text
    assert page.count('action="/stask/presets/') == 6
    assert len([s for s in after.statements if "s_presets" in s]) == 1
    assert after.count == before.count


def test_edit_shows_field_errors_in_place_and_delete(panel_app: Flask) -> None:
    preset_id = stored(panel_app)
    client, token = signed_in(panel_app)
    url = f"/stask/presets/{preset_id}/edit"
    base = {"csrf_token": token, "name": "weekly", "identifier": "report", "action": "build", "priority": "normal"}
    bad = client.post(url, data={**base, "data": '{"rows": 0}'})
    assert bad.status_code == 400
    assert re.search(r'field wide has-error">\s*<label for="preset-data"', bad.text) and "data.rows" in bad.text
    not_json = client.post(url, data={**base, "data": "{rows"})
    assert not_json.status_code == 400 and "Enter a JSON object" in not_json.text
    good = client.post(url, data={**base, "name": "renamed", "data": '{"rows": 8}'})
    assert good.status_code == 303
    assert (presets(panel_app)[0].name, presets(panel_app)[0].data) == ("renamed", {"rows": 8})
    assert client.post(f"/stask/presets/{preset_id}/delete", data={"csrf_token": token}).status_code == 303
    assert presets(panel_app) == []


def test_read_only_sees_no_controls_and_is_refused(panel_app: Flask) -> None:
    preset_id = stored(panel_app)
    with panel_app.app_context():
        task_id = panel_app.extensions["stask"].create("report", "build", {}).id
        panel_app.extensions["stask"].db.session.remove()
    client, token = signed_in(panel_app, READONLY_PASSWORD)
    listing = client.get("/stask/presets").text
    assert "weekly" in listing and f"/stask/presets/{preset_id}/run" not in listing and "New preset" not in listing
    assert f"/stask/presets/{preset_id}/run" not in client.get("/stask/workers").text
    assert 'id="save-preset"' not in client.get(f"/stask/tasks/{task_id}").text
    for url, data in (
        (f"/stask/presets/{preset_id}/run", {}),
        (f"/stask/presets/{preset_id}/delete", {}),
        (f"/stask/presets/{preset_id}/edit", {"name": "x", "identifier": "report", "action": "build"}),
        ("/stask/presets/new", {"task_id": task_id, "name": "x"}),
        ("/stask/workers/report/run/build", {"intent": "preset", "preset_name": "x"}),
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert [p.name for p in presets(panel_app)] == ["weekly"] and len(tasks(panel_app)) == 1
