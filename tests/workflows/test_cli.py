"""``flask stask create --depends-on`` and ``flask stask group create|show|cancel``."""

from __future__ import annotations

import json

from flask import Flask

from tests.support.audit import actions


def test_group_commands_and_depends_on(sqlite_app: Flask) -> None:
    runner = sqlite_app.test_cli_runner()

    def cli(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(args=["stask", *args], input=stdin)
        assert result.exit_code == 0, result.output
        return str(result.output)

    parent = cli("create", "echo", "noop").strip()
    child = cli("create", "echo", "noop", "--depends-on", parent, "--on-parent-failure", "run").strip()
    shown = json.loads(cli("status", child, "--json"))
    assert (shown["waiting_parents"], shown["on_parent_failure"]) == (1, "run")
    refused = runner.invoke(args=["stask", "create", "echo", "noop", "--depends-on", "999999"])
    assert refused.exit_code == 1 and "999999" in refused.output
    specs = {
        "tasks": [{"identifier": "echo", "action": "noop"}] * 2,
        "on_complete": {"identifier": "echo", "action": "say"},
    }
    group_id = cli("group", "create", "--name", "pair", "--tasks-json", "-", stdin=json.dumps(specs)).strip()
    assert cli("group", "show", group_id).strip() == f"group {group_id} 'pair': running 0% (queued 2)"
    assert json.loads(cli("group", "show", group_id, "--json"))["total"] == 2
    assert cli("group", "cancel", group_id).strip() == f"group {group_id}: 2 cancelled, 0 asked to stop"
    assert "cancelled" in cli("group", "show", group_id)
    assert runner.invoke(args=["stask", "group", "show", "999"]).exit_code == 1
    bad = runner.invoke(args=["stask", "group", "create", "--tasks-json", "-"], input="[]")
    assert bad.exit_code == 1 and "non-empty" in bad.output
    assert actions(sqlite_app)[-3:] == ["task.create", "group.create", "group.cancel"]
