"""``flask stask presets`` and ``flask stask preset …``: output, runs with overrides, one-line refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask.models import AuditEntry, Preset, Task
from tests.presets.plugins import PRESET_WORKERS

pytestmark = pytest.mark.app_config(STASK_WORKERS=PRESET_WORKERS)


@pytest.fixture
def cli(app: Flask) -> Any:
    runner = app.test_cli_runner()

    def invoke(*args: str) -> Any:
        return runner.invoke(args=["stask", *args])

    return invoke


def rows(app: Flask, model: Any) -> int:
    db = app.extensions["stask"].db
    number = db.session.scalar(sa.select(sa.func.count()).select_from(model))
    db.session.commit()
    return int(number or 0)


def test_add_list_update_run_remove(cli: Any, app: Flask) -> None:
    added = cli("preset", "add", "report", "build", "--name", "small", "--data", '{"rows": 3}', "--priority", "low")
    assert added.exit_code == 0, added.output
    preset_id = int(added.output.strip())
    listing = cli("presets")
    line = next(line for line in listing.output.splitlines() if "small" in line)
    assert "report.build" in line and line.endswith("low")
    assert json.loads(cli("presets", "--json").output)[0]["data"] == {"rows": 3}
    updated = cli("preset", "update", str(preset_id), "--priority", "high")
    assert updated.exit_code == 0 and updated.output.strip().endswith("high"), updated.output
    ran = cli("preset", "run", str(preset_id), "--data", '{"format": "json"}')
    assert ran.exit_code == 0, ran.output
    task = app.extensions["stask"].get_task(int(ran.output.strip()))
    assert (task.data, task.priority) == ({"rows": 3, "format": "json"}, "high")
    assert cli("preset", "remove", str(preset_id)).output.strip() == f"preset {preset_id} removed"
    assert rows(app, Preset) == 0
    db = app.extensions["stask"].db
    actions = list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    db.session.commit()
    assert actions == ["preset.create", "preset.update", "preset.run", "task.create", "preset.delete"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("preset", "add", "ghost", "build", "--name", "x"), "identifier"),
        (("preset", "add", "report", "build", "--name", "x", "--data", "{no"), "--data is not valid JSON"),
        (("preset", "add", "report", "build", "--name", "x", "--data", '{"rows": 0}'), "data.rows"),
        (("preset", "run", "1", "--data", '{"rows": 5000}'), "data.rows"),
        (("preset", "run", "1", "--data", "[1]"), "--data must be a JSON object"),
        (("preset", "run", "99"), "no preset 99"),
        (("preset", "update", "1"), "nothing to change"),
        (("preset", "remove", "99"), "no preset 99"),
    ],
)
def test_refusals_are_one_line_with_a_non_zero_exit(cli: Any, app: Flask, args: tuple[str, ...], needle: str) -> None:
    assert cli("preset", "add", "report", "build", "--name", "base").exit_code == 0  # "1" below names it
    first = app.extensions["stask"].service.presets.page().items[0].id
    args = tuple(str(first) if arg == "1" else arg for arg in args)
    result = cli(*args)
    assert result.exit_code != 0
    assert needle in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert rows(app, Task) == 0 and rows(app, Preset) == 1
