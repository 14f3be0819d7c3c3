"""Worker changes reach every process's next lookup (the version counter in ``stask.workers.registry``).

Two apps on one database and one Redis stand for two processes: each has its own L1. The last
tests spawn a real ``flask stask worker`` and change settings from the test process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask import Status
from stask.exceptions import InactiveWorker
from stask.models import Worker
from tests.support.api import ADMIN, AUTH_CONFIG
from tests.support.apps import run_worker
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop


def two_processes(make_app: Callable[..., Flask]) -> tuple[Flask, Flask]:
    """Two apps on the same SQLite file and Redis (built first: building empties both), then discovery."""
    first = make_app("sqlite", **AUTH_CONFIG)
    second = make_app("sqlite", **AUTH_CONFIG)
    with first.app_context():
        first.extensions["stask"].discover_workers()
        first.extensions["stask"].db.session.remove()
    return first, second


def create(app: Flask, **body: Any) -> Any:
    return app.test_client().post(
        "/stask/api/tasks", json={"action": "noop", **body, "identifier": "echo"}, headers=ADMIN
    )


def in_app(app: Flask, call: Callable[[Any], Any]) -> Any:
    with app.app_context():
        try:
            return call(app.extensions["stask"])
        finally:
            app.extensions["stask"].db.session.remove()


def test_deactivate_in_one_process_refuses_the_next_create_in_another(make_app: Callable[..., Flask]) -> None:
    first, second = two_processes(make_app)
    assert create(second).status_code == 201  # the second process has echo in its L1 now
    assert create(second).status_code == 201
    in_app(first, lambda s: s.deactivate_worker("echo"))
    refused = create(second)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "inactive_worker"
    with pytest.raises(InactiveWorker):
        in_app(second, lambda s: s.create("echo", "noop"))


def test_activate_in_one_process_is_creatable_at_once_in_another(make_app: Callable[..., Flask]) -> None:
    first, second = two_processes(make_app)
    in_app(first, lambda s: s.deactivate_worker("echo"))
    assert create(second).status_code == 409  # cached as inactive in the second process
    in_app(first, lambda s: s.activate_worker("echo"))
    assert [create(second).status_code for _ in range(20)] == [201] * 20


def test_settings_changed_in_one_process_are_used_by_the_next_task_of_another(make_app: Callable[..., Flask]) -> None:
    first, second = two_processes(make_app)

    def run_one(stask: Any) -> str:
        task = stask.create("echo", "say", data={"steps": 0})
        run_worker(second)
        stask.db.session.expire_all()
        return str(stask.get_task(task.id).message)

    assert in_app(second, run_one) == "hello"  # cached with the default greeting
    in_app(first, lambda s: s.update_worker_settings("echo", {"greeting": "bonjour"}))
    assert in_app(second, run_one) == "bonjour"


@pytest.mark.parametrize("change", ["discover", "clear"])
def test_discover_and_a_cleared_cache_reach_other_processes(make_app: Callable[..., Flask], change: str) -> None:
    """A row changed behind stask's back is seen everywhere once discovery runs or the cache is cleared."""
    first, second = two_processes(make_app)
    assert create(second).status_code == 201

    def change_then_announce(stask: Any) -> None:
        stask.db.session.execute(sa.update(Worker).where(Worker.identifier == "echo").values(active=False))
        stask.db.session.commit()
        if change == "discover":
            stask.discover_workers()
        else:
            stask.runtime.workers.invalidate()  # what POST /cache/clear does

    in_app(first, change_then_announce)
    assert create(second).status_code == 409


@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_a_worker_process_sees_a_settings_change_before_its_next_task(
    make_app: Callable[..., Flask], kind: str
) -> None:
    app = make_app("sqlite", discover=True)
    process = spawn_worker(app, kind)
    try:
        with app.app_context():
            stask = app.extensions["stask"]

            def finished(task_id: int) -> Any:
                stask.db.session.expire_all()
                row = stask.get_task(task_id)
                return row if row.status == Status.FINISHED else None

            first = stask.create("echo", "say", data={"steps": 0})
            assert wait_for(lambda: finished(first.id), timeout=30, what="the first task").message == "hello"
            stask.update_worker_settings("echo", {"greeting": "bonjour"})
            second = stask.create("echo", "say", data={"steps": 0})
            assert wait_for(lambda: finished(second.id), timeout=30, what="the second task").message == "bonjour"
            stask.db.session.remove()
    finally:
        stop(process)


def test_a_miss_reads_past_the_callers_older_snapshot(make_app: Callable[..., Flask]) -> None:
    """MariaDB's repeatable read: a transaction opened before the change must not be what gets cached."""
    first, second = make_app("mariadb"), make_app("mariadb")
    in_app(first, lambda s: s.discover_workers())
    with second.app_context():
        stask = second.extensions["stask"]
        assert stask.get_worker("echo").active  # opens the second process's transaction (its snapshot)
        in_app(first, lambda s: s.deactivate_worker("echo"))
        with pytest.raises(InactiveWorker):
            stask.create("echo", "noop")
        stask.db.session.remove()


def test_deactivating_is_seen_at_once_by_this_process(sqlite_app: Flask) -> None:
    stask: Any = sqlite_app.extensions["stask"]
    assert stask.resolve_worker("echo").active  # now in this process's L1 and in L2
    stask.deactivate_worker("echo")
    with pytest.raises(InactiveWorker):
        stask.create("echo", "noop")


def test_activating_is_seen_at_once_by_this_process(sqlite_app: Flask) -> None:
    stask: Any = sqlite_app.extensions["stask"]
    stask.deactivate_worker("echo")
    assert not stask.resolve_worker("echo").active  # the inactive definition is cached now
    stask.activate_worker("echo")
    assert stask.create("echo", "noop").id
