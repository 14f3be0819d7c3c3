"""Worker discovery (entry points and STASK_WORKERS), validation, lookup, activation and settings."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from stask.exceptions import InvalidInput, UnknownWorker
from stask.models import Worker
from stask.workers.discovery import discover
from tests.support.apps import run_worker

PLUGIN_SOURCE = """
from stask import BaseWorker


class GreeterWorker(BaseWorker):
    identifier = "greeter"
    scope = "demo"
    icon = "envelope"
    title = "Greeter"
    description = "Says hello."
    default_settings = {"name": "world"}

    def task_greet(self, task, options):
        self.mark_finished("hello " + self.settings["name"])
"""


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[None]:
    """A real installed distribution declaring a ``stask.workers`` entry point."""
    (tmp_path / "greeter_plugin.py").write_text(PLUGIN_SOURCE)
    dist = tmp_path / "greeter_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: greeter-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[stask.workers]\ngreeter = greeter_plugin:GreeterWorker\n")
    sys.path.insert(0, str(tmp_path))
    yield
    sys.path.remove(str(tmp_path))
    sys.modules.pop("greeter_plugin", None)


def test_discovery_through_an_entry_point(installed_plugin: None, app: Flask, stask: Any) -> None:
    report = stask.discover_workers()  # the app fixture ran discovery once already
    assert "greeter" in report["workers"] and not report["invalid"]
    row = stask.get_worker("greeter")
    assert (row.class_path, row.scope, row.icon, row.active) == (
        "greeter_plugin:GreeterWorker",
        "demo",
        "envelope",
        True,
    )
    task = stask.create("greeter", "greet")
    run_worker(app)
    stask.db.session.commit()
    assert stask.get_task(task.id).message == "hello world"


def test_builtin_workers_come_from_stask_entry_points() -> None:
    found = discover("")
    assert {"csv_export", "csv_import", "maintenance"} <= set(found.workers)


def test_discovery_through_stask_workers_and_invalid_classes_are_reported() -> None:
    paths = ",".join(
        [
            "tests.support.plugins:EchoWorker",
            "tests.support.bad_plugins:NoActions",
            "tests.support.bad_plugins:HtmlIcon",
            "tests.support.bad_plugins:DuplicateEcho",
            "tests.support.bad_plugins:NotAWorker",
            "tests.nowhere:Gone",
            "not an import path",
        ]
    )
    found = discover(paths)
    assert "echo" in found.workers
    reasons = {item["source"].split(" ", 1)[1]: item["reason"] for item in found.invalid}
    assert reasons["tests.support.bad_plugins:NoActions"] == "no task_<action> method"
    assert "never HTML" in reasons["tests.support.bad_plugins:HtmlIcon"]
    assert "already used" in reasons["tests.support.bad_plugins:DuplicateEcho"]
    assert "not a subclass" in reasons["tests.support.bad_plugins:NotAWorker"]
    assert reasons["tests.nowhere:Gone"].startswith("import failed")
    assert reasons["not an import path"].startswith("import failed")


@pytest.mark.app_config(STASK_AUTO_ACTIVATE=False)
def test_new_workers_start_inactive_unless_auto_activate(app: Flask, stask: Any) -> None:
    assert app.config["STASK_AUTO_ACTIVATE"] is False
    stask.db.session.query(Worker).delete()
    stask.db.session.commit()
    report = stask.discover_workers()
    assert "echo" in report["added"]
    assert [w.identifier for w in stask.get_workers(active_only=True)] == ["notifier"]  # stask's own: always
    stask.activate_worker("echo")
    assert [w.identifier for w in stask.get_workers(active_only=True)] == ["echo", "notifier"]


def test_settings_are_validated_against_defaults(stask: Any) -> None:
    stask.update_worker_settings("echo", {"steps": 5, "greeting": "hi"})
    assert stask.get_worker("echo").settings == {"steps": 5, "greeting": "hi"}
    with pytest.raises(InvalidInput, match="unknown setting"):
        stask.update_worker_settings("echo", {"colour": "red"})
    with pytest.raises(InvalidInput, match="setting 'steps' must be a whole number"):
        stask.update_worker_settings("echo", {"steps": "many"})
    with pytest.raises(UnknownWorker):
        stask.activate_worker("nobody")
    assert stask.get_worker("echo").settings == {"steps": 5, "greeting": "hi"}


@pytest.mark.parametrize("identifier", ["ec\x00ho", "\x00", "Echo", "echo\n"])
def test_worker_names_no_worker_can_have_are_unknown(stask: Any, identifier: str) -> None:
    with pytest.raises(UnknownWorker):
        stask.get_worker(identifier)
    with pytest.raises(UnknownWorker):
        stask.activate_worker(identifier)
    with pytest.raises(UnknownWorker):
        stask.create(identifier, "say")
    assert stask.resolve_worker(identifier) is None
