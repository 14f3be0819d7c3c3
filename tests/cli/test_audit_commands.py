"""``flask stask`` commands that change state are audited, with the OS user as the actor."""

from __future__ import annotations

import getpass

from flask import Flask

from stask import Status
from tests.support.api import set_row
from tests.support.audit import actions, entries


def test_cli_changes_are_recorded_with_the_os_user(sqlite_app: Flask) -> None:
    runner = sqlite_app.test_cli_runner()

    def cli(*args: str) -> str:
        result = runner.invoke(args=["stask", *args])
        assert result.exit_code == 0, result.output
        return str(result.output)

    task_id = int(cli("create", "echo", "say", "--priority", "low").strip())
    cli("cancel", str(task_id))
    cli("retry", str(task_id))
    set_row(sqlite_app, task_id, status=int(Status.RUNNING), attempts=1)
    cli("cancel", str(task_id))
    set_row(sqlite_app, task_id, status=int(Status.FINISHED))
    cli("deactivate", "echo")
    cli("activate", "echo")
    cli("discover")
    cli("cleanup", "--days", "0")
    assert runner.invoke(args=["stask", "retry", "999999"]).exit_code != 0  # refused: no row
    assert actions(sqlite_app) == [
        "task.create",
        "task.cancel",
        "task.retry",
        "task.stop",
        "worker.deactivate",
        "worker.activate",
        "worker.discover",
        "task.cleanup",
    ]
    rows = entries(sqlite_app)
    assert {(row["actor_role"], row["actor_kind"], row["actor"], row["client"]) for row in rows} == {
        ("admin", "cli", f"cli:{getpass.getuser()}", "local")
    }
    by_action = {row["action"]: row for row in rows}
    assert by_action["task.create"]["details"] == {"identifier": "echo", "action": "say", "priority": "low"}
    assert by_action["task.cleanup"]["details"] == {"days": 0, "count": 1}
    assert by_action["worker.activate"]["target"] == "worker:echo"
