"""Housekeeping: delete old tasks with their logs and files, and sweep orphaned files."""

from __future__ import annotations

from typing import Any

from ...scheduling.declared import Schedule
from ...service import current_stask
from ..base import BaseWorker
from ..fields import Field

#: Longest retention a cleanup accepts (100 years): larger values overflow date arithmetic.
MAX_DAYS = 36_500


class MaintenanceWorker(BaseWorker):
    identifier = "maintenance"
    scope = "system"
    icon = "broom"
    title = "Maintenance"
    description = "Delete ended tasks older than N days with their logs and result files; sweep orphaned files."
    settings_fields = {
        "days": Field(
            type="int",
            default=30,
            min=0,
            max=MAX_DAYS,
            label="Keep ended tasks for (days)",
            help="A cleanup without its own 'days' option deletes ended tasks older than this.",
        )
    }
    max_attempts = 1
    action_fields = {"cleanup": {"days": Field(type="int", default=30, min=0, max=MAX_DAYS, label="Older than (days)")}}
    #: Nightly at 03:30 UTC with the ``days`` setting; disabled unless STASK_AUTO_ACTIVATE (enabled=None).
    schedules = [Schedule("30 3 * * *", action="cleanup", name="nightly cleanup")]

    def task_cleanup(self, task: Any, options: dict[str, Any]) -> None:
        days = int(options.get("days", self.settings["days"]))
        tasks = current_stask().tasks
        self.push_progress(0, f"Deleting tasks ended more than {days} days ago")
        removed = tasks.cleanup(
            days=days,
            on_progress=lambda done, total: self.push_progress(
                90 * done / max(total, 1), f"{done} of {total} tasks deleted", processed=done, total=total
            ),
        )
        orphans = tasks.sweep_orphan_files(keep=task.id)
        expired = current_stask().audit.cleanup()  # its own retention (STASK_AUDIT_RETENTION_DAYS), not ``days``
        audit_note = f"; {expired} audit row(s) past their retention" if expired else ""
        self.mark_finished(f"Deleted {removed} task(s) and {orphans} orphaned file(s){audit_note}")
