"""What a forking worker copies at every job: only what the work needs.

A work horse is a copy of its worker process; it pays for every page it writes to. So the
``stask worker`` command builds a worker-only app (no web, no Alembic), a horse swaps in a
database pool its parent made before the fork (never its parent's connections), the parent's
start-up objects are frozen out of the collector's reach, and the Redis connection each horse
opens skips redis-py's read of its own package metadata.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask import Status
from stask.app import create_app, is_worker_command
from stask.engine import runner
from stask.engine.context import Delegation, EngineContext
from stask.engine.processes import build_worker
from stask.engine.runner import execute
from stask.workers.registry import WorkerDefinition
from tests.support.tasks import fresh
from tests.support.workers import run_burst, worker_env

#: Modules only the web or the schema commands use.
WEB_ONLY = ("flask_migrate", "alembic", "stask.web.openapi", "stask.web.panel", "stask.web.api")
#: Written into a folder put first on the worker's PYTHONPATH: its modules, as the process exits.
SITECUSTOMIZE = """
import atexit, os, sys

def _dump():
    with open(os.environ["STASK_TEST_MODULES_OUT"], "w") as out:
        out.write("\\n".join(sorted(sys.modules)))

atexit.register(_dump)
"""


def in_child(action: Any) -> str:
    """Fork; the child runs ``action()`` and sends back what it returns (or the error's name)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child's coverage is not collected)
        os.close(read)
        try:
            answer = str(action())
        except BaseException as exc:
            answer = f"error: {type(exc).__name__}: {exc}"
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(pid, 0)
    return answer


def test_the_worker_command_is_recognised_whatever_flasks_own_options() -> None:
    assert is_worker_command(["flask", "--app", "wsgi", "stask", "worker", "--burst"])
    assert is_worker_command(["/x/flask/__main__.py", "-A", "wsgi", "--debug", "stask", "worker"])
    assert not is_worker_command(["flask", "--app", "wsgi", "stask", "workers"])
    assert not is_worker_command(["flask", "--app", "wsgi", "run"])
    assert not is_worker_command(["gunicorn", "wsgi:app"])
    assert not is_worker_command(["worker", "stask"])


def test_a_worker_only_app_keeps_translations_and_leaves_the_web_out(tmp_path: Path) -> None:
    config = {"STASK_INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.db'}"}
    worker, web = create_app(dict(config), worker_only=True), create_app(dict(config), worker_only=False)
    assert "babel" in worker.extensions  # notifications a worker renders are translated as before
    assert "db" not in worker.cli.commands and "stask" in worker.cli.commands
    assert not worker.blueprints
    assert {"db", "stask"} <= set(web.cli.commands) and web.blueprints  # the web app is unchanged


@pytest.mark.parametrize("kind", ["fork"])
def test_the_worker_command_imports_neither_the_web_nor_alembic(sqlite_app: Flask, tmp_path: Path, kind: str) -> None:
    stask: Any = sqlite_app.extensions["stask"]
    task = stask.create("echo", "say")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    modules = tmp_path / "modules.txt"
    env = worker_env(sqlite_app, STASK_TEST_MODULES_OUT=str(modules))
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    run_burst(sqlite_app, kind, env)
    loaded = set(modules.read_text().split())
    assert "stask.engine.processes" in loaded  # the dump is the worker's own
    assert [m for m in loaded if m.split(".")[0] in WEB_ONLY or m in WEB_ONLY or m.startswith(WEB_ONLY)] == []
    assert fresh(stask, task.id).status == Status.FINISHED  # the worker-only app ran it


@pytest.fixture
def engine_hook(sqlite_app: Flask) -> Iterator[tuple[sa.Engine, Any]]:
    hook = sqlite_app.extensions["stask.fork"]
    yield hook.engines[0], hook


def test_a_work_horse_never_checks_out_its_parents_database_connection(engine_hook: tuple[sa.Engine, Any]) -> None:
    engine, _ = engine_hook
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
        parent = connection.connection.driver_connection
    inherited = engine.pool

    def child() -> str:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            same = connection.connection.driver_connection is parent
        return f"same={same} pool={engine.pool is inherited}"

    assert in_child(child) == "same=False pool=False"
    assert in_child(child) == "same=False pool=False"  # every fork, not the first one only
    with engine.connect() as connection:  # the parent's own connection is still there, and works
        assert connection.connection.driver_connection is parent
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1


def test_a_pool_listener_added_after_a_fork_reaches_the_next_horse(engine_hook: tuple[sa.Engine, Any]) -> None:
    engine, _ = engine_hook
    assert in_child(lambda: "forked") == "forked"  # the spare pool is made here, without the listener
    seen: list[int] = []

    @sa.event.listens_for(engine, "connect")
    def _count(dbapi_connection: Any, record: Any) -> None:
        seen.append(os.getpid())

    def child() -> str:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return f"seen={seen.count(os.getpid())}"

    assert in_child(child) == "seen=1"


def test_a_work_horse_runs_the_definition_its_parent_resolved(sqlite_app: Flask) -> None:
    stask: Any = sqlite_app.extensions["stask"]
    task = stask.create("echo", "say")
    ctx = EngineContext.of(sqlite_app)
    definition = ctx.workers.resolve("echo")
    assert isinstance(definition, WorkerDefinition)
    payload = stask.service.tasks.payload_for_row(fresh(stask, task.id))
    info = runner.TaskInfo.from_payload(payload)
    assert runner.claim(ctx, info, info.created_at)
    workers = ctx.workers

    class NoLookups:
        def resolve(self, identifier: str) -> WorkerDefinition | None:
            raise AssertionError("the horse asked Redis again for a definition its parent handed over")

        def active_identifiers(self) -> list[str]:
            return workers.active_identifiers()

    ctx.workers = NoLookups()
    ctx.delegation = Delegation(info.id, info.attempts + 1, True, info.created_at, None, definition)
    try:
        assert execute(ctx, payload) == "finished"
    finally:
        ctx.workers, ctx.delegation = workers, None


def test_a_forking_worker_freezes_its_start_up_objects(sqlite_app: Flask) -> None:
    gc.unfreeze()
    worker = build_worker(sqlite_app, kind="fork")
    try:
        worker.bootstrap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        worker.teardown()


def test_a_new_redis_connection_reads_no_package_metadata(sqlite_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py 8 reads its version from the package metadata (about 3 ms in a horse) for every
    connection it makes unless it is handed the driver's details; a horse makes one per task."""
    import importlib.metadata

    read: list[str] = []
    version = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: read.append(name) or version(name))
    client = sqlite_app.extensions["stask"].runtime.redis
    connection = client.connection_pool.make_connection()
    try:
        connection.connect()
        assert connection.send_command("PING") is None and connection.read_response() in (b"PONG", "PONG", True)
    finally:
        connection.disconnect()
    assert read == []


def test_the_process_running_these_tests_is_not_a_worker() -> None:
    assert not is_worker_command(sys.argv)  # else create_app would build worker-only apps here
