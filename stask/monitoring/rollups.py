"""Aggregates of finished tasks per hour (``s_stats_hourly``) and per day (``s_stats_daily``).

One row per (period, worker, action) holds the counts per outcome and the distribution of run
and wait times as counts per bucket of two significant figures
(:func:`stask.monitoring.metrics.bucket`), so percentiles merged from many periods stay within
a bucket. Each period also has one row for every worker together (identifier and action
:data:`ALL`), which is what the summary reads: a 30-day summary reads 30 day rows and the hours
at its two ends, not 720 × workers × actions rows.

Hours are rolled by the workers' maintenance pass (and, as a fallback, by a read that finds an
hour missing), never on the task path; a day is rolled from its 24 hour rows once all of them
are. Rows are never deleted by ``cleanup``: charts over weeks keep working after old tasks are
gone. ``flask stask rollups rebuild`` rolls every hour that still has tasks again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, Timestamp, utcnow

#: Identifier and action of the rows that hold every worker of a period together.
ALL = "*"


class _Figures:
    """The columns an hour row and a day row share."""

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    #: Start of the period (naive UTC) in which the tasks finished: an hour, or a day's midnight.
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
    #: Tasks per run-time bucket, a dense list indexed by ``metrics.bucket_index`` (two significant
    #: figures); rows rolled before migration 0011 hold ``[[run_ms, count], ...]`` pairs instead.
    run_hist: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    wait_hist: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    #: ``[[message, count, last ISO time], ...]`` — the most frequent failure messages.
    errors: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    #: The p95 run time of the row's tasks (the hourly series reads it without the histogram).
    run_p95: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class HourlyStats(_Figures, Base):
    __tablename__ = "s_stats_hourly"
    __table_args__ = (sa.UniqueConstraint("hour", "identifier", "action", name="uq_s_stats_hourly_key"),)

    def __repr__(self) -> str:
        return f"<HourlyStats {self.hour:%Y-%m-%d %H}h {self.identifier}.{self.action}>"


class DailyStats(_Figures, Base):
    """The same figures per day (``hour`` is the day's midnight), merged from its hour rows."""

    __tablename__ = "s_stats_daily"
    __table_args__ = (sa.UniqueConstraint("hour", "identifier", "action", name="uq_s_stats_daily_key"),)

    def __repr__(self) -> str:
        return f"<DailyStats {self.hour:%Y-%m-%d} {self.identifier}.{self.action}>"


class SliceStats(_Figures, Base):
    """The same figures per five minutes (``hour`` is the slice's start), kept for
    ``rolling.SLICE_RETENTION``: a window's partial hours are read from these, so a read scans
    at most the few minutes at each end of its window."""

    __tablename__ = "s_stats_slices"
    __table_args__ = (sa.UniqueConstraint("hour", "identifier", "action", name="uq_s_stats_slices_key"),)

    def __repr__(self) -> str:
        return f"<SliceStats {self.hour:%Y-%m-%d %H:%M} {self.identifier}.{self.action}>"
