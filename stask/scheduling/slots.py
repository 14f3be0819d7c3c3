"""When a schedule's slots fall: pure functions of a :class:`Timing` and naive UTC instants.

No database, no clock: every function takes the instant it reasons about, so the tests can
walk through daylight-saving changes and downtimes without waiting for them.

Rules (docs/schedules.md says the same):

* **Cron** expressions have 5 fields (minute hour day-of-month month day-of-week) or one of
  the aliases in :data:`ALIASES`; seconds fields, ``@reboot`` and croniter's ``H``/``R``
  extensions are refused. Slots follow the **wall clock of the schedule's time zone**:
  ``0 3 * * *`` in ``Europe/Kyiv`` runs at 03:00 Kyiv time, summer and winter.
* **Spring forward** (a wall time that does not exist, Kyiv 03:00-04:00 on the last Sunday
  of March): the slot is shifted forward by the gap (03:30 runs at 04:30, PEP 495's reading
  of a missing time); a shifted slot that falls on or before a slot that already ran is
  dropped, so every slot of the gap collapses into the hour after it and nothing runs twice.
* **Fall back** (a wall time that happens twice, Kyiv 03:00-04:00 on the last Sunday of
  October): the slot runs once, at its first occurrence. The repeated hour has no runs of
  its own, even for ``*/5 * * * *``: use an interval schedule for elapsed-time periods.
* **Intervals** count whole seconds from the anchor (the start date, else the creation
  time) in UTC: daylight saving does not touch them.
* ``start_date`` and ``end_date`` bound the slots (both inclusive).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

#: The aliases accepted for ``cron``, as the 5-field expressions they stand for.
ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
#: ``skip``: missed slots are dropped; ``run_once``: one task stands for all of them;
#: ``catch_up``: one task per missed slot, the most recent :data:`CATCH_UP_LIMIT` only.
MISFIRE_POLICIES = ("skip", "run_once", "catch_up")
#: ``skip``: no new task while the schedule's last task is queued or running; ``allow``: always.
OVERLAP_POLICIES = ("skip", "allow")
#: A slot fired later than this is "missed" and its misfire policy applies.
MISFIRE_GRACE = timedelta(seconds=60)
#: ``catch_up`` creates at most this many tasks for one downtime; older missed slots are dropped.
CATCH_UP_LIMIT = 100
#: Upper bounds of ``jitter`` and ``interval`` (seconds).
MAX_JITTER = 3600
MAX_INTERVAL = 366 * 86400
MAX_CRON_LENGTH = 120
#: What an IANA zone name looks like (every name of the tz database does); the OpenAPI document states it.
ZONE_PATTERN = r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$"
MAX_ZONE_LENGTH = 64
_ZONE_RE = re.compile(ZONE_PATTERN)
_UTC = timezone.utc
#: croniter's hashed (``H``) and random (``R``) extensions: not cron, refused.
_EXTENSION = re.compile(r"(?:^|[,/\-])[HR](?![A-Za-z])")


class SlotError(ValueError):
    """A cron expression, zone or bound that cannot describe slots; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_cron(text: object) -> str:
    """A cron expression as stored: 5 fields separated by one space, or its alias's expansion."""
    if not isinstance(text, str) or not text.strip():
        raise SlotError("cron", "cron must be a non-empty string such as '0 3 * * *'")
    if len(text) > MAX_CRON_LENGTH:
        raise SlotError("cron", f"cron must be at most {MAX_CRON_LENGTH} characters")
    expression = " ".join(text.split())
    if expression.startswith("@"):
        alias = expression.lower()
        if alias not in ALIASES:
            raise SlotError("cron", f"cron alias {expression[:20]!r} is not one of {', '.join(ALIASES)}")
        return ALIASES[alias]
    fields = expression.split(" ")
    if len(fields) != 5:
        raise SlotError(
            "cron", f"cron must have 5 fields (minute hour day month weekday), got {len(fields)}: {expression[:40]!r}"
        )
    if any(_EXTENSION.search(field) for field in fields):
        raise SlotError("cron", "cron must not use H or R (croniter extensions, not cron)")
    if not croniter.is_valid(expression):
        raise SlotError("cron", f"cron {expression[:40]!r} is not a valid cron expression")
    return expression


def parse_zone(name: object) -> ZoneInfo:
    """An IANA time zone (``Europe/Kyiv``, ``UTC``)."""
    if not isinstance(name, str) or len(name) > MAX_ZONE_LENGTH or not _ZONE_RE.fullmatch(name):
        raise SlotError("timezone", f"timezone {str(name)[:40]!r} is not an IANA time zone such as Europe/Kyiv")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise SlotError("timezone", f"timezone {name[:40]!r} is not an IANA time zone such as Europe/Kyiv") from None


@dataclass(frozen=True)
class Timing:
    """What decides a schedule's slots. Instants are naive UTC, as stored."""

    cron: str | None
    interval: int | None
    zone: ZoneInfo
    anchor: datetime
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.interval is None):
            raise SlotError("cron", "give either cron or interval, not both or neither")
        if self.interval is not None and not 1 <= self.interval <= MAX_INTERVAL:
            raise SlotError("interval", f"interval must be from 1 to {MAX_INTERVAL} seconds")
        if self.start and self.end and self.end < self.start:
            raise SlotError("end_date", "end_date must not be before start_date")


def next_slot(timing: Timing, after: datetime) -> datetime | None:
    """The first slot strictly after ``after``, or None when there is none (past the end)."""
    if timing.start is not None and after < timing.start:
        after = timing.start - timedelta(microseconds=1)  # a slot at the start itself counts
    slot = _next_interval(timing, after) if timing.interval else _next_cron(timing, after)
    if slot is None or (timing.end is not None and slot > timing.end):
        return None
    return slot


def prev_slot(timing: Timing, at: datetime) -> datetime | None:
    """The last slot at or before ``at`` (and within the bounds), or None."""
    if timing.end is not None and at > timing.end:
        at = timing.end
    slot = _prev_interval(timing, at) if timing.interval else _prev_cron(timing, at)
    if slot is None or (timing.start is not None and slot < timing.start):
        return None
    return slot


def _next_interval(timing: Timing, after: datetime) -> datetime:
    assert timing.interval is not None
    anchor = timing.anchor
    if after < anchor:
        return anchor
    steps = math.floor((after - anchor).total_seconds() / timing.interval) + 1
    return anchor + timedelta(seconds=steps * timing.interval)


def _prev_interval(timing: Timing, at: datetime) -> datetime | None:
    assert timing.interval is not None
    if at < timing.anchor:
        return None
    steps = math.floor((at - timing.anchor).total_seconds() / timing.interval)
    return timing.anchor + timedelta(seconds=steps * timing.interval)


def wall_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock time of a naive UTC instant."""
    return instant.replace(tzinfo=_UTC).astimezone(zone).replace(tzinfo=None)


def utc_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The naive UTC instant of a wall-clock time: the first of two (fall back), shifted by the gap (spring forward)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(_UTC).replace(tzinfo=None)


#: Wall-clock candidates examined before giving up (a repeated hour of ``* * * * *`` needs 60).
_MAX_STEPS = 1000


def _next_cron(timing: Timing, after: datetime) -> datetime | None:
    assert timing.cron is not None
    candidates = croniter(timing.cron, wall_time(after, timing.zone))
    try:
        for _ in range(_MAX_STEPS):
            slot = utc_instant(candidates.get_next(datetime), timing.zone)
            if slot > after:  # a wall time of the repeated hour may resolve to before ``after``
                return slot
    except CroniterError:  # no date matches (``0 0 31 2 *``)
        return None
    return None


def _prev_cron(timing: Timing, at: datetime) -> datetime | None:
    assert timing.cron is not None
    # get_prev is strictly before its start: start a microsecond later so ``at`` itself counts.
    candidates = croniter(timing.cron, wall_time(at, timing.zone) + timedelta(microseconds=1))
    try:
        for _ in range(_MAX_STEPS):
            slot = utc_instant(candidates.get_prev(datetime), timing.zone)
            if slot <= at:
                return slot
    except CroniterError:
        return None
    return None


@dataclass(frozen=True)
class Firing:
    """What to do with a due slot: the slots that get a task, the next slot, and why any were dropped."""

    run: tuple[datetime, ...]
    next_run_at: datetime | None
    skipped: str | None = None


def plan(timing: Timing, slot: datetime, now: datetime, misfire: str) -> Firing:
    """Apply the misfire policy to the due ``slot`` (``slot <= now``); pure, so a retried claim plans the same.

    On time (within :data:`MISFIRE_GRACE`): the slot runs and the next one is the slot after
    it. Late: ``skip`` runs nothing and moves past ``now``; ``run_once`` runs one task for the
    latest missed slot and moves past ``now``; ``catch_up`` runs the slot and moves to the next
    one (still due: the next firing pass takes it), after dropping all but the most recent
    :data:`CATCH_UP_LIMIT` missed slots.
    """
    if now - slot <= MISFIRE_GRACE:
        return Firing((slot,), next_slot(timing, slot))
    if misfire == "skip":
        return Firing((), next_slot(timing, now), f"missed slot(s) from {slot:%Y-%m-%d %H:%M:%S} UTC skipped")
    if misfire == "run_once":
        latest = prev_slot(timing, now) or slot
        skipped = f"missed slots from {slot:%Y-%m-%d %H:%M:%S} UTC run once" if latest != slot else None
        return Firing((latest,), next_slot(timing, now), skipped)
    oldest = _catch_up_floor(timing, slot, now)
    skipped = None
    if oldest > slot:
        skipped = f"missed slots before {oldest:%Y-%m-%d %H:%M:%S} UTC dropped (catch_up keeps {CATCH_UP_LIMIT})"
    return Firing((oldest,), next_slot(timing, oldest), skipped)


def _catch_up_floor(timing: Timing, slot: datetime, now: datetime) -> datetime:
    """The oldest slot ``catch_up`` still runs: ``slot``, unless more than the limit are due since."""
    if timing.interval:
        due = math.floor((now - slot).total_seconds() / timing.interval) + 1
        if due <= CATCH_UP_LIMIT:
            return slot
        return slot + timedelta(seconds=(due - CATCH_UP_LIMIT) * timing.interval)
    walked: datetime | None = slot
    for _ in range(CATCH_UP_LIMIT):  # few due slots (the usual case): walk forward from the slot
        walked = next_slot(timing, walked) if walked is not None else None
        if walked is None or walked > now:
            return slot
    floor = prev_slot(timing, now)  # many: walk back from now to the limit-th most recent
    for _ in range(CATCH_UP_LIMIT - 1):
        earlier = prev_slot(timing, floor - timedelta(microseconds=1)) if floor is not None else None
        if earlier is None:
            return slot
        floor = earlier
    return max(floor or slot, slot)


def jitter_seconds(schedule_id: int, slot: datetime, jitter: int) -> int:
    """A delay from 0 to ``jitter`` seconds, the same for one schedule and slot wherever it is computed."""
    if jitter <= 0:
        return 0
    digest = hashlib.sha256(f"{schedule_id}:{slot.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (jitter + 1)
