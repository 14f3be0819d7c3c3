"""A worker whose action declares its data fields (registered by the preset tests through ``STASK_WORKERS``)."""

from __future__ import annotations

from typing import Any

from stask import BaseWorker
from tests.support.api import AUTH_CONFIG


class ReportWorker(BaseWorker):
    identifier = "report"
    scope = "tests"
    title = "Report"
    description = "Writes a report of some rows."
    action_fields = {
        "build": {
            "rows": {"type": "int", "default": 10, "min": 1, "max": 1000},
            "format": {"type": "choice", "choices": ["csv", "json"], "default": "csv"},
            "title": {"type": "str", "default": "Report"},
        }
    }

    def task_build(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished(f"{options.get('title')}: {options.get('rows')} rows as {options.get('format')}")


PRESET_WORKERS = AUTH_CONFIG["STASK_WORKERS"] + ",tests.presets.plugins:ReportWorker"
PRESET_CONFIG: dict[str, Any] = {**AUTH_CONFIG, "STASK_WORKERS": PRESET_WORKERS}
