"""Worker discovery (entry points and STASK_WORKERS), validation, activation and settings."""

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
    from tests.conftest import run_worker

    task = stask.create("greeter", "greet")
    run_worker(app)
    stask.db.session.commit()
    assert stask.get_task(task.id).message == "hello world"


def test_builtin_workers_come_from_stask_entry_points() -> None:
    found = discover("")
    assert {"csv_export", "maintenance"} <= set(found.workers)


def test_discovery_through_stask_workers_and_invalid_classes_are_reported() -> None:
    paths = ",".join(
        [
            "tests.plugins:EchoWorker",
            "tests.bad_plugins:NoActions",
            "tests.bad_plugins:HtmlIcon",
            "tests.bad_plugins:DuplicateEcho",
            "tests.bad_plugins:NotAWorker",
            "tests.nowhere:Gone",
            "not an import path",
        ]
    )
    found = discover(paths)
    assert "echo" in found.workers
    reasons = {item["source"].split(" ", 1)[1]: item["reason"] for item in found.invalid}
    assert reasons["tests.bad_plugins:NoActions"] == "no task_<action> method"
    assert "never HTML" in reasons["tests.bad_plugins:HtmlIcon"]
    assert "already used" in reasons["tests.bad_plugins:DuplicateEcho"]
    assert "not a subclass" in reasons["tests.bad_plugins:NotAWorker"]
    assert reasons["tests.nowhere:Gone"].startswith("import failed")
    assert reasons["not an import path"].startswith("import failed")


def test_new_workers_start_inactive_unless_auto_activate(app: Flask, stask: Any) -> None:
    app.config["STASK_AUTO_ACTIVATE"] = False
    stask.db.session.query(Worker).delete()
    stask.db.session.commit()
    report = stask.discover_workers()
    assert "echo" in report["added"]
    assert [w.identifier for w in stask.get_workers(active_only=True)] == []
    stask.activate_worker("echo")
    assert [w.identifier for w in stask.get_workers(active_only=True)] == ["echo"]


def test_settings_are_validated_against_defaults(stask: Any) -> None:
    stask.update_worker_settings("echo", {"steps": "5", "greeting": "hi"})
    assert stask.get_worker("echo").settings == {"steps": 5, "greeting": "hi"}
    with pytest.raises(InvalidInput, match="unknown setting"):
        stask.update_worker_settings("echo", {"colour": "red"})
    with pytest.raises(InvalidInput, match="must be of type int"):
        stask.update_worker_settings("echo", {"steps": "many"})
    with pytest.raises(UnknownWorker):
        stask.activate_worker("nobody")
    assert stask.get_worker("echo").settings == {"steps": 5, "greeting": "hi"}
