"""``flask stask triggers list|create|rotate|delete``: tokens printed once, audit rows, one-line refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask.models import AuditEntry, Trigger
from tests.presets.plugins import PRESET_WORKERS
from tests.triggers.helpers import call, count

pytestmark = pytest.mark.app_config(STASK_WORKERS=PRESET_WORKERS)


@pytest.fixture
def cli(app: Flask) -> Any:
    runner = app.test_cli_runner()

    def invoke(*args: str) -> Any:
        return runner.invoke(args=["stask", "triggers", *args])

    return invoke


def printed(result: Any) -> dict[str, str]:
    """``key: value`` lines of the standard output."""
    return dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)


def test_create_list_rotate_delete(cli: Any, app: Flask) -> None:
    created = cli("create", "deploy", "--identifier", "report", "--action", "build", "--signed", "--rate-limit", "5")
    assert created.exit_code == 0, created.output
    shown = printed(created)
    token, trigger_id = shown["token"], int(shown["id"])
    assert shown["url"] == f"/stask/hooks/{token}" and len(shown["secret"]) == 43
    assert "shown once" in created.stderr
    with_base = cli("create", "other", "--identifier", "echo", "--action", "say", "--base-url", "https://t.example/")
    assert printed(with_base)["url"].startswith("https://t.example/stask/hooks/") and "secret" not in with_base.stdout
    listing = cli("list")
    line = next(line for line in listing.stdout.splitlines() if "deploy" in line)
    assert "report.build" in line and "yes" in line and line.endswith("never") and token not in listing.stdout
    listed = json.loads(cli("list", "--json").stdout)
    assert [row["name"] for row in listed] == ["deploy", "other"] and token not in json.dumps(listed)
    client = app.test_client()
    assert call(client, token, {}).status_code == 401  # signed
    rotated = cli("rotate", str(trigger_id), "--secret")
    assert rotated.exit_code == 0, rotated.output
    new = printed(rotated)
    assert new["token"] != token and new["secret"] != shown["secret"]
    assert call(client, token, {}).status_code == 404
    assert cli("delete", str(trigger_id)).stdout.strip() == f"trigger {trigger_id} deleted"
    assert count(app, Trigger) == 1
    db = app.extensions["stask"].db
    found = db.session.execute(sa.select(AuditEntry.action, AuditEntry.actor, AuditEntry.details)).all()
    db.session.commit()
    assert [row.action for row in found] == ["trigger.create", "trigger.create", "trigger.rotate", "trigger.delete"]
    assert all(row.actor.startswith("cli:") for row in found) and token not in str(found)


def test_a_preset_trigger_from_the_shell(cli: Any, app: Flask) -> None:
    runner = app.test_cli_runner()
    preset = runner.invoke(args=["stask", "preset", "add", "report", "build", "--name", "weekly"])
    created = cli("create", "weekly hook", "--preset", preset.output.strip(), "--disabled")
    assert created.exit_code == 0, created.output
    (row,) = app.extensions["stask"].db.session.scalars(sa.select(Trigger)).all()
    assert (row.preset_id, row.identifier, row.action, row.enabled) == (int(preset.output), "report", "build", False)
    app.extensions["stask"].db.session.commit()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("create", "x"), "give --identifier and --action, or --preset"),
        (("create", "x", "--identifier", "ghost", "--action", "build"), "identifier"),
        (("create", "x", "--identifier", "report", "--action", "fly"), "action"),
        (("create", "x", "--preset", "99"), "preset_id"),
        (("create", "x", "--identifier", "report", "--action", "build", "--rate-limit", "0"), "rate_limit"),
        (("create", "\t", "--identifier", "report", "--action", "build"), "name"),
        (("rotate", "99"), "no trigger 99"),
        (("delete", "99"), "no trigger 99"),
        (("rotate", "nope"), "'nope' is not a valid integer"),
    ],
)
def test_refusals_are_one_line_and_exit_non_zero(cli: Any, app: Flask, args: tuple[str, ...], needle: str) -> None:
    result = cli(*args)
    assert result.exit_code != 0, result.output
    lines = result.output.strip().splitlines()
    assert needle in result.output and lines[-1].startswith("Error: ") and "Traceback" not in result.output
    assert count(app, Trigger) == 0


def test_rotating_the_secret_of_an_unsigned_trigger_is_refused(cli: Any, app: Flask) -> None:
    trigger_id = printed(cli("create", "plain", "--identifier", "echo", "--action", "say"))["id"]
    result = cli("rotate", trigger_id, "--secret")
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: trigger {trigger_id} is not signed: it has no secret to replace (turn signed on instead)"
    ]
