"""``flask stask …`` while the database or Redis is unreachable: one line, exit status 1, no secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from stask.cli import first_line, stask_cli
from stask.engine.outages import EXIT_OUTAGE
from stask.service import current_stask
from tests.support.servers import RedisServer

#: Every command, with arguments that make it reach the database.
DATABASE_COMMANDS = [
    ("stats",),
    ("workers",),
    ("create", "echo", "say"),
    ("status", "1"),
    ("retry", "1"),
    ("cancel", "1"),
    ("cleanup",),
    ("discover",),
    ("activate", "echo"),
    ("deactivate", "echo"),
    ("process",),
    ("schedules",),
    ("schedule", "pause", "1"),
    ("presets",),
    ("preset", "run", "1"),
    ("group", "show", "1"),
    ("triggers", "list"),
    ("notifications", "list"),
    ("deliveries", "list"),
    ("rollups", "rebuild"),
]


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["stask", *args])


def assert_one_line_refusal(result: Any, prefix: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {prefix}"), result.output
    assert "Traceback" not in result.output and "sqlalche.me" not in result.output


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=lambda args: args[0])
def test_an_unreachable_database_is_a_one_line_refusal(app_without_database: Flask, args: tuple[str, ...]) -> None:
    assert_one_line_refusal(invoke(app_without_database, *args), "database unreachable: ")


def wrapped_by_clean_errors(function: Any) -> bool:
    while function is not None:
        if getattr(function, "refuses_cleanly", False):
            return True
        function = getattr(function, "__wrapped__", None)
    return False


def test_every_command_refuses_cleanly() -> None:
    """A new command without ``@clean_errors`` would print tracebacks during outages."""
    assert [name for name, command in stask_cli.commands.items() if not wrapped_by_clean_errors(command.callback)] == []
    assert {args[0] for args in DATABASE_COMMANDS} == set(stask_cli.commands) - {"worker", "sessions"}  # Redis only


def test_an_unreachable_redis_is_a_one_line_refusal(
    make_app: Callable[..., Flask], stoppable_redis: RedisServer
) -> None:
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url)
    stoppable_redis.stop()
    assert invoke(app, "create", "echo", "say").exit_code == 0  # stored; reconcile will enqueue it
    assert_one_line_refusal(invoke(app, "process"), "Redis unreachable: ")
    assert invoke(app, "stats").exit_code == 0  # SQL alone still answers
    with app.app_context():
        assert current_stask().tasks.stats()["pending"] == 1  # process ran nothing without Redis


def test_a_worker_process_gives_up_on_redis_after_the_grace_in_one_line(
    make_app: Callable[..., Flask], stoppable_redis: RedisServer
) -> None:
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url, STASK_OUTAGE_GRACE=1)
    stoppable_redis.stop()
    result = app.test_cli_runner().invoke(args=["stask", "worker", "--burst"])
    assert result.exit_code == EXIT_OUTAGE, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: "), result.stderr
    assert "STASK_OUTAGE_GRACE" in result.stderr and "Traceback" not in result.stderr


def test_passwords_in_driver_messages_are_masked() -> None:
    error = RuntimeError('connection to "postgresql://stask:s3cret@db:5432/stask" failed\nmore')
    assert first_line(error) == 'connection to "postgresql://stask:***@db:5432/stask" failed'
    assert "hunter2" not in first_line(RuntimeError("host=db user=stask password=hunter2 dbname=x"))
