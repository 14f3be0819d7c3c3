"""Ids are never reused: a deleted task's id is not given to the next task, on every database.

SQLite gives a new row the highest id in use plus one unless its table has ``AUTOINCREMENT``, so
before migration 0010 a link, a log line, a webhook or an audit entry about a deleted task pointed
at the next one. PostgreSQL's sequences and MariaDB's InnoDB counter never go back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from stask import create_app
from tests.support.apps import close_app

#: What an app needs to reach the same database and Redis again.
SAME_PLACE = ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "STASK_STORAGE", "STASK_WORKERS", "SECRET_KEY")


@pytest.fixture
def restart() -> Iterator[Any]:
    """``restart(app)``: a new app on the same database, its rows untouched (closed after the test)."""
    started: list[Flask] = []

    def factory(app: Flask) -> Flask:
        close_app(app)
        again = create_app({"TESTING": True, "STASK_AUTO_ACTIVATE": True, **{k: app.config[k] for k in SAME_PLACE}})
        started.append(again)
        return again

    yield factory
    for app in started:
        close_app(app)


def test_a_deleted_tasks_id_is_not_given_to_the_next_task(app: Flask, stask: Any) -> None:
    first, newest = stask.create("echo", "noop"), stask.create("echo", "noop")
    assert newest.id > first.id
    stask.delete(newest.id)
    after = stask.create("echo", "noop")
    assert after.id > newest.id
    many = stask.create_many([{"identifier": "echo", "action": "noop"}] * 3)  # the bulk INSERT too
    stask.delete(many[-1].id)
    assert stask.create_many([{"identifier": "echo", "action": "noop"}] * 2)[0].id > many[-1].id


def test_nor_after_the_app_restarts(sqlite_app: Flask, restart: Any) -> None:
    stask = sqlite_app.extensions["stask"]
    stask.create("echo", "noop")
    newest = stask.create("echo", "noop").id
    stask.delete(newest)
    stask.db.session.remove()
    again = restart(sqlite_app)
    with again.app_context():
        service = again.extensions["stask"]
        service.discover_workers()
        assert service.create("echo", "noop").id > newest
        service.db.session.remove()


def test_nor_a_deleted_schedules_or_presets(app: Flask, stask: Any) -> None:
    """Other ids that links and audit entries name (``schedule:3``, ``preset:4``)."""
    service = stask.service

    def preset(name: str) -> int:
        return int(service.presets.create({"name": name, "identifier": "echo", "action": "noop"}).id)

    def schedule(name: str) -> int:
        return int(service.schedules.create({"name": name, "identifier": "echo", "action": "noop", "interval": 60}).id)

    for make, remove in ((preset, service.presets.delete), (schedule, service.schedules.delete)):
        make("one")
        newest = make("two")
        remove(newest)
        assert make("three") > newest
