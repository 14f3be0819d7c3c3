"""Housekeeping: delete old tasks with their logs and files, and sweep orphaned files."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from ...models import Task
from ..base import BaseWorker


class MaintenanceWorker(BaseWorker):
    identifier = "maintenance"
    scope = "system"
    icon = "broom"
    title = "Maintenance"
    description = "Delete ended tasks older than N days with their logs and result files; sweep orphaned files."
    default_settings = {"days": 30}
    max_attempts = 1
    action_fields = {"cleanup": {"days": {"type": "int", "default": 30, "label": "Older than (days)"}}}

    def task_cleanup(self, task: Any, options: dict[str, Any]) -> None:
        days = int(options.get("days", self.settings["days"]))
        stask = current_app.extensions["stask"]
        self.push_progress(0, f"Deleting tasks ended more than {days} days ago")
        removed = stask.cleanup(
            days=days,
            on_progress=lambda done, total: self.push_progress(
                90 * done / max(total, 1), f"{done} of {total} tasks deleted", processed=done, total=total
            ),
        )
        orphans = self._sweep_orphans(stask, keep=task.id)
        self.mark_finished(f"Deleted {removed} task(s) and {orphans} orphaned file(s)")

    def _sweep_orphans(self, stask: Any, keep: int) -> int:
        """Remove logs and result folders whose task row no longer exists."""
        storage = stask.runtime.storage
        candidates: dict[int, list[Any]] = {}
        for path in (storage.root / "logs").glob("*.log"):
            if path.stem.isdigit():
                candidates.setdefault(int(path.stem), []).append(path)
        for path in (storage.root / "results").glob("*"):
            if path.name.isdigit():
                candidates.setdefault(int(path.name), []).append(path)
        if not candidates:
            return 0
        existing: set[int] = set()
        ids = sorted(candidates)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            existing.update(stask.db.session.scalars(sa.select(Task.id).where(Task.id.in_(chunk))))
        stask.db.session.commit()
        removed = 0
        for task_id in ids:
            if task_id in existing or task_id == keep:
                continue
            stask._remove_files([task_id])
            removed += len(candidates[task_id])
        return removed
