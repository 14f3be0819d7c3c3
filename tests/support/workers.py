"""Real ``flask stask worker`` processes: their environment, starting them, killing their group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flask import Flask

from tests.support.environment import ROOT


def worker_env(app: Flask, **extra: str) -> dict[str, str]:
    """Environment that makes ``flask --app wsgi`` in a child process use the test's app settings."""
    config = app.config
    env = dict(os.environ)
    env.update(
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=config["REDIS_URL"],
        STASK_STORAGE=config["STASK_STORAGE"],
        STASK_WORKERS=config["STASK_WORKERS"],
        STASK_AUTO_ACTIVATE="1",
        STASK_HEARTBEAT_TTL=str(config["STASK_HEARTBEAT_TTL"]),
        STASK_RECONCILE_INTERVAL=str(config["STASK_RECONCILE_INTERVAL"]),
        STASK_BACKOFF_BASE=str(config["STASK_BACKOFF_BASE"]),
        STASK_BACKOFF_CAP=str(config["STASK_BACKOFF_CAP"]),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)  # may override the settings above
    return env


def flask_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def spawn_worker(
    app: Flask, kind: str = "simple", *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A real ``flask stask worker`` process (``env``: more variables); output in ``<storage>/worker.log``."""
    log_dir = Path(app.config["STASK_STORAGE"])
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "worker.log", "ab") as output:
        return subprocess.Popen(
            flask_command("stask", "worker", "--worker-class", kind, *extra),
            cwd=ROOT,
            env=worker_env(app, **(env or {})),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() can take its scheduler and work horses down too
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill a spawned worker and every process it started (scheduler, work horses)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def run_burst(app: Flask, kind: str, env: dict[str, str] | None = None) -> str:
    """Run ``flask stask worker --burst`` until the queues are empty (exit 0 asserted); its whole output."""
    process = subprocess.Popen(
        flask_command("stask", "worker", "--burst", "--worker-class", kind),
        cwd=ROOT,
        env=env if env is not None else worker_env(app),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        stop(process)  # this process's group only (its work horses), if it is still there
    assert process.returncode == 0, output.decode()
    return output.decode()


def idle_record_delay(app: Flask, stask: Any, kind: str, **env: str) -> float:
    """A spawned worker runs one task and goes idle: the seconds from the task's end to the
    moment its row read finished here (the worker still runs: it waits for work)."""
    from stask import Status
    from stask.models import utcnow
    from tests.support.tasks import fresh

    process = spawn_worker(app, kind, env=env)
    try:
        task = stask.create("echo", "noop")
        deadline = time.monotonic() + 30
        while (row := fresh(stask, task.id)).status != Status.FINISHED:
            assert time.monotonic() < deadline, row.status
            assert process.poll() is None
            time.sleep(0.02)
        seen = utcnow()
        assert process.poll() is None  # still waiting for work
    finally:
        stop(process)
    return (seen - row.finished_at).total_seconds()
