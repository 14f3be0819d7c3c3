"""Fault injection for the outage and kill-point tests: test-only worker plugins, a worker process
with settings of the test's choosing, a Redis restarted on the same port, a PostgreSQL database
that refuses connections for a while.

Everything here acts only on what the test created (its own redis-server by pid, its session's
own uniquely named database).
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask
from rq import get_current_job

from stask import BaseWorker
from stask.embedded import start_redis
from tests.support.apps import TEST_WORKERS
from tests.support.environment import ROOT
from tests.support.servers import Databases, RedisServer, redis_server_binary
from tests.support.workers import flask_command, worker_env

FAULTS = "tests.support.fault_plugins"
#: ``STASK_WORKERS`` with the fault plugins beside the usual test workers.
FAULT_WORKERS = f"{TEST_WORKERS},{FAULTS}:RetriedRecorder,{FAULTS}:BookkeepingBreaker,{FAULTS}:FileGate"


class RetriedRecorder(BaseWorker):
    """Appends its label to ``test:order`` on every attempt and fails its first one."""

    identifier = "retried"
    scope = "tests"
    title = "Retried recorder"
    description = "Records each attempt; the first one fails."
    max_attempts = 3

    def task_record(self, task: Any, options: dict[str, Any]) -> None:
        with redis.Redis.from_url(options["redis_url"]) as connection:
            connection.rpush("test:order", options["label"])
        if task.attempts == 1 and options.get("fail_first", True):
            raise RuntimeError("first attempt fails")


class BookkeepingBreaker(BaseWorker):
    """Finishes its action, then deletes its own RQ job hash: RQ's clean-up in the work horse
    raises afterwards (as when another process discarded the job), after the outcome exists."""

    identifier = "breaker"
    scope = "tests"
    title = "Bookkeeping breaker"
    description = "Breaks RQ's bookkeeping of its own job."

    def task_run(self, task: Any, options: dict[str, Any]) -> None:
        with redis.Redis.from_url(options["redis_url"]) as connection:
            connection.rpush("test:order", options["label"])
            job = get_current_job()
            if job is not None:
                connection.delete(job.key)
        self.mark_finished("done")


class FileGate(BaseWorker):
    """Notes each run in a file, then waits (up to 60 s) until the test creates the gate file.

    Files, not Redis: the test takes Redis away while the action runs.
    """

    identifier = "gate"
    scope = "tests"
    title = "File gate"
    description = "Runs until the test opens the gate."

    def task_wait(self, task: Any, options: dict[str, Any]) -> None:
        with open(options["runs"], "a") as runs:
            runs.write(f"{task.id} {task.attempts}\n")
        gate = Path(options["gate"])
        deadline = time.monotonic() + 60
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def spawn(app: Flask, kind: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """A real ``flask stask worker`` with extra environment (``STASK_OUTAGE_GRACE`` and the like)."""
    log_dir = Path(app.config["STASK_STORAGE"])
    log_dir.mkdir(parents=True, exist_ok=True)
    environment = worker_env(app, **env)
    environment["STASK_WORKERS"] = app.config["STASK_WORKERS"]
    with open(log_dir / "worker.log", "ab") as output:
        return subprocess.Popen(
            flask_command("stask", "worker", "--worker-class", kind, *args),
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def worker_log(app: Flask) -> str:
    path = Path(app.config["STASK_STORAGE"]) / "worker.log"
    return path.read_text(errors="replace") if path.exists() else ""


def start_on_port(server: RedisServer, port: int) -> None:
    """A new, empty server of this pass's Redis version on the port the stopped one had."""
    folder = Path(server.process.args[-1]) if isinstance(server.process.args, list) else Path(".")
    server.process, _url = start_redis(folder, redis_server_binary(), port)
    server.client = redis.Redis.from_url(server.url)


def port_of(server: RedisServer) -> int:
    return int(server.url.rsplit(":", 1)[1].split("/", 1)[0])


@contextlib.contextmanager
def postgres_refusing(databases: Databases) -> Iterator[None]:
    """The session's PostgreSQL database refuses connections (and loses the open ones) inside the block."""
    engine = databases._admin_engine("postgresql")
    name = databases.name
    try:
        with engine.connect() as admin:
            admin.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            admin.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": name},
            )
        yield
    finally:
        with engine.connect() as admin:
            admin.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        engine.dispose()
