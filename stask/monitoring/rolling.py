"""Writing the rollups of :mod:`stask.monitoring.rollups`: closed hours from the task rows, days
from their hours, and the whole again on request (:func:`rebuild`).

Who rolls: the workers' maintenance pass (:func:`maintain_rollups`, one process at a time), so
reads find the hours done; a read that finds a closed hour missing (no maintenance ran since)
rolls it itself, as before. Rolled hours and rolled days each form one contiguous range, found
as [oldest row, newest row] in one statement; empty marker rows (identifier ``""``) hold the
ends of a quiet range. Idempotent and safe between processes: the unique keys make a second
writer's insert fail, and that writer uses the rows the first one wrote.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from ..enums import Status
from ..models import Task, utcnow
from . import counters
from .metrics import (
    ERRORS_PER_ROLLUP,
    HOUR,
    MARKER,
    SLICE,
    Key,
    Stats,
    ceil_hour,
    ceil_slice,
    floor_hour,
    floor_slice,
    iso,
    rollup_stats,
    scan,
)
from .rollups import ALL, DailyStats, HourlyStats, SliceStats

log = logging.getLogger("stask")

DAY = timedelta(days=1)
#: A period is rolled up only this long after it ended, so late finish statements are counted.
ROLLUP_GRACE = timedelta(minutes=2)
#: Five-minute slices are kept this long: windows up to 31 days (the page's 720 h included) read
#: their partial hours from them (about 9 rows per slice: 80,000 rows for a month of 8 workers).
SLICE_RETENTION = timedelta(days=32)
FINAL = [int(Status.FINISHED), int(Status.CANCELLED), int(Status.FAILED)]
Rollup = type[HourlyStats] | type[DailyStats]


def floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_day(moment: datetime) -> datetime:
    floor = floor_day(moment)
    return floor if floor == moment else floor + DAY


def _ranges(ends: tuple[Any, Any], want: tuple[datetime | None, datetime], step: timedelta) -> list[Any]:
    """The parts of ``want`` (from, to) outside the rolled range ``ends`` (oldest, newest)."""
    oldest, newest = ends
    low, high = want
    if newest is None:
        return [(low, high)] if low is None or low < high else []
    out = []
    if newest + step < high:
        out.append((newest + step, high))
    if low is not None and low < oldest:
        out.append((low, oldest))
    return out


@dataclass
class Rolled:
    """What the rollups cover after :func:`ensure_rollups`: whole hours (and the days they
    complete) up to ``hours_end``; five-minute slices from ``slices_from`` to ``slices_end``."""

    hours_end: datetime
    slices_from: datetime
    slices_end: datetime


def ensure_rollups(session: Session, now: datetime, since: datetime | None = None) -> Rolled:
    """Roll the closed hours from ``since`` (default: all) to ``now``, the days they complete, and
    the closed five-minute slices of the last :data:`SLICE_RETENTION`; drop older slices.

    One statement when nothing is missing.
    """
    hours_end = floor_hour(now - ROLLUP_GRACE)
    slices_end = floor_slice(now - ROLLUP_GRACE)
    slices_from = ceil_slice(now - SLICE_RETENTION)
    want_from = ceil_hour(since) if since is not None else None
    ends = session.execute(
        sa.select(
            *[
                sa.select(function(model.hour)).scalar_subquery()
                for model in (HourlyStats, DailyStats, SliceStats)
                for function in (sa.func.min, sa.func.max)
            ]
        )
    ).one()
    rows: list[Any] = []
    hour_ends = _roll(session, HourlyStats, HOUR, (ends[0], ends[1]), (want_from, hours_end), rows)
    if hour_ends[0] is not None and hour_ends[1] is not None:
        day_want = (ceil_day(hour_ends[0]), floor_day(hour_ends[1] + HOUR))
        if day_want[0] < day_want[1]:
            for low, high in _ranges((ends[2], ends[3]), day_want, DAY):
                rows += _roll_days(session, rows, low, high)
    slice_want = (max(slices_from, ceil_slice(since)) if since is not None else slices_from, slices_end)
    before = len(rows)
    _roll(session, SliceStats, SLICE, (ends[4], ends[5]), slice_want, rows)
    if len(rows) > before:
        session.execute(sa.delete(SliceStats).where(SliceStats.hour < slices_from))
    session.add_all(rows)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another process rolled the same periods first
    return Rolled(hours_end, slices_from, slices_end)


def _roll(
    session: Session,
    model: Any,
    period: timedelta,
    ends: tuple[Any, Any],
    want: tuple[datetime | None, datetime],
    rows: list[Any],
) -> tuple[Any, Any]:
    """Append to ``rows`` the rollups of the periods of ``want`` outside the rolled range ``ends``
    (one scan per missing range); returns the rolled range afterwards (oldest, newest start)."""
    missing = _ranges(ends, want, period)
    written: list[Any] = []
    for low, high in missing:
        condition = Task.finished_at < high
        if low is not None:
            condition = sa.and_(condition, Task.finished_at >= low)
        found = {key: stats for key, stats in scan(session, condition, period).items() if key[0] < high}
        written += [_row(model, key, stats) for key, stats in found.items()]
        written += [_row(model, key, stats) for key, stats in _combined(found).items()]
        # Empty rows mark both ends as rolled, so quiet periods at the edges are not scanned again.
        starts = {key[0] for key in found}
        for edge in {low, high - period} - starts - {None}:
            written.append(_row(model, (edge, MARKER, MARKER), Stats()))  # type: ignore[arg-type]
    rows += written
    if not missing:
        return ends
    lows = [low for low, _high in missing]
    oldest = None if None in lows else min([*lows, *([ends[0]] if ends[0] else [])])
    return (oldest if oldest is not None else _first_start(written), want[1] - period)


def _first_start(rows: list[Any]) -> datetime | None:
    return min((row.hour for row in rows), default=None)


def _combined(found: dict[Key, Stats]) -> dict[Key, Stats]:
    """One :data:`ALL` row per period: every worker and action of it together."""
    out: dict[Key, Stats] = {}
    for (hour, _identifier, _action), stats in found.items():
        out.setdefault((hour, ALL, ALL), Stats()).merge(stats)
    return out


def _roll_days(session: Session, pending: list[Any], low: datetime, high: datetime) -> list[DailyStats]:
    """Day rows for the days in [low, high), merged from their hour rows (those written in this
    pass are still in ``pending``); a day without tasks gets a marker row."""
    parts: dict[Key, Stats] = {}
    fresh = [row for row in pending if isinstance(row, HourlyStats) and low <= row.hour < high]
    stored = session.scalars(
        sa.select(HourlyStats).where(HourlyStats.hour >= low, HourlyStats.hour < high, HourlyStats.identifier != MARKER)
    )
    for row in [*stored, *fresh]:
        if row.identifier == MARKER:
            continue
        parts.setdefault((floor_day(row.hour), row.identifier, row.action), Stats()).merge(from_rollup(row))
    out = [_row(DailyStats, key, stats) for key, stats in parts.items()]
    days = {key[0] for key in parts}
    day = low
    while day < high:
        if day not in days:
            out.append(_row(DailyStats, (day, MARKER, MARKER), Stats()))  # type: ignore[arg-type]
        day += DAY
    return out


def _row(model: Any, key: Key, stats: Stats) -> Any:
    errors = sorted(stats.errors.items(), key=lambda item: (-item[1][0], item[0]))[:ERRORS_PER_ROLLUP]
    return model(
        hour=key[0],
        identifier=key[1],
        action=key[2],
        finished=stats.finished,
        failed=stats.failed,
        cancelled=stats.cancelled,
        retried=stats.retried,
        memory_count=stats.memory_count,
        memory_sum=stats.memory_sum,
        memory_max=stats.memory_max,
        run_hist=stats.run.dense(),
        wait_hist=stats.wait.dense(),
        errors=[[message, count, iso(last)] for message, (count, last) in errors],
        run_p95=stats.run.percentile(95),
        created_at=utcnow(),
    )


def from_rollup(row: Any) -> Stats:
    """A rollup row read through the ORM (its JSON columns already decoded)."""
    return rollup_stats(row, row.run_hist, row.wait_hist, row.errors)


# -- entry points ------------------------------------------------------------------------------
def roll_up(session: Session, now: datetime | None = None) -> Rolled:
    """Roll the hours (and days) closed since the newest rollup: one small statement when none did."""
    return ensure_rollups(session, now or utcnow())


def maintain_rollups(app: Any, now: datetime | None = None) -> None:
    """The maintenance pass's roll-up (:func:`stask.monitoring.alerts.deliver_alerts` calls it when
    a worker's maintenance or ``flask stask alerts`` runs it): closed hours are rolled here, so no
    page read has to. Errors are logged: figures then fall back to rolling on read."""
    session: Any = app.extensions["stask"].db.session
    try:
        roll_up(session, now)
    except SQLAlchemyError:
        session.rollback()
        log.warning("stask: rolling up closed hours failed; reads will roll them", exc_info=True)


def rebuild(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Recount ``s_task_counts`` and roll every closed hour and day again from the rows (for
    operators upgrading a database, and the bench after it generates rows). Rollups of hours
    whose tasks cleanup already deleted are kept (and get their :data:`ALL` rows if they lack them)."""
    counted = counters.rebuild(session)
    session.commit()
    first = session.scalar(sa.select(sa.func.min(Task.finished_at)).where(Task.status.in_(FINAL)))
    since = floor_day(first) if first is not None else None  # whole days: the first one gets its day row
    if since is not None:
        session.execute(sa.delete(HourlyStats).where(HourlyStats.hour >= since))
    session.execute(sa.delete(DailyStats))
    session.execute(sa.delete(SliceStats))
    old = list(session.scalars(sa.select(HourlyStats).where(HourlyStats.identifier != MARKER)))
    have_all = {row.hour for row in old if row.identifier == ALL}
    kept = {(row.hour, row.identifier, row.action): from_rollup(row) for row in old if row.hour not in have_all}
    session.add_all(_row(HourlyStats, key, stats) for key, stats in _combined(kept).items())
    session.commit()
    ensure_rollups(session, now or utcnow(), since)
    hours = int(session.scalar(sa.select(sa.func.count(sa.distinct(HourlyStats.hour)))) or 0)
    session.commit()
    return {"counters": counted, "hours": hours}
