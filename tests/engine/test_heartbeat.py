"""The heartbeat thread beats a newly tracked task within ``heartbeat_ttl``, even after an idle spell.

An idle thread used to sleep ``10 / 3`` s before looking at its tasks again. With a
``STASK_HEARTBEAT_TTL`` under 10 s, a task that started during that sleep had no
heartbeat key for longer than its TTL, so the reconcile step judged the live task dead
and queued a second run of it beside the first.
"""

from __future__ import annotations

import time
import uuid

import redis

from stask.engine.progress import Heartbeat, Keys, LiveProgress
from tests.support.waiting import wait_for


def make_live(client: redis.Redis, ttl: int) -> LiveProgress:
    return LiveProgress(client, Keys(f"hbtest-{uuid.uuid4().hex[:8]}"), 60, ttl)


def wait_until_idle(beat: Heartbeat, live: LiveProgress) -> None:
    """Until the thread sleeps its idle interval: tracking nothing, and planning no beat before a
    newly tracked task's first one (``ttl / 3`` from now) would be due."""
    first_beat = live.heartbeat_ttl / 3
    wait_for(
        lambda: not beat._tasks and beat._sleep_until - time.monotonic() > first_beat,
        timeout=10,
        what="the heartbeat thread to sleep its idle interval",
    )


def test_a_task_tracked_while_the_thread_idles_is_beaten_within_its_ttl(redis_client: redis.Redis) -> None:
    live = make_live(redis_client, ttl=2)
    beat = Heartbeat()
    beat.track(1, live)
    beat.untrack(1)
    wait_until_idle(beat, live)  # the thread has beaten nothing and sleeps its idle interval now
    beat.track(2, live)
    wait_for(lambda: live.redis.exists(live.keys.heartbeat(2)), timeout=1.6, what="a heartbeat within the 2 s ttl")
    assert beat.untrack(2) is True
    live.redis.delete(live.keys.heartbeat(2))


def test_a_short_task_still_costs_no_heartbeat(redis_client: redis.Redis) -> None:
    live = make_live(redis_client, ttl=3)
    beat = Heartbeat()
    beat.track(1, live)
    beat.untrack(1)
    wait_until_idle(beat, live)
    beat.track(2, live)
    assert beat.untrack(2) is False  # it ended before its first beat (ttl / 3 = 1 s after it started)
    beat.track(3, live)  # a task that runs on: its beat proves the thread beat once since task 2 ended
    wait_for(lambda: live.redis.exists(live.keys.heartbeat(3)), timeout=3, what="a heartbeat of the task that runs on")
    assert not live.redis.exists(live.keys.heartbeat(2))
    assert beat.untrack(3) is True
    live.redis.delete(live.keys.heartbeat(3))
