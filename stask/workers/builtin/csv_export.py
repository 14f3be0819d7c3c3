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


class CsvExportWorker(BaseWorker):
    identifier = "csv_export"
    scope = "data"
    icon = "file-csv"
    title = "CSV export"
    description = "Export the task history or the worker list to a CSV file you can download."
    default_settings = {"batch_size": 500, "delimiter": ","}
    max_attempts = 2
    action_fields = {
        "export": {
            "source": {"type": "choice", "choices": ["tasks", "workers"], "default": "tasks", "label": "Source"},
            "days": {"type": "int", "default": 7, "label": "Tasks created in the last N days"},
            "throttle_ms": {"type": "int", "default": 0, "label": "Pause between batches (ms)"},
        }
    }

    def task_export(self, task: Any, options: dict[str, Any]) -> None:
        source = options.get("source", "tasks")
        if source not in ("tasks", "workers"):
            raise ValueError(f"source must be 'tasks' or 'workers', not {source!r}")
        days = int(options.get("days", 7))
        throttle = max(0, int(options.get("throttle_ms", 0))) / 1000
        batch = max(1, int(self.settings["batch_size"]))
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
            writer = csv.writer(handle, delimiter=str(self.settings["delimiter"])[:1] or ",")
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
