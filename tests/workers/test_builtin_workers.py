"""The workers stask ships: CSV export and maintenance, run by a real worker."""

from __future__ import annotations

import csv
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from stask import Status, Task
from stask.models import utcnow
from tests.support.apps import run_worker
from tests.support.tasks import fresh


def test_csv_export_writes_every_task_to_a_result_file(app: Flask, stask: Any) -> None:
    for n in range(3):
        stask.create("echo", "noop", data={"n": n})
    run_worker(app)
    task = stask.create("csv_export", "export", data={"source": "tasks", "days": 1})
    run_worker(app)
    row = fresh(stask, task.id)
    assert (row.status, row.result) == (Status.FINISHED, f"tasks-{task.id}.csv")
    with stask.runtime.storage.result_file(task.id, row.result).open() as handle:
        lines = list(csv.DictReader(handle))
    assert [line["identifier"] for line in lines] == ["echo"] * 3 + ["csv_export"]
    assert lines[0]["status"] == str(int(Status.FINISHED))
    assert row.message == f"Exported 4 tasks to tasks-{task.id}.csv"


def test_csv_export_refuses_an_unknown_source(app: Flask, stask: Any) -> None:
    task = stask.create("csv_export", "export", data={"source": "passwords"}, max_attempts=1)
    run_worker(app)
    assert fresh(stask, task.id).error == "ValueError: source must be 'tasks' or 'workers', not 'passwords'"


def test_maintenance_deletes_old_tasks_with_their_files_and_orphans(app: Flask, stask: Any) -> None:
    old = stask.create("echo", "write_file", data={"text": "old"})
    recent = stask.create("echo", "write_file", data={"text": "recent"})
    run_worker(app)
    stask.db.session.execute(sa.update(Task).where(Task.id == old.id).values(finished_at=utcnow() - timedelta(days=40)))
    stask.db.session.commit()
    storage = stask.runtime.storage
    orphan = storage.log_path(987654)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_text("left behind\n")
    task = stask.create("maintenance", "cleanup", data={"days": 30})
    run_worker(app)
    row = fresh(stask, task.id)
    assert (row.status, row.message) == (Status.FINISHED, "Deleted 1 task(s) and 1 orphaned file(s)")
    assert stask.db.session.get(Task, old.id) is None
    assert not storage.result_dir(old.id).exists() and not storage.log_path(old.id).exists()
    assert storage.result_file(recent.id, "out.txt").read_text() == "recent"
    assert not orphan.exists()
