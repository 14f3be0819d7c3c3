"""``flask stask …`` through Flask's CLI runner: output, exit codes, refusals without tracebacks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from stask import Status
from tests.support.apps import run_worker


@pytest.fixture
def cli(sqlite_app: Flask) -> Any:
    runner = sqlite_app.test_cli_runner()

    def invoke(*args: str) -> Any:
        return runner.invoke(args=["stask", *args])

    return invoke


def test_create_prints_the_id_and_status_shows_the_task(cli: Any, sqlite_app: Flask) -> None:
    result = cli("create", "echo", "say", "--data", '{"text": "cli"}', "--priority", "high")
    assert result.exit_code == 0, result.output
    task_id = int(result.output.strip())
    run_worker(sqlite_app)
    result = cli("status", str(task_id))
    assert result.exit_code == 0
    assert f"task {task_id}: echo.say [high] finished 100%" in result.output
    assert "hello cli" in result.output
    data = json.loads(cli("status", str(task_id), "--json").output)
    assert data["status"] == Status.FINISHED and data["log_lines"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "nobody", "say"), "no worker 'nobody'"),
        (("create", "echo", "shout"), "has no action 'shout'"),
        (("create", "echo", "say", "--data", "{oops"), "--data is not valid JSON"),
        (("create", "echo", "say", "--data", "[1]"), "data must be a JSON object"),
        (("create", "echo", "say", "--start-at", "soon"), "not an ISO 8601 date-time"),
        (("create", "echo", "say", "--priority", "urgent"), "urgent"),
        (("status", "999999"), "no task 999999"),
        (("retry", "999999"), "no task 999999"),
        (("cancel", "abc"), "abc"),
        (("activate", "nobody"), "no worker 'nobody'"),
        (("cleanup", "--days", "-1"), "-1"),
        (("worker", "--queues", "urgent", "--burst"), "invalid priority 'urgent'"),
        (("worker", "--worker-class", "no.such:Class", "--burst"), "cannot use worker class"),
    ],
)
def test_refusals_exit_non_zero_with_a_message(
    cli: Any, sqlite_app: Flask, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    stask = sqlite_app.extensions["stask"]
    assert stask.get_stats()["total"] == 0


def test_stats_discover_workers_and_activation(cli: Any) -> None:
    assert json.loads(cli("stats", "--json").output)["active_workers"] == 8
    assert "8 valid worker(s)" in cli("discover").output
    refused = cli("deactivate", "notifier")  # stask's own: notifications rely on it
    assert refused.exit_code != 0 and "stays active" in refused.output
    assert cli("deactivate", "echo").exit_code == 0
    listing = cli("workers").output
    assert any(line.startswith("echo") and "inactive" in line for line in listing.splitlines())
    assert "is inactive" in cli("create", "echo", "say").output
    assert cli("activate", "echo").exit_code == 0


def test_cancel_retry_process_and_cleanup(cli: Any, sqlite_app: Flask) -> None:
    task_id = cli("create", "flaky", "give_up").output.strip()
    other = cli("create", "echo", "noop").output.strip()
    assert "cancelled" in cli("cancel", other).output
    result = cli("process")
    assert result.exit_code == 0 and "0 task(s) finished" in result.output
    assert "queued again" in cli("retry", task_id).output
    assert "already" in cli("cancel", other).output
    result = cli("cleanup", "--days", "0")
    assert result.exit_code == 0 and "1 task(s) deleted" in result.output
