"""Schedule rows and their tasks written straight to the tables, for the monitoring tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from stask.models import StoredSchedule, utcnow
from tests.support.monitoring import add_rows


def schedule(stask: Any, **changes: Any) -> int:
    """A schedule row written straight to the table (the firing path is not under test here)."""
    now = utcnow()
    values = {
        "name": "nightly",
        "identifier": "echo",
        "action": "say",
        "data": {},
        "priority": "normal",
        "interval": 3600,
        "timezone": "UTC",
        "enabled": True,
        "misfire": "run_once",
        "overlap": "skip",
        "jitter": 0,
        "anchor": now - timedelta(hours=1),
        "next_run_at": now + timedelta(minutes=30),
        "source": "panel",
        "created_at": now,
        "updated_at": now,
        **changes,
    }
    result = stask.db.session.execute(sa.insert(StoredSchedule).values(**values))
    stask.db.session.commit()
    return int(result.inserted_primary_key[0])


def set_row(stask: Any, schedule_id: int, **values: Any) -> None:
    stask.db.session.execute(sa.update(StoredSchedule).where(StoredSchedule.id == schedule_id).values(**values))
    stask.db.session.commit()


def runs(stask: Any, schedule_id: int, statuses: list[int]) -> None:
    """Tasks of the schedule, oldest first; the schedule's last_task_id points at the newest."""
    now = utcnow()
    for k, status in enumerate(statuses):
        add_rows(
            stask,
            [
                {
                    "status": status,
                    "schedule_id": schedule_id,
                    "scheduled_for": now - timedelta(hours=len(statuses) - k),
                    "error": "RuntimeError: boom\nValueError: the disk is full" if status == 100 else None,
                    "finished_at": now - timedelta(hours=len(statuses) - k),
                }
            ],
        )
    last = stask.db.session.execute(sa.text("SELECT max(id) FROM s_tasks")).scalar()
    set_row(stask, schedule_id, last_task_id=last, last_run_at=now - timedelta(hours=1))
