"""Worker plugins of the screenshot gallery (tools/screenshots.py): what a real deployment might run.

They do little work but take realistic time, report progress, write logs and fail the way real
jobs fail, so every page of the panel has something true to show. Not part of the package.
"""

from __future__ import annotations

import time
from typing import Any

from stask import BaseWorker
from stask.workers.fields import Field


def _steps(worker: BaseWorker, pause: float, total: int, message: str) -> None:
    """``total`` steps of ``pause`` seconds each, each one reported."""
    for done in range(1, total + 1):
        time.sleep(pause)
        worker.push_progress(processed=done, total=total, message=message.format(done=done, total=total))


class ReportWorker(BaseWorker):
    identifier = "reports"
    scope = "finance"
    icon = "chart"
    title = "Monthly reports"
    description = "Builds the sales report of a month for one region, as a PDF the finance team downloads."
    max_attempts = 2
    action_fields = {
        "build": {
            "month": Field(type="str", default="2026-11", label="Month", help="YYYY-MM"),
            "region": Field(
                type="choice",
                choices=(("eu", "Europe"), ("us", "Americas"), ("apac", "Asia-Pacific")),
                default="eu",
                label="Region",
            ),
        }
    }

    def task_build(self, task: Any, options: dict[str, Any]) -> None:
        self.log(f"building the {options.get('month')} report for {options.get('region')}")
        _steps(self, 0.05, 12, "section {done} of {total}")
        path = self.result_path(f"sales-{options.get('month', 'month')}-{options.get('region', 'eu')}.pdf")
        path.write_bytes(b"%PDF-1.4\n% demo report\n" + b"0" * 48_000)
        self.mark_finished("report ready", result=path)


class ThumbnailWorker(BaseWorker):
    identifier = "thumbnails"
    scope = "media"
    icon = "image"
    title = "Image thumbnails"
    description = "Resizes the product photos of a catalogue into three thumbnail sizes."
    action_fields = {
        "resize": {
            "catalogue": Field(type="str", default="spring-2027", label="Catalogue"),
            "photos": Field(type="int", default=40, min=1, max=10_000, label="Photos"),
        }
    }

    def task_resize(self, task: Any, options: dict[str, Any]) -> None:
        photos = int(options.get("photos", 40))
        _steps(self, 0.1, photos, "photo {done} of {total}")
        self.mark_finished(f"{photos * 3} thumbnails written")


class CrmSyncWorker(BaseWorker):
    identifier = "crm_sync"
    scope = "integrations"
    icon = "sync"
    title = "CRM sync"
    description = "Copies new customers and their orders to the CRM. The legacy account answers 503 on Mondays."
    max_attempts = 1
    action_fields = {"sync": {"account": Field(type="str", default="main", label="Account")}}

    def task_sync(self, task: Any, options: dict[str, Any]) -> None:
        account = options.get("account", "main")
        self.log(f"connecting to the CRM account {account!r}")
        self.push_progress(processed=120, total=480, message="customers")
        if account == "legacy":
            self.log("POST /v2/customers/batch -> 503 Service Unavailable (retry-after: 120)")
            raise ConnectionError("CRM API answered 503 Service Unavailable for account 'legacy'")
        _steps(self, 0.05, 4, "orders batch {done} of {total}")
        self.mark_finished("480 customers, 1,312 orders copied")


class OrderImportWorker(BaseWorker):
    identifier = "orders_import"
    scope = "data"
    icon = "upload"
    title = "Order import"
    description = "Reads an uploaded CSV of orders from the shop."
    accepts_upload = True
    default_settings = {"upload_max_mb": 20.0, "upload_extensions": ["csv"]}

    def task_load(self, task: Any, options: dict[str, Any]) -> None:
        _steps(self, 0.05, 5, "rows {done}000")
        self.mark_finished(f"imported {options.get('file', 'orders.csv')}")


DEMO_WORKERS = ",".join(
    f"demo_workers:{cls.__name__}" for cls in (ReportWorker, ThumbnailWorker, CrmSyncWorker, OrderImportWorker)
)
