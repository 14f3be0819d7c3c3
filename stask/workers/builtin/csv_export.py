"""Export task history (or the worker registry) to a downloadable CSV file, with progress."""

from __future__ import annotations

import csv
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from ...models import Task, Worker, utcnow
from ...service import current_stask
from ..base import BaseWorker
from ..fields import Field

TASK_COLUMNS = [
    "id",
    "identifier",
    "action",
    "status",
    "priority",
    "progress",
    "message",
    "attempts",
    "created_at",
    "started_at",
    "finished_at",
    "wait_ms",
    "run_ms",
]
WORKER_COLUMNS = ["identifier", "scope", "title", "active", "class_path"]
#: Largest ``batch_size``: rows a database cursor fetches at a time (PostgreSQL refuses counts past int32).
MAX_BATCH = 100_000


class CsvExportWorker(BaseWorker):
    identifier = "csv_export"
    scope = "data"
    icon = "file-csv"
    title = "CSV export"
    description = "Export the task history or the worker list to a CSV file you can download."
    settings_fields = {
        "batch_size": Field(
            type="int",
            default=500,
            min=1,
            max=MAX_BATCH,
            label="Batch size",
            help="Rows read from the database at a time, and rows between two progress reports.",
        ),
        "delimiter": Field(
            type="str",
            default=",",
            min_length=1,
            max_length=1,
            allowed_controls="\t",
            pattern='[^"]',
            label="Delimiter",
            help="One character between columns, such as , or ; or a tab (not the quote character).",
        ),
    }
    max_attempts = 2
    action_fields = {
        "export": {
            "source": Field(
                type="choice", choices=(("tasks", "tasks"), ("workers", "workers")), default="tasks", label="Source"
            ),
            "days": Field(
                type="int",
                default=7,
                min=0,
                max=36_500,
                label="Tasks created in the last N days",
                help="0 exports every task.",
            ),
            "throttle_ms": Field(type="int", default=0, min=0, max=60_000, label="Pause between batches (ms)"),
        }
    }

    def task_export(self, task: Any, options: dict[str, Any]) -> None:
        source = options.get("source", "tasks")
        if source not in ("tasks", "workers"):
            raise ValueError(f"source must be 'tasks' or 'workers', not {source!r}")
        days = int(options.get("days", 7))
        throttle = max(0, int(options.get("throttle_ms", 0))) / 1000
        batch = int(self.settings["batch_size"])  # validated: 1..MAX_BATCH (a stale value gives the default)
        session = current_stask().db.session
        if source == "workers":
            columns, query = WORKER_COLUMNS, sa.select(*(getattr(Worker, c) for c in WORKER_COLUMNS))
            total = session.scalar(sa.select(sa.func.count()).select_from(Worker)) or 0
        else:
            columns, query = TASK_COLUMNS, sa.select(*(getattr(Task, c) for c in TASK_COLUMNS)).order_by(Task.id)
            if days > 0:
                query = query.where(Task.created_at >= utcnow() - timedelta(days=days))
            total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        path = self.result_path(f"{source}-{task.id}.csv")
        self.push_progress(0, f"Exporting {total} {source}", processed=0, total=total)
        written = 0
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter=self.settings["delimiter"])  # validated: one character
            writer.writerow(columns)
            for row in session.execute(query.execution_options(yield_per=batch)):
                writer.writerow(row)
                written += 1
                if written % batch == 0:
                    self.push_progress(None, f"{written} of {total} rows", processed=written, total=total)
                    if throttle:
                        time.sleep(throttle)
        session.commit()
        self.push_progress(100, f"{written} rows written", processed=written, total=max(total, written))
        self.mark_finished(f"Exported {written} {source} to {path.name}", result=path)
