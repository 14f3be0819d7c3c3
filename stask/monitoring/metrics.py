"""Performance figures computed when they are read, from the rows the engine already writes.

The task path pays nothing for metrics: the claim and finish statements store
``wait_ms``, ``run_ms``, ``peak_memory_kb``, ``attempts`` and ``finished_at``; this
module aggregates them in SQL at read time.

Cost at scale. A window is split into whole hours already rolled up into
``s_stats_hourly`` (read as a few small rows each) and at most two raw edges — the
partial first hour and the hours not yet closed — scanned through the ``finished_at``
index. Each scan is four ``GROUP BY`` statements (outcomes, run-time values, wait-time
values, error messages); the values come back as a histogram (one row per bucket), never
one row per task. Closed hours are rolled up by the workers' maintenance pass
(:func:`maintain_rollups`, from :func:`stask.monitoring.alerts.deliver_alerts`), so a read
normally finds them; a read only rolls hours itself when no maintenance ran since they closed.
Tasks per status (the live part of the totals) come from ``s_task_counts``
(:mod:`stask.monitoring.counters`), never from a count over ``s_tasks``.

Buckets: durations are kept to two significant figures (HDR-histogram style): exact below
100 ms, then 100, 110, ... 990, 1000, 1100, ... (a bucket's width is at most a tenth of its
lower bound). A value is reported as its bucket's lower bound, so a percentile, the average
and the maximum are at most 10 % below the exact figure (exact for values below 100 ms and
for values with two significant figures). That bounds a rollup row to about 90 pairs per
decade of durations, instead of one pair per distinct millisecond.

Percentiles use the nearest-rank definition on the bucketed values: the p-th percentile of N
values is the smallest value v such that at least ceil(p * N / 100) values are <= v (p50 of
1, 2, 3, 4 is 2; p95 of 1..100 is 95). Rates are judged on tasks that ended finished
or failed; cancelled tasks count in throughput but are neither success nor error.
"""

from __future__ import annotations

import json
import logging
import operator
import re
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate, zip_longest
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from ..enums import INCOMPLETE, Status
from ..models import Task, Worker, utcnow
from . import counters
from .rollups import HourlyStats

log = logging.getLogger("stask")

EPOCH = datetime(1970, 1, 1)
HOUR = timedelta(hours=1)
#: The longest window a request may ask for (a year).
MAX_HOURS = 24 * 366
FINAL = [int(Status.FINISHED), int(Status.CANCELLED), int(Status.FAILED)]
PERCENTILES = (50, 95)
#: Failure messages listed in a summary, kept per rollup row, and their length.
TOP_ERRORS = 10
ERRORS_PER_ROLLUP = 25
ERROR_CHARS = 200

Key = tuple[datetime, str, str]  # (hour, identifier, action)
#: Identifier of the empty rollup rows that only mark an hour as rolled (no worker has it).
MARKER = ""
#: Identifier and action of the rows of every worker together (``rollups.ALL``).
ALL_KEY = "*"
_WHOLE = re.compile(r"[0-9]{1,7}")


# -- the hour of a timestamp, in SQL, on each database ----------------------------------------
class _EpochPeriod(FunctionElement[int]):
    """Whole periods of :attr:`seconds` since 1970-01-01 of a naive UTC timestamp (rendered without
    bound parameters, so the same text can appear in SELECT and GROUP BY on PostgreSQL)."""

    type = sa.BigInteger()
    inherit_cache = True
    seconds = 1


class epoch_hour(_EpochPeriod):  # noqa: N801 (SQL function naming)
    """Whole hours since 1970-01-01."""

    inherit_cache = True
    name = "epoch_hour"
    seconds = 3600


class epoch_slice(_EpochPeriod):  # noqa: N801 (SQL function naming)
    """Whole :data:`SLICE` periods (five minutes) since 1970-01-01."""

    inherit_cache = True
    name = "epoch_slice"
    seconds = 5 * 60  # SLICE, below


@compiles(_EpochPeriod)
def _epoch_period_sqlite(element: _EpochPeriod, compiler: Any, **kw: Any) -> str:
    return f"(CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER) / {element.seconds})"


@compiles(_EpochPeriod, "postgresql")
def _epoch_period_postgresql(element: _EpochPeriod, compiler: Any, **kw: Any) -> str:
    epoch = f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"
    return f"CAST(FLOOR({epoch} / {element.seconds}) AS BIGINT)"


@compiles(_EpochPeriod, "mysql")
@compiles(_EpochPeriod, "mariadb")
def _epoch_period_mysql(element: _EpochPeriod, compiler: Any, **kw: Any) -> str:
    # Not UNIX_TIMESTAMP(): that one depends on the session time zone.
    since = f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {compiler.process(element.clauses, **kw)})"
    return f"({since} DIV {element.seconds})"


#: The period of the recent rollups (``s_stats_slices``): what a read may still scan at a window's ends.
SLICE = timedelta(minutes=5)


def floor_slice(moment: datetime) -> datetime:
    return EPOCH + SLICE * ((moment - EPOCH) // SLICE)


def ceil_slice(moment: datetime) -> datetime:
    floor = floor_slice(moment)
    return floor if floor == moment else floor + SLICE


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


# -- buckets -------------------------------------------------------------------------------
def bucket(value: int) -> int:
    """``value`` to two significant figures, rounded down (exact below 100)."""
    value = int(value)
    if value < 100:
        return value
    step = 10 ** (len(str(value)) - 2)
    return value - value % step


#: Decades handled by :func:`bucket_sql` (an INTEGER column holds at most 2**31 ms).
_SQL_DECADES = range(3, 11)


def bucket_sql(column: Any) -> Any:
    """:func:`bucket` in SQL (the same on the three databases: ``%`` on integers). Numbers are
    literals, not bound parameters, so PostgreSQL sees the same expression in GROUP BY."""

    def number(value: int) -> Any:
        return sa.literal_column(str(value), sa.Integer)

    whens = [(column < number(100), column)]
    for digits in _SQL_DECADES:
        whens.append((column < number(10**digits), column - column % number(10 ** (digits - 2))))
    return sa.case(*whens, else_=column)


# -- accumulators ---------------------------------------------------------------------------
def bucket_index(value: int) -> int:
    """The position of ``value``'s bucket: 0..99 for 0..99 ms, then 90 per decade (10..99 as the
    two leading digits). Negative durations (clocks of two hosts apart) count as 0."""
    value = max(0, int(value))
    if value < 100:
        return value
    digits = len(str(value))
    return 100 + (digits - 3) * 90 + value // 10 ** (digits - 2) - 10


def bucket_value(index: int) -> int:
    """The lower bound of the bucket at ``index`` (the inverse of :func:`bucket_index`)."""
    if index < 100:
        return index
    decade, lead = divmod(index - 100, 90)
    return (lead + 10) * 10 ** (decade + 1)


@dataclass
class Distribution:
    """Counts per bucket (:func:`bucket`), as a dense list indexed by :func:`bucket_index`: two
    distributions merge by adding lists (no per-value work), percentiles are exact to the bucket."""

    counts: list[int] = field(default_factory=list)

    def add(self, value: int, count: int) -> None:
        index = bucket_index(value)
        if index >= len(self.counts):
            self.counts.extend([0] * (index + 1 - len(self.counts)))
        self.counts[index] += int(count)

    def merge(self, other: Distribution) -> None:
        mine, theirs = self.counts, other.counts
        if len(mine) < len(theirs):
            mine = mine + [0] * (len(theirs) - len(mine))
        elif len(theirs) < len(mine):
            theirs = theirs + [0] * (len(mine) - len(theirs))
        self.counts = list(map(operator.add, mine, theirs))

    @classmethod
    def total(cls, parts: Iterable[Distribution]) -> Distribution:
        """A new distribution holding the sum of ``parts``, bucket by bucket in one pass (merging a
        month of rollup rows one by one built a new list per row: 2.4 times slower)."""
        lists = [part.counts for part in parts if part.counts]
        if len(lists) < 2:
            return cls(list(lists[0]) if lists else [])
        return cls(list(map(sum, zip_longest(*lists, fillvalue=0))))

    @classmethod
    def stored(cls, value: list[Any] | None) -> Distribution:
        """From a rollup column: the dense list, or the ``[[ms, count], ...]`` pairs rows rolled
        before migration 0011 hold."""
        if not value:
            return cls()
        if isinstance(value[0], list):
            found = cls()
            for ms, count in value:
                found.add(ms, count)
            return found
        return cls(list(value))  # JSON numbers are ints already

    def dense(self) -> list[int]:
        """The list as stored (without trailing zeros)."""
        end = len(self.counts)
        while end and not self.counts[end - 1]:
            end -= 1
        return self.counts[:end]

    @property
    def hist(self) -> dict[int, int]:
        """Bucket lower bound -> count, for the buckets that have values (in order)."""
        return {bucket_value(index): count for index, count in enumerate(self.counts) if count}

    @property
    def count(self) -> int:
        return sum(self.counts)

    def percentile(self, p: int) -> int | None:
        running = list(accumulate(self.counts))
        return _nearest_rank(running, p) if running and running[-1] else None

    def summary(self) -> dict[str, Any]:
        """Count, mean, :data:`PERCENTILES` and maximum from one pass over the buckets (a
        Performance page summarises a few dozen distributions)."""
        running = list(accumulate(self.counts))
        total = running[-1] if running else 0
        if not total:
            return {"count": 0, "avg": None, "p50": None, "p95": None, "max": None}
        last = len(running) - 1
        while not self.counts[last]:
            last -= 1
        return {
            "count": total,
            "avg": round(sum(map(operator.mul, self.counts, bucket_values(len(self.counts)))) / total, 1),
            **{f"p{p}": _nearest_rank(running, p) for p in PERCENTILES},
            "max": bucket_value(last),
        }


def _nearest_rank(running: list[int], p: int) -> int:
    """The ``p``-th percentile's bucket value from cumulative counts (a positive total)."""
    rank = max(1, -(-p * running[-1] // 100))  # ceil(p * total / 100) in integers
    return bucket_value(bisect_left(running, rank))


#: :func:`bucket_value` of every index up to 10**12 ms (run and wait times are INTEGER columns).
_BUCKET_VALUES = [bucket_value(index) for index in range(100 + 90 * 10)]


def bucket_values(n: int) -> list[int]:
    """:func:`bucket_value` of the first ``n`` indexes."""
    if n <= len(_BUCKET_VALUES):
        return _BUCKET_VALUES[:n]
    return [bucket_value(index) for index in range(n)]


@dataclass
class Stats:
    """Outcomes and distributions of the tasks that ended in one slice of time (or several merged)."""

    finished: int = 0
    failed: int = 0
    cancelled: int = 0
    retried: int = 0
    memory_count: int = 0
    memory_sum: int = 0
    memory_max: int | None = None
    run: Distribution = field(default_factory=Distribution)
    wait: Distribution = field(default_factory=Distribution)
    #: message -> (count, last time it happened)
    errors: dict[str, tuple[int, datetime | None]] = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return self.finished + self.failed + self.cancelled

    def add_outcome(self, status: int, count: int) -> None:
        if status == Status.FINISHED:
            self.finished += count
        elif status == Status.FAILED:
            self.failed += count
        elif status == Status.CANCELLED:
            self.cancelled += count

    def add_memory(self, count: int, total: int, maximum: int | None) -> None:
        self.memory_count += int(count or 0)
        self.memory_sum += int(total or 0)
        if maximum is not None:
            self.memory_max = max(self.memory_max or 0, int(maximum))

    def add_error(self, message: str, count: int, last: datetime | None) -> None:
        known, seen = self.errors.get(message, (0, None))
        if seen is not None and (last is None or seen > last):
            last = seen
        self.errors[message] = (known + int(count), last)

    @classmethod
    def total(cls, parts: Sequence[Stats]) -> Stats:
        """A new :class:`Stats` holding the sum of ``parts``, which are left as they are (so they
        may be shared, as :func:`parsed_rollup`'s are)."""
        maxima = [part.memory_max for part in parts if part.memory_max is not None]
        total = cls(
            finished=sum(part.finished for part in parts),
            failed=sum(part.failed for part in parts),
            cancelled=sum(part.cancelled for part in parts),
            retried=sum(part.retried for part in parts),
            memory_count=sum(part.memory_count for part in parts),
            memory_sum=sum(part.memory_sum for part in parts),
            memory_max=max(maxima) if maxima else None,
            run=Distribution.total(part.run for part in parts),
            wait=Distribution.total(part.wait for part in parts),
        )
        for part in parts:
            for message, (count, last) in part.errors.items():
                total.add_error(message, count, last)
        return total

    def merge(self, other: Stats) -> None:
        self.finished += other.finished
        self.failed += other.failed
        self.cancelled += other.cancelled
        self.retried += other.retried
        self.add_memory(other.memory_count, other.memory_sum, other.memory_max)
        self.run.merge(other.run)
        self.wait.merge(other.wait)
        for message, (count, last) in other.errors.items():
            self.add_error(message, count, last)

    def rates(self) -> tuple[float | None, float | None]:
        judged = self.finished + self.failed
        if not judged:
            return None, None
        return round(self.finished / judged, 4), round(self.failed / judged, 4)

    def top_errors(self, limit: int = TOP_ERRORS) -> list[dict[str, Any]]:
        ranked = sorted(self.errors.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
        return [{"message": message, "count": count, "last_seen": iso(last)} for message, (count, last) in ranked]

    def figures(self, minutes: float) -> dict[str, Any]:
        """The JSON figures of a summary (without the live counts of unfinished tasks)."""
        success_rate, error_rate = self.rates()
        return {
            "finished": self.finished,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "completed": self.completed,
            "retried": self.retried,
            "throughput_per_minute": round(self.completed / minutes, 3) if minutes > 0 else 0.0,
            "success_rate": success_rate,
            "error_rate": error_rate,
            "wait_ms": self.wait.summary(),
            "run_ms": self.run.summary(),
            "peak_memory_kb": {
                "count": self.memory_count,
                "avg": round(self.memory_sum / self.memory_count, 1) if self.memory_count else None,
                "max": self.memory_max,
            },
        }


# -- reading rows ---------------------------------------------------------------------------
def scan(session: Session, condition: Any, period: timedelta = HOUR) -> dict[Key, Stats]:
    """Aggregate the final task rows matching ``condition`` per (period, worker, action), the
    period an hour or a :data:`SLICE`: four statements (outcomes; run buckets; wait buckets;
    failure messages)."""
    outcomes, run, wait, errors = _scan_statements(period)
    # ``status + 0``: the finished_at range is the index to use. On the bare column PostgreSQL
    # ANDs in the status index (half a million failed rows read at ten million) for a few minutes' rows.
    where = sa.and_(condition, (Task.status + sa.literal_column("0")).in_(FINAL))
    out: dict[Key, Stats] = {}

    def stats(row: Any) -> Stats:
        key = (EPOCH + period * int(row[0]), row[1], row[2])
        found = out.get(key)
        if found is None:
            found = out[key] = Stats()
        return found

    for row in session.execute(outcomes.where(where)):
        target = stats(row)
        target.add_outcome(int(row[3]), int(row[4]))
        target.retried += int(row[5] or 0)
        target.add_memory(row[6], row[7], row[8])
    # Two statements, not one UNION ALL: PostgreSQL runs a UNION of two aggregates as a parallel
    # append, whose worker start-up (about 10 ms) is most of the cost of a few minutes' rows.
    for kind, values in (("run", run), ("wait", wait)):
        for row in session.execute(values.where(where)):
            getattr(stats(row), kind).add(row[3], row[4])
    for row in session.execute(errors.where(where)):
        stats(row).add_error(row[3] or "", row[4], row[5])
    return out


_SCANS: dict[timedelta, tuple[Any, Any, Any, Any]] = {}


def _scan_statements(period: timedelta) -> tuple[Any, Any, Any, Any]:
    """:func:`scan`'s four statements without the rows' condition, built once per period (building
    the histograms' CASE expressions was half of an empty scan's 4 ms)."""
    found = _SCANS.get(period)
    if found is not None:
        return found
    hour = epoch_hour(Task.finished_at) if period == HOUR else epoch_slice(Task.finished_at)
    keys = (hour, Task.identifier, Task.action)
    outcomes = sa.select(
        *keys,
        Task.status,
        sa.func.count(),
        sa.func.sum(sa.case((Task.attempts > 1, 1), else_=0)),
        sa.func.count(Task.peak_memory_kb),
        sa.func.sum(Task.peak_memory_kb),
        sa.func.max(Task.peak_memory_kb),
    ).group_by(*keys, Task.status)
    run, wait = (
        sa.select(*keys, value, sa.func.count()).where(column.is_not(None)).group_by(*keys, value)
        for column, value in ((c, bucket_sql(c)) for c in (Task.run_ms, Task.wait_ms))
    )
    message = sa.func.substr(
        sa.func.coalesce(Task.error, Task.message, sa.literal_column("''")),
        sa.literal_column("1"),
        sa.literal_column(str(ERROR_CHARS)),
    )
    errors = (
        sa.select(*keys, message, sa.func.count(), sa.func.max(Task.finished_at))
        .where(Task.status + sa.literal_column("0") == int(Status.FAILED))
        .group_by(*keys, message)
    )
    found = _SCANS[period] = (outcomes, run, wait, errors)
    return found


@dataclass
class Collected:
    """What a window is made of: the whole hours' figures from rollups, added up per (worker,
    action) and keyed by ``first``; figures scanned from the rows at the window's ends (keyed by
    hour) and five-minute slices; and the rolled range."""

    rolled: dict[Key, Stats] = field(default_factory=dict)
    #: The window's ends: scanned rows (keyed by hour) and five-minute slices (keyed by slice).
    raw: dict[Key, Stats] = field(default_factory=dict)
    #: [first, end) of the whole hours read from rollups (empty when first >= end).
    first: datetime = EPOCH
    end: datetime = EPOCH

    def parts(self) -> list[Stats]:
        return [*self.rolled.values(), *self.raw.values()]

    def by_worker_action(self) -> dict[tuple[str, str], Stats]:
        parts: dict[tuple[str, str], list[Stats]] = {}
        for (_start, identifier, action), stats in [*self.rolled.items(), *self.raw.items()]:
            parts.setdefault((identifier, action), []).append(stats)
        return {pair: Stats.total(found) for pair, found in parts.items()}


def gather(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    identifier: str | None = None,
    rollups: bool = True,
    combined: bool = False,
) -> Collected:
    """The tasks that ended in ``[start, end]``: whole days from day rollups, whole hours from hour
    rollups, the partial hours at both ends from five-minute slices, and only the minutes outside
    those from the rows. ``combined`` reads the rows of every worker together (:data:`ALL_KEY`),
    for the summary. Rollup rows are read in one statement, the rest in :func:`scan`'s four."""
    per_worker, together = _gather(
        session, start, end, identifier=identifier, rollups=rollups, want=(not combined, combined)
    )
    return together if combined else per_worker


def gather_both(session: Session, start: datetime, end: datetime) -> tuple[Collected, Collected]:
    """:func:`gather` of the window per worker and combined, from one read: the rollup rows of
    both kinds in one statement, the rows at the window's ends in one :func:`scan` (the
    Performance page shows the summary and the per-worker table of the same window)."""
    return _gather(session, start, end, identifier=None, rollups=True, want=(True, True))


def _gather(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    identifier: str | None,
    rollups: bool,
    want: tuple[bool, bool],
) -> tuple[Collected, Collected]:
    """(per worker, combined): each filled when ``want`` asks for it (see :func:`gather`)."""
    from .rolling import ceil_day, ensure_rollups, floor_day
    from .rollups import DailyStats, SliceStats

    wants_workers, wants_combined = want
    only = (Task.identifier == identifier) if identifier else sa.true()
    raw = [(start, end, True)]
    outs = (Collected(), Collected())
    if rollups:
        try:
            rolled = ensure_rollups(session, end, start)
            spans, raw = _cover(start, end, rolled)
            first_full, hours_end = ceil_hour(start), rolled.hours_end
            if first_full < hours_end:
                for out in outs:
                    out.first, out.end = first_full, hours_end
                day_from, day_to = ceil_day(first_full), floor_day(hours_end)
                if day_from < day_to:
                    spans.remove((HourlyStats, first_full, hours_end))
                    spans += [
                        (HourlyStats, first_full, day_from),
                        (DailyStats, day_from, day_to),
                        (HourlyStats, day_to, hours_end),
                    ]
            reads = []
            for model, low, high in spans:
                if low >= high:
                    continue
                table = model.__table__
                query = sa.select(*[_as_read(table, name) for name in _ROLLUP_COLUMNS]).where(
                    table.c.hour >= low, table.c.hour < high
                )
                if identifier:
                    query = query.where(table.c.identifier == identifier)
                elif wants_workers and wants_combined:
                    query = query.where(table.c.identifier != MARKER)
                elif wants_combined:
                    query = query.where(table.c.identifier == ALL_KEY)
                else:
                    query = query.where(table.c.identifier.not_in([ALL_KEY, MARKER]))
                reads.append((model is SliceStats, query))
            statement = sa.union_all(*[query for _slice, query in reads]) if len(reads) > 1 else None
            rows = session.execute(statement if statement is not None else reads[0][1]).all() if reads else []
            whole: dict[tuple[int, str, str], list[Stats]] = {}
            for row in rows:
                which = 1 if row.identifier == ALL_KEY and not identifier else 0
                found = parsed_rollup(row)
                if outs[which].first <= row.hour < outs[which].end:
                    whole.setdefault((which, row.identifier, row.action), []).append(found)
                else:  # slices lie outside the whole hours: the series takes them with the raw edges
                    outs[which].raw.setdefault((row.hour, row.identifier, row.action), Stats()).merge(found)
            for (which, ident, action), parts in whole.items():
                outs[which].rolled[outs[which].first, ident, action] = sum_of_kept(parts)
        except SQLAlchemyError:
            # No rollup tables (a host app that skipped the migrations): everything from raw rows.
            log.warning("stask: rollups unavailable, scanning raw rows", exc_info=True)
            session.rollback()
            outs = (Collected(), Collected())
            raw = [(start, end, True)]
    conditions = [
        sa.and_(Task.finished_at >= low, Task.finished_at <= high if closed else Task.finished_at < high)
        for low, high, closed in raw
        if low < high or closed
    ]
    if conditions:
        for key, stats in scan(session, sa.and_(sa.or_(*conditions), only)).items():
            if wants_combined:
                outs[1].raw.setdefault((key[0], ALL_KEY, ALL_KEY), Stats()).merge(stats)
            if wants_workers:
                outs[0].raw.setdefault(key, Stats()).merge(stats)
    session.commit()
    return outs


#: Rollup columns holding JSON: read as their text, parsed by :func:`parsed_rollup`.
_JSON_COLUMNS = ("run_hist", "wait_hist", "errors")
#: Parsed rollup rows kept by :func:`parsed_rollup` (a 30-day Performance page reads about 600).
PARSED_ROLLUPS = 1024
_parsed: OrderedDict[tuple[Any, ...], Stats] = OrderedDict()
_parsed_lock = threading.Lock()


def _as_read(table: sa.Table, name: str) -> Any:
    column = table.c[name]
    return sa.cast(column, sa.Text).label(name) if name in _JSON_COLUMNS else column


def rollup_stats(row: Any, run_hist: Any, wait_hist: Any, errors: Any) -> Stats:
    """The figures of a rollup row (hour, day or slice), its JSON columns given decoded."""
    stats = Stats(
        finished=row.finished,
        failed=row.failed,
        cancelled=row.cancelled,
        retried=row.retried,
        memory_count=row.memory_count,
        memory_sum=int(row.memory_sum or 0),
        memory_max=row.memory_max,
    )
    stats.run = Distribution.stored(run_hist)
    stats.wait = Distribution.stored(wait_hist)
    for message, count, last in errors or []:
        stats.add_error(message, count, datetime.fromisoformat(last.rstrip("Z")) if last else None)
    return stats


def parsed_rollup(row: Any) -> Stats:
    """The figures of a rollup row read with :data:`_ROLLUP_COLUMNS` (JSON as text), shared
    between reads: add them up with :meth:`Stats.total` or merge them into another, never into them.

    A closed period's rows stay the same (a rebuild writes new ones), and the Performance page
    reads the same few hundred of them at every refresh: their parsed figures are kept, keyed by
    the row's whole stored content, so an unchanged row is not parsed again (its histograms are
    most of a 30-day page's time otherwise) and a changed one never matches an old entry.
    """
    key = tuple(row)
    with _parsed_lock:
        found = _parsed.get(key)
        if found is not None:
            _parsed.move_to_end(key)
    if found is None:
        found = rollup_stats(
            row,
            json.loads(row.run_hist) if row.run_hist else None,
            json.loads(row.wait_hist) if row.wait_hist else None,
            json.loads(row.errors) if row.errors else None,
        )
        with _parsed_lock:
            _parsed[key] = found
            while len(_parsed) > PARSED_ROLLUPS:
                _parsed.popitem(last=False)
    return found


#: Sums of kept rollup figures (:func:`sum_of_kept`): a 30-day page's window has about ten.
SUMS_KEPT = 256
_sums: OrderedDict[tuple[int, ...], tuple[list[Stats], Stats]] = OrderedDict()


def sum_of_kept(parts: list[Stats]) -> Stats:
    """:meth:`Stats.total` of figures :func:`parsed_rollup` keeps, itself kept: until an hour
    closes, each refresh of a window reads the same kept days and hours, and adding up their
    histograms was the largest Python cost of a 30-day page. Keyed by the parts' identities: an
    entry holds its parts, so no identity is reused while it lives, and kept figures never change,
    so the same parts give the same sum. Shared like its parts: add it up, never merge into it."""
    key = tuple(map(id, parts))
    with _parsed_lock:
        found = _sums.get(key)
        if found is not None:
            _sums.move_to_end(key)
            return found[1]
    total = Stats.total(parts)
    with _parsed_lock:
        _sums[key] = (parts, total)
        while len(_sums) > SUMS_KEPT:
            _sums.popitem(last=False)
    return total


_ROLLUP_COLUMNS = (
    "hour",
    "identifier",
    "action",
    "finished",
    "failed",
    "cancelled",
    "retried",
    "memory_count",
    "memory_sum",
    "memory_max",
    "run_hist",
    "wait_hist",
    "errors",
)


def _cover(start: datetime, end: datetime, rolled: Any) -> tuple[list[Any], list[tuple[datetime, datetime, bool]]]:
    """Split ``[start, end]`` into rollup spans (model, from, to) and raw spans (from, to, closed):
    whole hours from hour rows, the partial hours from slices where slices exist, the rest raw."""
    from .rollups import HourlyStats as Hours
    from .rollups import SliceStats as Slices

    spans: list[Any] = []
    raw: list[tuple[datetime, datetime, bool]] = []
    first_full, hours_end = ceil_hour(start), rolled.hours_end
    left = ceil_slice(start)
    has_left = left >= rolled.slices_from
    if first_full < hours_end:
        if has_left:
            raw.append((start, left, False))
            spans.append((Slices, left, first_full))
        else:
            raw.append((start, first_full, False))
        spans.append((Hours, first_full, hours_end))
        tail = hours_end
    elif has_left and left < rolled.slices_end:
        raw.append((start, left, False))
        tail = left
    else:
        return spans, [(start, end, True)]
    if rolled.slices_end > tail:
        spans.append((Slices, tail, rolled.slices_end))
        tail = rolled.slices_end
    raw.append((tail, end, True))
    return spans, raw


def collect(
    session: Session, start: datetime, end: datetime, *, identifier: str | None = None, rollups: bool = True
) -> dict[Key, Stats]:
    """Statistics of the tasks that ended in ``[start, end]`` per (period, worker, action): the
    whole hours together per (worker, action), keyed by the first of them; the ends per hour or slice."""
    gathered = gather(session, start, end, identifier=identifier, rollups=rollups)
    out: dict[Key, Stats] = {}
    for key, stats in [*gathered.rolled.items(), *gathered.raw.items()]:
        out.setdefault(key, Stats()).merge(stats)
    return out


def unfinished_counts(session: Session, identifier: str | None = None) -> dict[tuple[str, int], int]:
    """Tasks queued, preparing or running now, per (worker, status): the live part of the totals,
    read from ``s_task_counts`` (kept by triggers), one statement over a few dozen rows."""
    live = {int(s) for s in INCOMPLETE}
    return {key: count for key, count in counters.counts(session, identifier).items() if key[1] in live}


# -- public figures --------------------------------------------------------------------------
def parse_hours(value: Any, default: int = 24) -> int:
    """The ``hours`` query parameter: a whole number from 1 to :data:`MAX_HOURS`; absent means
    ``default``, an empty value is bad input (as the OpenAPI document says)."""
    from ..exceptions import InvalidInput

    if value is None:
        return default
    text = str(value)
    if not _WHOLE.fullmatch(text) or not 1 <= int(text) <= MAX_HOURS:
        raise InvalidInput(f"hours must be a whole number from 1 to {MAX_HOURS}, got {value!r}")
    return int(text)


def _window(hours: int, now: datetime | None) -> tuple[datetime, datetime]:
    end = now or utcnow()
    return end - timedelta(hours=hours), end


def _live_totals(counts: dict[tuple[str, int], int]) -> dict[str, int]:
    totals = {"pending": 0, "preparing": 0, "running": 0}
    for (_identifier, status), count in counts.items():
        name = "pending" if status == Status.QUEUED else Status(status).text
        totals[name] += count
    return totals


def series(session: Session, gathered: Collected, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One point per hour of the window (partial first and last hours included) for the charts:
    rolled hours from the :data:`ALL_KEY` rows' counts and ``run_p95`` (one statement, no
    histogram read), the partial hours from the scanned rows."""
    points_of: dict[datetime, tuple[int, int, int, int | None]] = {}
    if gathered.first < gathered.end:
        rows = session.execute(
            sa.select(
                HourlyStats.hour, HourlyStats.finished, HourlyStats.failed, HourlyStats.cancelled, HourlyStats.run_p95
            ).where(
                HourlyStats.identifier == ALL_KEY, HourlyStats.hour >= gathered.first, HourlyStats.hour < gathered.end
            )
        ).all()
        session.commit()
        for row in rows:
            points_of[row[0]] = (int(row[1]), int(row[2]), int(row[3]), row[4])
    by_hour: dict[datetime, Stats] = {}
    for (moment, _identifier, _action), stats in gathered.raw.items():
        by_hour.setdefault(floor_hour(moment), Stats()).merge(stats)
    for hour, stats in by_hour.items():  # the raw hours are never rolled ones
        points_of[hour] = (stats.finished, stats.failed, stats.cancelled, stats.run.percentile(95))
    points = []
    hour = floor_hour(start)
    while hour <= end:
        finished, failed, cancelled, p95 = points_of.get(hour, (0, 0, 0, None))
        minutes = (min(hour + HOUR, end) - max(hour, start)).total_seconds() / 60
        judged = finished + failed
        points.append(
            {
                "hour": iso(hour),
                "finished": finished,
                "failed": failed,
                "cancelled": cancelled,
                "throughput_per_minute": round((finished + failed + cancelled) / minutes, 3) if minutes > 0 else 0.0,
                "failure_rate": round(failed / judged, 4) if judged else None,
                "run_ms_p95": p95,
            }
        )
        hour += HOUR
    return points


def summary(session: Session, hours: int = 24, *, now: datetime | None = None) -> dict[str, Any]:
    """Totals, throughput, rates, wait/run percentiles, memory, top errors and hourly series."""
    start, end = _window(hours, now)
    gathered = gather(session, start, end, combined=True)
    live = unfinished_counts(session)
    session.commit()
    return _summary(session, hours, start, end, gathered, live)


def _summary(
    session: Session,
    hours: int,
    start: datetime,
    end: datetime,
    gathered: Collected,
    live: dict[tuple[str, int], int],
) -> dict[str, Any]:
    total = Stats.total(gathered.parts())
    figures = total.figures(hours * 60)
    totals = {
        **_live_totals(live),
        "finished": total.finished,
        "cancelled": total.cancelled,
        "failed": total.failed,
        "completed": total.completed,
        "retried": total.retried,
    }
    return {
        "window": {"hours": hours, "from": iso(start), "to": iso(end)},
        "totals": totals,
        **{k: v for k, v in figures.items() if k not in ("finished", "failed", "cancelled", "completed", "retried")},
        "top_errors": total.top_errors(),
        "series": series(session, gathered, start, end),
    }


def worker_stats(
    session: Session, hours: int = 24, *, identifier: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The summary's figures per worker, each with the same per action. Registered workers
    without tasks in the window are listed with zeros, so a table shows every worker."""
    start, end = _window(hours, now)
    gathered = gather(session, start, end, identifier=identifier)
    return _worker_stats(session, hours, gathered, unfinished_counts(session, identifier), identifier)


def performance(session: Session, hours: int = 24, *, now: datetime | None = None) -> tuple[dict[str, Any], list[Any]]:
    """:func:`summary` and :func:`worker_stats` of one window together, as the Performance page
    shows them: the window and the live counts are read once for both (nine statements)."""
    start, end = _window(hours, now)
    per_worker, together = gather_both(session, start, end)
    live = unfinished_counts(session)
    session.commit()
    return _summary(session, hours, start, end, together, live), _worker_stats(session, hours, per_worker, live, None)


def _worker_stats(
    session: Session,
    hours: int,
    gathered: Collected,
    live: dict[tuple[str, int], int],
    identifier: str | None,
) -> list[dict[str, Any]]:
    per_pair = gathered.by_worker_action()
    query = sa.select(Worker.identifier, Worker.title, Worker.active).order_by(Worker.position, Worker.identifier)
    if identifier:
        query = query.where(Worker.identifier == identifier)
    registered = {row.identifier: (row.title, bool(row.active)) for row in session.execute(query)}
    session.commit()
    per_action: dict[str, dict[str, Stats]] = {}
    for (ident, action), stats in per_pair.items():
        per_action.setdefault(ident, {})[action] = stats
    seen = set(per_action) | {ident for ident, _status in live}
    names = list(registered) + sorted(seen - set(registered))
    minutes = hours * 60
    out = []
    for ident in names:
        actions = per_action.get(ident, {})
        overall = Stats.total(list(actions.values()))
        title, active = registered.get(ident, (ident, False))
        out.append(
            {
                "identifier": ident,
                "title": title or ident,
                "active": active,
                "registered": ident in registered,
                **_live_totals({k: v for k, v in live.items() if k[0] == ident}),
                **overall.figures(minutes),
                "top_errors": overall.top_errors(5),
                "actions": [{"action": action, **stats.figures(minutes)} for action, stats in sorted(actions.items())],
            }
        )
    return out
