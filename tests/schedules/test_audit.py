"""Schedule changes made by people and tokens are rows of the audit log (``schedule:<id>``):
from the API and from the CLI, one each, naming the fields changed and never their values."""

from __future__ import annotations

import json

from flask import Flask

from tests.support.api import ADMIN, error_code
from tests.support.audit import actions, entries


def test_each_schedule_change_through_the_api_is_one_row(api_app_any: Flask) -> None:
    app = api_app_any
    client = app.test_client()
    body = {"identifier": "echo", "action": "say", "cron": "*/5 * * * *", "data": {"text": "private words"}}
    created = client.post("/stask/api/schedules", json=body, headers=ADMIN)
    assert created.status_code == 201, created.get_json()
    schedule_id = created.get_json()["id"]
    target = f"schedule:{schedule_id}"
    url = f"/stask/api/schedules/{schedule_id}"
    [row] = entries(app, action="schedule.create")
    assert (row["target"], row["actor_kind"], row["actor"]) == (target, "token", "token:admin#1")
    assert row["details"] == {"identifier": "echo", "action": "say"}

    changed = client.put(
        url, json={"interval": 120, "data": {"text": "other words"}, "name": "greeting"}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.get_json()
    [row] = entries(app, action="schedule.update")
    assert (row["target"], row["details"]) == (target, {"fields": ["cron", "data", "interval", "name"]})
    assert "words" not in json.dumps(row) and "greeting" not in json.dumps(row)  # names, never values

    assert error_code(client.put(url, json={"cron": "no cron"}, headers=ADMIN), 400) == "invalid_input"
    assert len(entries(app, action="schedule.update")) == 1  # a refused change records nothing

    for operation in ("pause", "resume"):
        assert client.post(f"{url}/{operation}", headers=ADMIN).status_code == 200
        assert [row["target"] for row in entries(app, action=f"schedule.{operation}")] == [target]
    ran = client.post(f"{url}/run", headers=ADMIN)
    assert ran.status_code == 201
    [row] = entries(app, action="schedule.run")
    assert (row["target"], row["details"]) == (target, {"task": ran.get_json()["id"]})
    assert client.delete(url, headers=ADMIN).status_code == 200
    assert [row["target"] for row in entries(app, action="schedule.delete")] == [target]
    assert [a for a in actions(app) if a.startswith("schedule.")] == [
        "schedule.create",
        "schedule.update",
        "schedule.pause",
        "schedule.resume",
        "schedule.run",
        "schedule.delete",
    ]


def test_each_schedule_change_from_the_cli_is_one_row(sqlite_app: Flask) -> None:
    runner = sqlite_app.test_cli_runner()

    def cli(*args: str) -> str:
        result = runner.invoke(args=["stask", *args])
        assert result.exit_code == 0, result.output
        return str(result.output).strip()

    schedule_id = cli("schedule", "add", "echo", "say", "--cron", "@hourly", "--data", '{"text": "private words"}')
    target = f"schedule:{schedule_id}"
    cli("schedule", "update", schedule_id, "--interval", "90", "--timezone", "Europe/Kyiv")
    cli("schedule", "pause", schedule_id)
    cli("schedule", "resume", schedule_id)
    task_id = int(cli("schedule", "run", schedule_id))
    cli("schedule", "remove", schedule_id)
    rows = [row for row in reversed(entries(sqlite_app)) if row["action"].startswith("schedule.")]
    assert [(row["action"], row["target"]) for row in rows] == [
        ("schedule.create", target),
        ("schedule.update", target),
        ("schedule.pause", target),
        ("schedule.resume", target),
        ("schedule.run", target),
        ("schedule.delete", target),
    ]
    assert {(row["actor_kind"], row["actor_role"]) for row in rows} == {("cli", "admin")}
    assert rows[0]["details"] == {"identifier": "echo", "action": "say"}
    assert rows[1]["details"] == {"fields": ["cron", "interval", "timezone"]}
    assert rows[4]["details"] == {"task": task_id}
    assert "words" not in json.dumps(rows)
