"""Hourly aggregates of finished tasks (Horizon-style snapshots) in ``s_stats_hourly``.

One row per (hour, worker, action) holds the counts per outcome and the exact
distribution of run and wait times as ``[[milliseconds, count], ...]`` pairs, so
percentiles merged from many hours stay exact. Rows are written lazily when figures
are read (:func:`stask.monitoring.metrics.ensure_rollups`), never on the task path, and are
never deleted by ``cleanup``: charts over weeks keep working after old tasks are gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, Timestamp, utcnow


class HourlyStats(Base):
    __tablename__ = "s_stats_hourly"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    #: Start of the hour (naive UTC) in which the tasks finished.
    hour: Mapped[datetime] = mapped_column(Timestamp)
    identifier: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    finished: Mapped[int] = mapped_column(sa.Integer, default=0)
    failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    cancelled: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: Tasks that needed more than one attempt.
    retried: Mapped[int] = mapped_column(sa.Integer, default=0)
    memory_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    memory_sum: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    memory_max: Mapped[int | None] = mapped_column(sa.Integer)
    #: ``[[run_ms, count], ...]`` — every distinct value, so percentiles stay exact.
    run_hist: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    wait_hist: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    #: ``[[message, count, last ISO time], ...]`` — the most frequent failure messages.
    errors: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("hour", "identifier", "action", name="uq_s_stats_hourly_key"),)

    def __repr__(self) -> str:
        return f"<HourlyStats {self.hour:%Y-%m-%d %H}h {self.identifier}.{self.action}>"
