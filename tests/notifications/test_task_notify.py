"""``notify=[...]`` on one task, through the JSON API, the run path and the CLI: the task's own
rules are stored with it (or nothing is), follow only its events, and never echo a secret."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask

from stask.models import Notification, Task
from tests.support.api import ADMIN
from tests.support.apps import run_worker
from tests.support.receivers import WebhookReceiver
from tests.support.tasks import fresh


def _count(app: Flask, model: Any) -> int:
    with app.app_context():
        session = app.extensions["stask"].db.session
        number = int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
        session.remove()
        return number


def test_a_tasks_own_rules_tell_only_its_events(make_api_app: Any, webhook_receiver: WebhookReceiver) -> None:
    app = make_api_app(STASK_WEBHOOK_ALLOW_PRIVATE=True)
    client = app.test_client()
    hook = webhook_receiver.url()
    body = {
        "identifier": "echo",
        "action": "say",
        "notify": [hook, {"url": hook + "/failures", "events": ["failed"], "secret": "own-secret"}],
    }
    created = client.post("/stask/api/tasks", json=body, headers=ADMIN)
    assert created.status_code == 201, created.get_json()
    other = client.post("/stask/api/tasks", json={"identifier": "echo", "action": "say"}, headers=ADMIN)
    task_id, other_id = created.get_json()["id"], other.get_json()["id"]
    with app.app_context():
        run_worker(app)
        stask = app.extensions["stask"]
        assert fresh(stask, task_id).notify is True and fresh(stask, other_id).notify is False
    [request] = webhook_receiver.wait_for(1)
    assert request.path == "/hook" and json.loads(request.body)["task"]["id"] == task_id
    listed = client.get(f"/stask/api/notifications?task_id={task_id}", headers=ADMIN).get_json()
    rules = listed["items"]
    assert [r["name"] for r in rules] == [f"task {task_id} #1", f"task {task_id} #2"]
    assert all(r["secret"] is None for r in rules) and [r["secret_set"] for r in rules] == [False, True]
    assert "own-secret" not in json.dumps(listed)


def test_a_bad_notify_item_is_a_400_naming_it_and_stores_nothing(make_api_app: Any) -> None:
    app = make_api_app()
    client = app.test_client()
    for notify in (["not an address"], [{"url": "ftp://x.example"}], "ops@example.com", [1]):
        answer = client.post(
            "/stask/api/tasks", json={"identifier": "echo", "action": "say", "notify": notify}, headers=ADMIN
        )
        assert answer.status_code == 400, (notify, answer.get_json())
        assert "notify" in answer.get_json()["error"]["message"]
    assert _count(app, Task) == 0 and _count(app, Notification) == 0


def test_the_run_path_and_the_cli_take_notify(make_api_app: Any) -> None:
    app = make_api_app()
    client = app.test_client()
    ran = client.post("/stask/worker/echo/run/say", json={"notify": ["ops@example.com"]}, headers=ADMIN)
    assert ran.status_code == 201, ran.get_json()
    result = app.test_cli_runner().invoke(
        args=["stask", "create", "echo", "say", "--notify", "https://hooks.example.com/x", "--notify", "a@b.example"]
    )
    assert result.exit_code == 0, result.output
    refused = app.test_cli_runner().invoke(args=["stask", "create", "echo", "say", "--notify", "nobody"])
    assert refused.exit_code != 0 and "notify" in refused.output and "Traceback" not in refused.output
    with app.app_context():
        session = app.extensions["stask"].db.session
        channels = sorted(session.scalars(sa.select(Notification.channel)))
        session.remove()
    assert channels == ["email", "email", "webhook"]
