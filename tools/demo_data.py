"""Demo data of the screenshot gallery: a day of history, real tasks, and one of each other thing.

``seed`` runs before any worker process exists: it writes a day of ended tasks straight to the
table (the charts and the per-worker figures need history), then creates real tasks, a group,
a preset, schedules, a trigger and audit rows through the service and runs them in this process
(RQ burst mode), so logs, result files and failures are real. ``start_live`` runs once a worker
process is up: one long task keeps it busy, so the tasks created after it stay pending.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from stask.engine.processes import build_worker
from stask.enums import Status
from stask.models import Task, utcnow
from stask.service import current_stask
from stask.service.audit import Actor

#: (worker, action, typical run time in ms, peak memory in KB, failure chance, error)
HISTORY = (
    ("thumbnails", "resize", 5200, 310_000, 0.0, None),
    ("reports", "build", 1400, 96_000, 0.02, "TimeoutError: the warehouse query took longer than 300 s"),
    ("crm_sync", "sync", 800, 54_000, 0.12, "ConnectionError: CRM API answered 503 Service Unavailable"),
    ("csv_export", "export", 2600, 71_000, 0.0, None),
)
ADMIN = Actor(role="admin", kind="session", label="session:3f9a1c", client="10.0.4.17")
DEPLOY = Actor(role="admin", kind="token", label="token:…7Qk2", client="10.0.9.3")


def history(hours: int = 24, seed: int = 7) -> list[dict[str, Any]]:
    """Ended tasks over the last ``hours``: busier by day, with a bad quarter of an hour just now."""
    rng = random.Random(seed)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for hour in range(hours, 0, -1):
        busy = 6 + int(6 * abs(12 - hour) / 12)
        for identifier, action, run_ms, memory, failure, error in HISTORY:
            for _ in range(rng.randint(1, busy)):
                finished = now - timedelta(hours=hour - 1, minutes=rng.randint(16, 59), seconds=rng.randint(0, 59))
                run = int(run_ms * rng.uniform(0.4, 1.8 if hour % 7 else 3.5))
                wait = rng.randint(20, 900 if hour % 5 else 12_000)
                failed = rng.random() < failure
                rows.append(
                    _ended(identifier, action, finished, run, wait, int(memory * rng.uniform(0.7, 1.3)), failed, error)
                )
    for minute in range(1, 14):  # the last quarter of an hour: the CRM is down, an alert fires
        finished = now - timedelta(minutes=minute)
        rows.append(_ended("crm_sync", "sync", finished, 900, 40, 52_000, minute % 3 != 0, HISTORY[2][5]))
    return rows


def _ended(
    identifier: str, action: str, finished: Any, run_ms: int, wait_ms: int, memory_kb: int, failed: bool, error: Any
) -> dict[str, Any]:
    started = finished - timedelta(milliseconds=run_ms)
    return {
        "identifier": identifier,
        "action": action,
        "status": int(Status.FAILED if failed else Status.FINISHED),
        "priority": "normal",
        "progress": 40 if failed else 100,
        "message": error if failed else "done",
        "error": error if failed else None,
        "attempts": 1,
        "max_attempts": 1,
        "created_at": started - timedelta(milliseconds=wait_ms),
        "started_at": started,
        "finished_at": finished,
        "run_ms": run_ms,
        "wait_ms": wait_ms,
        "peak_memory_kb": memory_kb,
    }


def run_burst(app: Flask) -> None:
    """Run every queued job in this process, then stop (RQ burst mode)."""
    worker = build_worker(app, kind="simple")
    try:
        with app.app_context():  # as `flask stask worker` runs it: jobs find the app
            worker.work(burst=True, logging_level="WARNING")
    finally:
        scheduler = worker.scheduler
        if scheduler is not None and scheduler._connection is not None:
            scheduler._connection.connection_pool.disconnect()


def seed(app: Flask) -> dict[str, int]:
    """Everything but the live tasks; returns the ids the gallery links to."""
    ids: dict[str, int] = {}
    with app.app_context():
        service = current_stask()
        session = service.db.session
        session.execute(sa.insert(Task), history())
        session.commit()
        rule = service.notifications.create(
            {
                "name": "Failed syncs to the ops channel",
                "identifier": "crm_sync",
                "events": ["failed", "stuck"],
                "channel": "webhook",
                "url": "https://hooks.example.com/stask",
                "format": "slack",
                "secret": "demo-secret",
            },
            created_by="token:…7Qk2",
        )
        ids["rule"] = rule.id
        service.notifications.create(
            {
                "name": "Reports to finance",
                "identifier": "reports",
                "events": ["finished"],
                "channel": "email",
                "to": ["finance@example.com"],
                "language": "de",
            },
            created_by="token:…7Qk2",
        )
        tasks = service.tasks
        ids["report"] = tasks.create("reports", "build", {"month": "2026-10", "region": "eu"}, priority="high").id
        tasks.create("reports", "build", {"month": "2026-10", "region": "us"})
        tasks.create("csv_export", "export", {"source": "tasks", "days": 7})
        ids["failed"] = tasks.create("crm_sync", "sync", {"account": "legacy"}).id
        tasks.create("crm_sync", "sync", {"account": "main"}, notify=["ops@example.com"])
        group = service.workflows.group(
            [
                {"identifier": "thumbnails", "action": "resize", "data": {"catalogue": "spring-2027", "photos": 8}},
                {"identifier": "reports", "action": "build", "data": {"month": "2026-11", "region": "apac"}},
                {"identifier": "crm_sync", "action": "sync", "data": {"account": "legacy"}},
            ],
            name="Month-end close",
            created_by="session:3f9a1c",
        )
        ids["group"] = group.id
        preset = service.presets.create(
            {
                "name": "EU sales report, last month",
                "identifier": "reports",
                "action": "build",
                "data": {"month": "2026-11", "region": "eu"},
                "priority": "high",
            },
            created_by="session:3f9a1c",
        )
        ids["preset"] = preset.id
        service.presets.create(
            {
                "name": "Sync the main CRM account",
                "identifier": "crm_sync",
                "action": "sync",
                "data": {"account": "main"},
            }
        )
        schedule = service.schedules.create(
            {
                "name": "Nightly CRM sync",
                "identifier": "crm_sync",
                "action": "sync",
                "data": {"account": "main"},
                "cron": "0 2 * * *",
                "timezone": "Europe/Kyiv",
            },
            created_by="session:3f9a1c",
        )
        ids["schedule"] = schedule.id
        service.schedules.create(
            {
                "name": "Catalogue thumbnails every 6 hours",
                "identifier": "thumbnails",
                "action": "resize",
                "data": {"catalogue": "spring-2027", "photos": 40},
                "interval": 6 * 3600,
            }
        )
        issued = service.triggers.create(
            {"name": "Shop: rebuild the report", "preset_id": preset.id, "signed": True}, created_by="token:…7Qk2"
        )
        ids["trigger"] = _issued_id(issued)
        session.commit()
    run_burst(app)
    with app.app_context():
        service = current_stask()
        for actor, action, target, details in (
            (DEPLOY, "worker.discover", "workers", {"added": ["reports", "thumbnails", "crm_sync", "orders_import"]}),
            (ADMIN, "worker.settings", "worker:reports", {"keys": ["upload_max_mb"]}),
            (ADMIN, "preset.create", f"preset:{ids['preset']}", {"name": "EU sales report, last month"}),
            (ADMIN, "schedule.create", f"schedule:{ids['schedule']}", {"name": "Nightly CRM sync"}),
            (DEPLOY, "trigger.create", f"trigger:{ids['trigger']}", {"name": "Shop: rebuild the report"}),
            (ADMIN, "task.retry", f"task:{ids['failed']}", None),
            (ADMIN, "cache.clear", "cache:workers", None),
        ):
            service.audit.record(actor, action, target, details)
    return ids


def _issued_id(issued: Any) -> int:
    trigger = getattr(issued, "trigger", issued)
    return int(trigger.id)


def start_live(app: Flask, worker_alive: Any, timeout: float = 30) -> dict[str, int]:
    """With a worker process up: one long running task, then pending, preparing, scheduled and cancelled ones."""
    ids: dict[str, int] = {}
    with app.app_context():
        service = current_stask()
        tasks = service.tasks
        running = tasks.create("thumbnails", "resize", {"catalogue": "autumn-2027", "photos": 6000}, priority="high")
        ids["running"] = running.id
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            service.db.session.expire_all()
            if tasks.get(running.id).status == int(Status.RUNNING):
                break
            if not worker_alive():
                raise RuntimeError("the worker process exited: see its log")
            time.sleep(0.2)
        else:
            raise RuntimeError(f"task {running.id} did not start within {timeout:.0f} s")
        ids["pending"] = tasks.create("reports", "build", {"month": "2026-11", "region": "us"}).id
        tasks.create("thumbnails", "resize", {"catalogue": "outlet", "photos": 120}, priority="low")
        preparing = tasks.create("csv_export", "export", {"source": "workers", "days": 0})
        service.db.session.execute(
            sa.update(Task).where(Task.id == preparing.id).values(status=int(Status.PREPARING), progress=5)
        )  # host code may set "preparing"; stask's own workers never do
        service.db.session.commit()
        later = utcnow() + timedelta(hours=2)
        ids["scheduled"] = tasks.create("reports", "build", {"month": "2026-12", "region": "eu"}, start_at=later).id
        cancelled = tasks.create("thumbnails", "resize", {"catalogue": "winter-2026", "photos": 60})
        tasks.cancel(cancelled.id)
    return ids
