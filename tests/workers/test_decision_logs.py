"""A worker process's log says what stask decided for each task, not RQ's "Job OK".

Every stask job returns normally to RQ (a failed attempt is an outcome stask records), so RQ
called each one a success. Real ``flask stask worker --burst`` processes run a failing task, a
task that will be retried, a finishing one and a cancelled one; their output is read.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from stask import Status
from tests.support.tasks import fresh
from tests.support.workers import run_burst as burst


@pytest.mark.parametrize("kind", ["simple", "fork"])
def test_the_log_says_failed_retrying_finished_and_cancelled(sqlite_app: Flask, kind: str) -> None:
    stask: Any = sqlite_app.extensions["stask"]
    failing = stask.create("flaky", "run", data={"fail_times": 5}, max_attempts=1)
    retried = stask.create("flaky", "run", data={"fail_times": 5}, max_attempts=3)
    finishing = stask.create("echo", "say")
    stopped = stask.create("echo", "say")
    stask.service.runtime.live.request_stop(stopped.id)  # its first progress tick sees it

    output = burst(sqlite_app, kind)

    assert f"task {failing.id} failed: RuntimeError: planned failure on attempt 1\n" in output, output
    assert re.search(
        rf"task {retried.id} retrying in \d+\.\d s \(attempt 1 of 3\): RuntimeError: planned failure on attempt 1\n",
        output,
    ), output
    assert f"task {finishing.id} finished\n" in output, output
    assert f"task {stopped.id} cancelled\n" in output, output
    assert "Job OK" not in output and "Successfully completed" not in output, output
    # RQ's other lines stay: the job it took, and its own start and end.
    assert f": stask-{failing.id}-1" in output and "Listening on" in output and "done, quitting" in output, output
    statuses = [fresh(stask, t.id).status for t in (failing, retried, finishing, stopped)]
    assert statuses == [Status.FAILED, Status.QUEUED, Status.FINISHED, Status.CANCELLED]
