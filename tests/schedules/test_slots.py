"""When slots fall: cron in a zone across daylight-saving changes, intervals, bounds, misfire, jitter.

Pure functions: no database, no clock. Europe/Kyiv in 2026 springs forward on 29 March at
03:00 (EET, UTC+2 -> EEST, UTC+3) and falls back on 25 October at 04:00 (-> 03:00).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from stask.scheduling.slots import (
    CATCH_UP_LIMIT,
    SlotError,
    Timing,
    jitter_seconds,
    next_slot,
    parse_cron,
    parse_zone,
    plan,
    prev_slot,
)

KYIV = parse_zone("Europe/Kyiv")
UTC = parse_zone("UTC")
ANCHOR = datetime(2026, 1, 1)


def cron(expression: str, zone: object = KYIV, **bounds: datetime) -> Timing:
    return Timing(parse_cron(expression), None, zone, ANCHOR, **bounds)  # type: ignore[arg-type]


def slots(timing: Timing, after: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    for _ in range(count):
        found = next_slot(timing, after)
        assert found is not None
        out.append(found)
        after = found
    return out


# -- daylight saving -------------------------------------------------------------------------
def test_spring_forward_a_missing_wall_time_runs_once_shifted_by_the_gap() -> None:
    daily = cron("30 3 * * *")
    # 28 March 03:30 EET (UTC+2); 29 March 03:30 does not exist: 04:30 EEST; 30 March 03:30 EEST (UTC+3).
    assert slots(daily, datetime(2026, 3, 27, 23, 0), 3) == [
        datetime(2026, 3, 28, 1, 30),
        datetime(2026, 3, 29, 1, 30),
        datetime(2026, 3, 30, 0, 30),
    ]


def test_spring_forward_every_slot_of_the_gap_collapses_into_the_hour_after_it() -> None:
    quarterly = cron("*/15 * * * *")
    # 02:45 EET, then the gap (03:00-03:45 do not exist) -> 04:00 EEST (01:00 UTC), 04:15, ...
    assert slots(quarterly, datetime(2026, 3, 29, 0, 40), 4) == [
        datetime(2026, 3, 29, 0, 45),
        datetime(2026, 3, 29, 1, 0),
        datetime(2026, 3, 29, 1, 15),
        datetime(2026, 3, 29, 1, 30),
    ]


def test_fall_back_a_repeated_wall_time_runs_once_at_its_first_occurrence() -> None:
    daily = cron("30 3 * * *")
    # 25 October 03:30 happens at 00:30 UTC (EEST) and again at 01:30 UTC (EET): only the first.
    assert slots(daily, datetime(2026, 10, 24, 12, 0), 2) == [
        datetime(2026, 10, 25, 0, 30),
        datetime(2026, 10, 26, 1, 30),
    ]
    # Asked during the repeated hour itself, the second 03:30 is not offered either.
    assert next_slot(daily, datetime(2026, 10, 25, 1, 10)) == datetime(2026, 10, 26, 1, 30)


def test_fall_back_the_repeated_hour_has_no_runs_of_its_own() -> None:
    hourly = cron("@hourly")
    # 03:00 EEST = 00:00 UTC; the second 03:00 (01:00 UTC, EET) is skipped; 04:00 EET = 02:00 UTC.
    assert slots(hourly, datetime(2026, 10, 24, 23, 30), 3) == [
        datetime(2026, 10, 25, 0, 0),
        datetime(2026, 10, 25, 2, 0),
        datetime(2026, 10, 25, 3, 0),
    ]


def test_a_utc_schedule_ignores_kyiv_daylight_saving() -> None:
    assert slots(cron("30 3 * * *", UTC), datetime(2026, 3, 28, 12, 0), 2) == [
        datetime(2026, 3, 29, 3, 30),
        datetime(2026, 3, 30, 3, 30),
    ]


# -- expressions -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("alias", "expression"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@Weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("  0   3 * *  MON-FRI ", "0 3 * * MON-FRI"),
    ],
)
def test_aliases_and_spacing_are_normalised(alias: str, expression: str) -> None:
    assert parse_cron(alias) == expression


def test_aliases_fire_where_they_say() -> None:
    start = datetime(2026, 6, 10, 12, 34)
    assert next_slot(cron("@daily", UTC), start) == datetime(2026, 6, 11)
    assert next_slot(cron("@weekly", UTC), start) == datetime(2026, 6, 14)  # a Sunday
    assert next_slot(cron("@monthly", UTC), start) == datetime(2026, 7, 1)
    assert next_slot(cron("@yearly", UTC), start) == datetime(2027, 1, 1)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "0 0 3 * * *", "* * * *", "@reboot", "H * * * *", "0 H(0-5) * * *", "61 * * * *", "x y z a b", 5],
)
def test_bad_cron_expressions_are_refused(text: object) -> None:
    with pytest.raises(SlotError) as caught:
        parse_cron(text)
    assert caught.value.field == "cron"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", None])
def test_unknown_zones_are_refused(name: object) -> None:
    with pytest.raises(SlotError) as caught:
        parse_zone(name)
    assert caught.value.field == "timezone"


def test_both_or_neither_of_cron_and_interval_are_refused() -> None:
    with pytest.raises(SlotError):
        Timing("0 * * * *", 60, UTC, ANCHOR)
    with pytest.raises(SlotError):
        Timing(None, None, UTC, ANCHOR)
    with pytest.raises(SlotError) as caught:
        Timing(None, 0, UTC, ANCHOR)
    assert caught.value.field == "interval"


# -- intervals and bounds --------------------------------------------------------------------
def test_interval_slots_count_from_the_anchor() -> None:
    every = Timing(None, 300, KYIV, datetime(2026, 3, 29, 0, 58))
    assert next_slot(every, datetime(2026, 3, 1)) == datetime(2026, 3, 29, 0, 58)
    # Across the spring-forward jump: elapsed seconds, untouched by the wall clock.
    assert slots(every, datetime(2026, 3, 29, 0, 58), 2) == [datetime(2026, 3, 29, 1, 3), datetime(2026, 3, 29, 1, 8)]
    assert prev_slot(every, datetime(2026, 3, 29, 1, 7, 59)) == datetime(2026, 3, 29, 1, 3)
    assert prev_slot(every, datetime(2026, 3, 29, 0, 57)) is None


def test_start_and_end_dates_bound_the_slots() -> None:
    bounded = cron("0 12 * * *", UTC, start=datetime(2026, 5, 3, 12, 0), end=datetime(2026, 5, 4, 12, 0))
    assert next_slot(bounded, datetime(2026, 5, 1)) == datetime(2026, 5, 3, 12, 0)  # the start itself counts
    assert next_slot(bounded, datetime(2026, 5, 3, 12, 0)) == datetime(2026, 5, 4, 12, 0)  # so does the end
    assert next_slot(bounded, datetime(2026, 5, 4, 12, 0)) is None
    with pytest.raises(SlotError):
        cron("0 12 * * *", UTC, start=datetime(2026, 5, 4), end=datetime(2026, 5, 3))


def test_a_cron_that_never_matches_has_no_next_slot() -> None:
    assert next_slot(cron("0 0 31 2 *", UTC), datetime(2026, 1, 1)) is None


# -- misfire after one hour of downtime ---------------------------------------------------------
NOW = datetime(2026, 6, 10, 12, 0, 20)
EVERY_10_MIN = Timing(None, 600, UTC, datetime(2026, 6, 10, 0, 0))
MISSED = datetime(2026, 6, 10, 11, 0)  # the slot due when the downtime began


def drain(timing: Timing, slot: datetime, now: datetime, misfire: str) -> tuple[list[datetime], datetime | None]:
    """Fire until nothing is due, as repeated firing passes do: (slots that got a task, next slot)."""
    ran: list[datetime] = []
    due: datetime | None = slot
    while due is not None and due <= now:
        firing = plan(timing, due, now, misfire)
        ran.extend(firing.run)
        due = firing.next_run_at
    return ran, due


def test_skip_after_an_hour_of_downtime_runs_nothing_and_moves_past_now() -> None:
    ran, following = drain(EVERY_10_MIN, MISSED, NOW, "skip")
    assert ran == [] and following == datetime(2026, 6, 10, 12, 10)
    assert plan(EVERY_10_MIN, MISSED, NOW, "skip").skipped


def test_run_once_after_an_hour_of_downtime_runs_one_task_for_the_latest_slot() -> None:
    ran, following = drain(EVERY_10_MIN, MISSED, NOW, "run_once")
    assert ran == [datetime(2026, 6, 10, 12, 0)] and following == datetime(2026, 6, 10, 12, 10)


def test_catch_up_after_an_hour_of_downtime_runs_every_missed_slot() -> None:
    ran, following = drain(EVERY_10_MIN, MISSED, NOW, "catch_up")
    assert ran == [MISSED + timedelta(minutes=10 * k) for k in range(7)]
    assert following == datetime(2026, 6, 10, 12, 10)


@pytest.mark.parametrize("timing", [cron("* * * * *", UTC), Timing(None, 60, UTC, datetime(2026, 6, 1))])
def test_catch_up_keeps_only_the_most_recent_slots_beyond_its_limit(timing: Timing) -> None:
    ran, _following = drain(timing, NOW.replace(second=0) - timedelta(hours=3), NOW, "catch_up")
    assert len(ran) == CATCH_UP_LIMIT
    assert ran[-1] == NOW.replace(second=0) and ran == sorted(set(ran))


def test_a_slot_within_the_grace_runs_whatever_the_policy() -> None:
    for misfire in ("skip", "run_once", "catch_up"):
        firing = plan(EVERY_10_MIN, datetime(2026, 6, 10, 12, 0), NOW, misfire)
        assert firing.run == (datetime(2026, 6, 10, 12, 0),) and firing.skipped is None


# -- jitter ----------------------------------------------------------------------------------
def test_jitter_is_bounded_spread_and_the_same_for_a_slot_wherever_computed() -> None:
    start = datetime(2026, 1, 1)
    values = [jitter_seconds(7, start + timedelta(minutes=k), 30) for k in range(1000)]
    assert min(values) == 0 and max(values) == 30
    assert len(set(values)) == 31
    assert values == [jitter_seconds(7, start + timedelta(minutes=k), 30) for k in range(1000)]
    assert jitter_seconds(7, start, 0) == 0
    assert [jitter_seconds(8, start + timedelta(minutes=k), 30) for k in range(50)] != values[:50]
