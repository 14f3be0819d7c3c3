"""The audit log keeps its own retention: task cleanup never deletes a row younger than
``STASK_AUDIT_RETENTION_DAYS``, and the maintenance cleanup deletes the older ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from stask import Status
from stask.exceptions import InvalidSetting
from stask.service.audit import Actor
from tests.support.apps import run_worker
from tests.support.audit import actions, backdate
from tests.support.tasks import fresh

PERSON = Actor(role="admin", kind="cli", label="cli:tester", client="local")


def audit_rows(app: Flask, stask: Any) -> None:
    """Three rows: 400 days old, 300 days old, and today's."""
    audit = stask.service.audit
    audit.record(PERSON, "worker.deactivate", "worker:echo")
    backdate(app, 400, "worker.deactivate")
    audit.record(PERSON, "worker.activate", "worker:echo")
    backdate(app, 300, "worker.activate")
    audit.record(PERSON, "cache.clear", "cache:workers")


def test_maintenance_with_days_1_keeps_audit_rows_younger_than_the_retention(app: Flask, stask: Any) -> None:
    audit_rows(app, stask)
    task = stask.create("maintenance", "cleanup", data={"days": 1})
    run_worker(app)
    row = fresh(stask, task.id)
    assert row.status == Status.FINISHED, row.error
    assert row.message.endswith("; 1 audit row(s) past their retention")
    assert actions(app) == ["worker.activate", "cache.clear"]  # 300 days < 365: kept


@pytest.mark.app_config(STASK_AUDIT_RETENTION_DAYS=30)
def test_a_shorter_retention_deletes_more(app: Flask, stask: Any) -> None:
    audit_rows(app, stask)
    backdate(app, 29.9, "cache.clear")  # just inside the retention
    stask.create("maintenance", "cleanup", data={"days": 3650})
    run_worker(app)
    assert actions(app) == ["cache.clear"]


def test_the_cli_cleanup_applies_the_audit_retention_not_its_days(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    audit_rows(sqlite_app, stask)
    result = sqlite_app.test_cli_runner().invoke(args=["stask", "cleanup", "--days", "0"])
    assert result.exit_code == 0, result.output
    assert "1 audit row(s) past STASK_AUDIT_RETENTION_DAYS deleted" in result.output
    assert actions(sqlite_app) == ["worker.activate", "cache.clear"]


def test_the_retention_must_be_at_least_one_day(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(InvalidSetting, match="STASK_AUDIT_RETENTION_DAYS must be at least 1"):
        make_app("sqlite", STASK_AUDIT_RETENTION_DAYS=0)
