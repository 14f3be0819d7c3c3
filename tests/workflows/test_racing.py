"""Two processes ending a dependent's last two parents at the same moment release it exactly once."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from stask import Status
from tests.support.apps import redis_of
from tests.support.environment import ROOT
from tests.support.tasks import fresh
from tests.support.waiting import wait_for
from tests.support.workers import flask_command, stop, worker_env
from tests.workflows.plugins import ENQUEUED, FLOW_WORKERS, order

PAIRS = 120


def spawn_counting_worker(app: Flask) -> subprocess.Popen[bytes]:
    log_dir = Path(app.config["STASK_STORAGE"])
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "worker.log", "ab") as output:
        return subprocess.Popen(
            flask_command("stask", "worker", "--worker-class", "simple"),
            cwd=ROOT,
            env=worker_env(app, FLOW_COUNT_ENQUEUES="1"),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.app_config(STASK_WORKERS=FLOW_WORKERS)
def test_racing_parents_release_their_dependent_exactly_once(app: Flask, stask: Any) -> None:
    children = []
    for pair in range(PAIRS):
        first = stask.create("flow", "step", data={"label": f"p{pair}a"})
        second = stask.create("flow", "step", data={"label": f"p{pair}b"})
        children.append(stask.create("flow", "step", data={"label": f"c{pair}"}, depends_on=[first.id, second.id]))
    workers = [spawn_counting_worker(app) for _ in range(4)]
    try:
        wait_for(
            lambda: all(fresh(stask, c.id).status == Status.FINISHED for c in children),
            timeout=120,
            interval=0.5,
            what="every dependent to finish",
        )
    finally:
        for worker in workers:
            stop(worker)
    connection = redis_of(app)
    ran = order(connection)
    assert sorted(label for label in ran if label.startswith("c")) == sorted(f"c{pair}" for pair in range(PAIRS))
    counted = {k.decode(): int(v) for k, v in connection.hgetall(ENQUEUED).items()}
    assert {f"{c.id}-1": 1 for c in children} == {
        k: v for k, v in counted.items() if int(k.split("-")[0]) in {c.id for c in children}
    }
