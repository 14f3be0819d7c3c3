"""The triggers' management API: the contract, tokens shown once and stored hashed, changes,
rotation, presets, roles and audit rows. On every database."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.models import AuditEntry, Preset, Task, Trigger, TriggerCall
from tests.support.api import ADMIN, READONLY, error_code, run_all
from tests.triggers.helpers import REPORT, TRIGGER_CONFIG, call, count, create_trigger, rows

CONTRACT = {
    "id",
    "name",
    "identifier",
    "action",
    "preset_id",
    "token_prefix",
    "signed",
    "rate_limit",
    "enabled",
    "created_by",
    "created_at",
    "updated_at",
    "last_called_at",
    "calls",
}


@pytest.fixture
def triggers_app(backend: str, make_app: Callable[..., Flask]) -> Flask:
    return make_app(backend, discover=True, **TRIGGER_CONFIG)


@pytest.fixture
def api(triggers_app: Flask) -> FlaskClient:
    return triggers_app.test_client()


def audit_rows(app: Flask) -> list[tuple[str, str | None, dict[str, Any]]]:
    with app.app_context():
        db = app.extensions["stask"].db
        found = db.session.execute(
            sa.select(AuditEntry.action, AuditEntry.target, AuditEntry.details).order_by(AuditEntry.id)
        ).all()
        db.session.remove()
    return [(row.action, row.target, row.details or {}) for row in found]


def test_create_answers_the_token_and_url_once_and_stores_only_their_hash(
    api: FlaskClient, triggers_app: Flask
) -> None:
    created = create_trigger(api, signed=True, rate_limit=5)
    token, secret, trigger = created["token"], created["secret"], created["trigger"]
    assert set(created) == {"success", "id", "token", "url", "secret", "trigger"} and created["id"] == trigger["id"]
    assert len(token) == 43 and created["url"] == f"http://localhost/stask/hooks/{token}"
    assert set(trigger) == CONTRACT
    assert (trigger["identifier"], trigger["action"], trigger["preset_id"]) == ("report", "build", None)
    assert (trigger["signed"], trigger["rate_limit"], trigger["enabled"], trigger["calls"]) == (True, 5, True, 0)
    assert trigger["token_prefix"] == token[:6] and trigger["created_by"] == "api"
    (row,) = rows(triggers_app, Trigger)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.secret == secret
    assert token not in {row.token_hash, row.token_prefix, row.secret, row.name}
    default = create_trigger(api, name="plain")
    assert "secret" not in default and default["trigger"]["rate_limit"] == 60  # STASK_TRIGGER_RATE_LIMIT
    assert default["token"] != token


def test_no_read_answer_shows_a_token_its_hash_or_the_secret(api: FlaskClient, triggers_app: Flask) -> None:
    created = create_trigger(api, signed=True)
    (row,) = rows(triggers_app, Trigger)
    secrets = (created["token"], created["secret"], row.token_hash)
    answers = [
        api.get("/stask/api/triggers", headers=READONLY),
        api.get(f"/stask/api/triggers/{created['id']}", headers=READONLY),
        api.put(f"/stask/api/triggers/{created['id']}", json={"rate_limit": 9}, headers=ADMIN),
        api.get("/stask/api/audit", headers=READONLY),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert not any(secret in answer.get_data(as_text=True) for secret in secrets), answer.request.path


def test_list_get_update_delete(api: FlaskClient, triggers_app: Flask) -> None:
    first = create_trigger(api, name="b-side")
    second = create_trigger(api, name="a-side", identifier="echo", action="say")
    listed = api.get("/stask/api/triggers", headers=READONLY).get_json()
    assert [item["name"] for item in listed["items"]] == ["a-side", "b-side"]  # by name
    assert (listed["total"], listed["page"], listed["per_page"], listed["pages"]) == (2, 1, 50, 1)
    one = api.get("/stask/api/triggers?identifier=report&per_page=1", headers=READONLY).get_json()
    assert [item["id"] for item in one["items"]] == [first["id"]] and one["total"] == 1
    url = f"/stask/api/triggers/{first['id']}"
    assert api.get(url, headers=READONLY).get_json()["trigger"] == first["trigger"]
    changed = api.put(url, json={"name": "renamed", "enabled": False, "rate_limit": 7}, headers=ADMIN).get_json()
    trigger = changed["trigger"]
    assert (trigger["name"], trigger["enabled"], trigger["rate_limit"]) == ("renamed", False, 7)
    assert "secret" not in changed and "token" not in changed
    moved = api.put(url, json={"identifier": "echo", "action": "say"}, headers=ADMIN).get_json()["trigger"]
    assert (moved["identifier"], moved["action"]) == ("echo", "say")
    assert api.delete(url, headers=ADMIN).get_json() == {"success": True, "id": first["id"]}
    assert error_code(api.get(url, headers=READONLY), 404) == "trigger_not_found"
    assert count(triggers_app, Trigger) == 1 and second["id"] != first["id"]


def test_a_call_starts_the_action_with_the_body_as_its_data(api: FlaskClient, triggers_app: Flask) -> None:
    created = create_trigger(api)
    response = call(api, created["token"], {"rows": 3, "format": "json", "extra": [1, 2]})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"success", "id", "status_url"}
    assert body["status_url"] == f"http://localhost/stask/hooks/{created['token']}/tasks/{body['id']}"
    (task,) = rows(triggers_app, Task)
    assert (task.id, task.identifier, task.action, task.priority) == (body["id"], "report", "build", "normal")
    assert task.data == {"rows": 3, "format": "json", "extra": [1, 2]}
    assert task.meta == {"trigger_id": created["id"]}
    run_all(triggers_app)
    status = api.get(body["status_url"].removeprefix("http://localhost")).get_json()
    assert status["status_text"] == "finished" and status["message"] == "None: 3 rows as json"
    trigger = api.get(f"/stask/api/triggers/{created['id']}", headers=READONLY).get_json()["trigger"]
    assert trigger["calls"] == 1 and trigger["last_called_at"] is not None
    (logged,) = rows(triggers_app, TriggerCall)
    assert (logged.status, logged.task_id, logged.error, logged.client) == (201, body["id"], None, "127.0.0.1")


def test_a_preset_trigger_merges_the_body_over_the_presets_data(api: FlaskClient, triggers_app: Flask) -> None:
    preset = api.post(
        "/stask/api/presets",
        json={"name": "weekly", "identifier": "report", "action": "build", "data": {"rows": 5, "title": "W"}},
        headers=ADMIN,
    ).get_json()["preset"]
    api.put(f"/stask/api/presets/{preset['id']}", json={"priority": "high"}, headers=ADMIN)
    created = create_trigger(api, identifier=None, action=None, preset_id=preset["id"])
    assert (created["trigger"]["identifier"], created["trigger"]["action"]) == ("report", "build")
    response = call(api, created["token"], {"rows": 9})
    assert response.status_code == 201, response.get_json()
    (task,) = rows(triggers_app, Task)
    assert (task.data, task.priority) == ({"rows": 9, "title": "W"}, "high")
    refused = call(api, created["token"], {"format": "xml"})  # the merged data is checked
    assert error_code(refused, 400) == "invalid_input" and count(triggers_app, Task) == 1
    deleting = api.delete(f"/stask/api/presets/{preset['id']}", headers=ADMIN)
    assert error_code(deleting, 409) == "preset_in_use"
    assert f"trigger(s) {created['id']}" in deleting.get_json()["error"]["message"]
    assert count(triggers_app, Preset) == 1
    api.put(f"/stask/api/presets/{preset['id']}", json={"identifier": "echo", "action": "say"}, headers=ADMIN)
    synced = api.get(f"/stask/api/triggers/{created['id']}", headers=READONLY).get_json()["trigger"]
    assert (synced["identifier"], synced["action"]) == ("echo", "say")  # kept in step, as schedules are
    alone = api.put(f"/stask/api/triggers/{created['id']}", json={"preset_id": None}, headers=ADMIN).get_json()
    assert alone["trigger"]["preset_id"] is None
    assert api.delete(f"/stask/api/presets/{preset['id']}", headers=ADMIN).status_code == 200


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"identifier": "ghost"}, "identifier"),
        ({"action": "fly"}, "action"),
        ({"identifier": "Not Valid"}, "identifier"),
        ({"action": None}, "action"),
        ({"name": ""}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_limit": 100_001}, "rate_limit"),
        ({"rate_limit": "5"}, "rate_limit"),
        ({"rate_limit": True}, "rate_limit"),
        ({"signed": "yes"}, "signed"),
        ({"enabled": 1}, "enabled"),
        ({"preset_id": 99}, "preset_id"),
        ({"preset_id": 0}, "preset_id"),
        ({"token": "mine"}, "token"),
    ],
)
def test_bad_fields_are_a_400_and_store_nothing(
    api: FlaskClient, triggers_app: Flask, fields: dict[str, Any], field: str
) -> None:
    response = api.post("/stask/api/triggers", json={**REPORT, **fields}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"
    assert field in response.get_json()["error"]["message"]
    assert count(triggers_app, Trigger) == 0 and audit_rows(triggers_app) == []


def test_a_taken_name_is_a_409(api: FlaskClient, triggers_app: Flask) -> None:
    first = create_trigger(api)
    assert error_code(api.post("/stask/api/triggers", json=REPORT, headers=ADMIN), 409) == "trigger_name_taken"
    other = create_trigger(api, name="other")
    renamed = api.put(f"/stask/api/triggers/{other['id']}", json={"name": REPORT["name"]}, headers=ADMIN)
    assert error_code(renamed, 409) == "trigger_name_taken"
    assert [row.name for row in rows(triggers_app, Trigger)] == ["deploy", "other"] and first["id"]


def test_rotate_stops_the_old_token_at_once(api: FlaskClient, triggers_app: Flask) -> None:
    created = create_trigger(api, signed=True)
    url = f"/stask/api/triggers/{created['id']}/rotate"
    rotated = api.post(url, headers=ADMIN).get_json()
    assert set(rotated) == {"success", "id", "token", "url", "trigger"}  # the secret is kept (not shown)
    assert rotated["token"] != created["token"] and rotated["trigger"]["token_prefix"] == rotated["token"][:6]
    assert call(api, created["token"], {}).status_code == 404
    (row,) = rows(triggers_app, Trigger)
    assert row.secret == created["secret"]
    new_secret = api.post(url, json={"secret": True}, headers=ADMIN).get_json()
    assert new_secret["secret"] != created["secret"]
    plain = create_trigger(api, name="plain")
    refused = api.post(f"/stask/api/triggers/{plain['id']}/rotate", json={"secret": True}, headers=ADMIN)
    assert error_code(refused, 409) == "invalid_state"
    assert error_code(api.post(url, json={"secret": "yes"}, headers=ADMIN), 400) == "invalid_input"


def test_turning_signed_on_answers_a_secret_once_and_off_forgets_it(api: FlaskClient, triggers_app: Flask) -> None:
    created = create_trigger(api)
    url = f"/stask/api/triggers/{created['id']}"
    turned = api.put(url, json={"signed": True}, headers=ADMIN).get_json()
    assert turned["trigger"]["signed"] is True and len(turned["secret"]) == 43
    again = api.put(url, json={"signed": True, "rate_limit": 3}, headers=ADMIN).get_json()
    assert "secret" not in again  # already signed: the same secret, not shown
    assert rows(triggers_app, Trigger)[0].secret == turned["secret"]
    api.put(url, json={"signed": False}, headers=ADMIN)
    assert rows(triggers_app, Trigger)[0].secret is None


def test_delete_stops_the_url_and_removes_the_call_log(api: FlaskClient, triggers_app: Flask) -> None:
    created = create_trigger(api)
    assert call(api, created["token"], {"rows": 2}).status_code == 201
    assert call(api, created["token"], {"rows": "x"}).status_code == 400
    assert count(triggers_app, TriggerCall) == 2
    api.delete(f"/stask/api/triggers/{created['id']}", headers=ADMIN)
    assert call(api, created["token"], {}).status_code == 404
    assert count(triggers_app, TriggerCall) == 0 and count(triggers_app, Task) == 1  # its tasks are kept


def test_management_needs_credentials_and_changes_need_the_admin_role(api: FlaskClient, triggers_app: Flask) -> None:
    trigger_id = create_trigger(api)["id"]
    one = f"/stask/api/triggers/{trigger_id}"
    requests = [
        ("get", "/stask/api/triggers", None),
        ("get", one, None),
        ("post", "/stask/api/triggers", {**REPORT, "name": "x"}),
        ("put", one, {"enabled": False}),
        ("delete", one, None),
        ("post", f"{one}/rotate", None),
    ]
    for method, path, body in requests:
        anonymous = getattr(api, method)(path, json=body)
        assert error_code(anonymous, 401) == "unauthorized", (method, path)
        readonly = getattr(api, method)(path, json=body, headers=READONLY)
        if method == "get":
            assert readonly.status_code == 200, (method, path)
        else:
            assert error_code(readonly, 403) == "forbidden", (method, path)
    assert count(triggers_app, Trigger) == 1 and rows(triggers_app, Trigger)[0].enabled


def test_every_change_leaves_an_audit_row_without_secrets(api: FlaskClient, triggers_app: Flask) -> None:
    created = create_trigger(api, signed=True)
    one = f"/stask/api/triggers/{created['id']}"
    api.put(one, json={"enabled": False}, headers=ADMIN)
    api.post(f"{one}/rotate", headers=ADMIN)
    api.delete(one, headers=ADMIN)
    target = f"trigger:{created['id']}"
    found = audit_rows(triggers_app)
    assert [(action, where) for action, where, _ in found] == [
        ("trigger.create", target),
        ("trigger.update", target),
        ("trigger.rotate", target),
        ("trigger.delete", target),
    ]
    assert found[0][2] == {"name": "deploy", "identifier": "report", "action": "build"}
    assert found[1][2]["fields"] == ["enabled"]
    assert created["token"] not in str(found) and created["secret"] not in str(found)


def test_a_trigger_whose_worker_is_gone_can_still_be_disabled(api: FlaskClient, triggers_app: Flask) -> None:
    created = create_trigger(api, identifier="echo", action="say")
    with triggers_app.app_context():
        db = triggers_app.extensions["stask"].db
        db.session.execute(sa.update(Trigger).values(identifier="gone", action="away"))
        db.session.commit()
        db.session.remove()
    refused = call(api, created["token"], {})
    assert error_code(refused, 409) == "target_unavailable" and count(triggers_app, Task) == 0
    url = f"/stask/api/triggers/{created['id']}"
    disabled = api.put(url, json={"enabled": False}, headers=ADMIN)
    assert disabled.status_code == 200 and disabled.get_json()["trigger"]["enabled"] is False
    assert error_code(api.put(url, json={"enabled": "no"}, headers=ADMIN), 400) == "invalid_input"
    renamed = api.put(url, json={"name": "other"}, headers=ADMIN)  # a whole change is validated whole
    assert error_code(renamed, 400) == "invalid_input" and "identifier" in renamed.get_json()["error"]["message"]
    (logged,) = rows(triggers_app, TriggerCall)
    assert (logged.status, logged.task_id) == (409, None) and "no longer registered" in logged.error
