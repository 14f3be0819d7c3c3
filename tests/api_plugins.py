"""A worker that takes uploads, for the upload tests (registered only by the API fixtures)."""

from __future__ import annotations

from typing import Any

from stask import BaseWorker


class UploadWorker(BaseWorker):
    identifier = "importer"
    scope = "tests"
    title = "Importer"
    description = "Reads an uploaded file."
    accepts_upload = True
    default_settings = {"upload_max_mb": 1.0, "upload_extensions": ["csv", "txt"]}

    def task_load(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished(f"loaded {options.get('file', '')}")
