"""A plugin that subclasses the built-in CSV importer, as the docs show: it stores each row
(here in a Redis list, as JSON), rejects one, notes when the import is complete, and records
every progress report it makes."""

from __future__ import annotations

import json
from typing import Any

import redis
from flask import current_app

from stask.workers.builtin.csv_import import CsvImportWorker, RowRejected

ROWS_KEY = "test:imported"
PROGRESS_KEY = "test:import-progress"
FINISHED_KEY = "test:import-finished"


class StoringImport(CsvImportWorker):
    identifier = "customer_import"
    title = "Customer import"
    progress_every = 2

    def import_row(self, row: dict[str, Any]) -> None:
        if row.get("name") == "reject me":
            raise RowRejected("the host refused this customer")
        with redis.Redis.from_url(current_app.config["REDIS_URL"]) as connection:
            connection.rpush(ROWS_KEY, json.dumps(row, default=str))

    def finish_import(self, rows: int, invalid: int) -> None:
        with redis.Redis.from_url(current_app.config["REDIS_URL"]) as connection:
            connection.rpush(FINISHED_KEY, json.dumps([rows, invalid]))

    def push_progress(
        self,
        percent: float | None = None,
        message: str | None = None,
        *,
        processed: int | None = None,
        total: int | None = None,
    ) -> None:
        with redis.Redis.from_url(current_app.config["REDIS_URL"]) as connection:
            connection.rpush(PROGRESS_KEY, json.dumps([percent, processed, total]))
        super().push_progress(percent, message, processed=processed, total=total)
