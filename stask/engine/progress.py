"""Live progress in Redis, heartbeats of running tasks, and cooperative stop flags.

Progress ticks never touch SQL: each one is a single Redis pipeline (hash + expiry +
heartbeat + stop-flag check) and a log line. When the task ends its hash is dropped:
the row then holds the final progress and message, and the log file holds the lines.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import redis

from ..keys import Keys


def decoded(raw: Mapping[Any, Any]) -> dict[str, str]:
    """A Redis hash as text (the clients here return bytes)."""
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def estimate_eta(started: float, now: float, processed: int | None, total: int | None, percent: float) -> float | None:
    """Seconds left, assuming the rate so far holds; ``None`` until there is a rate."""
    elapsed = now - started
    if processed is not None and total and processed > 0:
        return max(0.0, elapsed * (total - processed) / processed)
    if 0 < percent < 100:
        return max(0.0, elapsed * (100 - percent) / percent)
    return None


class LiveProgress:
    def __init__(self, connection: redis.Redis, keys: Keys, ttl: int, heartbeat_ttl: int) -> None:
        self.redis = connection
        self.keys = keys
        self.ttl = ttl
        self.heartbeat_ttl = heartbeat_ttl

    def publish(self, task_id: int, fields: dict[str, Any]) -> bool:
        """Store a tick; returns True when a stop was requested for this task."""
        pipe = self.redis.pipeline(transaction=False)
        key = self.keys.progress(task_id)
        pipe.hset(key, mapping={k: "" if v is None else str(v) for k, v in fields.items()})
        pipe.expire(key, self.ttl)
        pipe.set(self.keys.heartbeat(task_id), os.getpid(), ex=self.heartbeat_ttl)
        pipe.exists(self.keys.stop(task_id))
        return bool(pipe.execute()[-1])

    def read(self, task_id: int) -> dict[str, str] | None:
        raw = self.redis.hgetall(self.keys.progress(task_id))
        if not raw:
            return None
        return decoded(raw)

    def read_many(self, task_ids: list[int]) -> dict[int, dict[str, str]]:
        """Live fields of several tasks in one pipeline, with ``stop_requested`` ("1" or "")."""
        if not task_ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(self.keys.progress(task_id))
            pipe.exists(self.keys.stop(task_id))
        replies = pipe.execute()
        out: dict[int, dict[str, str]] = {}
        for index, task_id in enumerate(task_ids):
            fields = decoded(replies[2 * index])
            fields["stop_requested"] = "1" if replies[2 * index + 1] else ""
            out[task_id] = fields
        return out

    def clear(self, task_id: int) -> None:
        self.redis.delete(self.keys.progress(task_id), self.keys.heartbeat(task_id), self.keys.stop(task_id))

    def put_outcome(self, task_id: int, attempt: int, fields: dict[str, Any]) -> None:
        """A work horse's outcome, for its parent to record (kept a day in case nobody does)."""
        self.redis.set(self.keys.outcome(task_id, attempt), json.dumps(fields), ex=self.ttl)

    def take_outcome(self, task_id: int, attempt: int) -> dict[str, Any] | None:
        pipe = self.redis.pipeline(transaction=True)
        key = self.keys.outcome(task_id, attempt)
        pipe.get(key)
        pipe.delete(key)
        raw = pipe.execute()[0]
        return None if raw is None else json.loads(raw)  # type: ignore[no-any-return]

    def request_stop(self, task_id: int) -> None:
        self.redis.set(self.keys.stop(task_id), 1, ex=self.ttl)

    def stop_requested(self, task_id: int) -> bool:
        return bool(self.redis.exists(self.keys.stop(task_id)))

    def alive(self, task_ids: list[int]) -> dict[int, bool]:
        if not task_ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.exists(self.keys.heartbeat(task_id))
        return {task_id: bool(found) for task_id, found in zip(task_ids, pipe.execute(), strict=True)}


class Heartbeat:
    """One daemon thread per process refreshing the heartbeat keys of the tasks it runs.

    A task without a heartbeat key for ``heartbeat_ttl`` seconds is presumed dead (its
    process was killed) and is retried or failed by the reconcile step. The thread sleeps
    ``ttl / 3`` between beats, so a live task always has a fresh key; a task shorter than
    that costs no Redis command at all.
    """

    def __init__(self) -> None:
        self._tasks: dict[int, LiveProgress] = {}
        self._beaten: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._wake = threading.Event()
        #: When the thread's current sleep ends (monotonic clock).
        self._sleep_until = 0.0

    def track(self, task_id: int, live: LiveProgress) -> None:
        with self._lock:
            self._tasks[task_id] = live
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._wake = threading.Event()
                self._thread = threading.Thread(target=self._run, name="stask-heartbeat", daemon=True)
                self._thread.start()
            elif time.monotonic() + max(0.2, live.heartbeat_ttl / 3) < self._sleep_until:
                self._wake.set()  # the thread sleeps past this task's first beat: wake it to plan again

    def untrack(self, task_id: int) -> bool:
        """Stop beating for a task; returns whether a heartbeat key was ever written for it."""
        with self._lock:
            self._tasks.pop(task_id, None)
            beaten = task_id in self._beaten
            self._beaten.discard(task_id)
            return beaten

    def _run(self) -> None:
        next_beat = 0.0
        while True:
            with self._lock:
                tasks = list(self._tasks.items())
            interval = max(0.2, min((live.heartbeat_ttl for _, live in tasks), default=10) / 3)
            now = time.monotonic()
            # A newly tracked task may bring the next beat forward, never push it back.
            next_beat = now + interval if next_beat <= 0 else min(next_beat, now + interval)
            self._sleep_until = next_beat
            if self._wake.wait(max(0.0, next_beat - now)):
                self._wake.clear()
                continue
            next_beat = 0.0
            with self._lock:
                tasks = [(task_id, live) for task_id, live in self._tasks.items()]
            for task_id, live in tasks:
                try:
                    live.redis.set(live.keys.heartbeat(task_id), os.getpid(), ex=live.heartbeat_ttl)
                    with self._lock:
                        if task_id in self._tasks:
                            self._beaten.add(task_id)
                except redis.RedisError:
                    time.sleep(1)  # Redis down: the reconcile step will judge once it is back


heartbeat = Heartbeat()
