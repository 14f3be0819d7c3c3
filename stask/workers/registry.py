"""Resolve a worker identifier to its class and settings through two cache levels.

L1 is a dict in this process (entries live ``STASK_CACHE_L1_TTL`` seconds, the bound on
how stale another process's change can look here); L2 is Flask-Caching on Redis, shared
by every process. ``s_workers`` is read only on a miss of both. Activation, deactivation
and settings changes call :meth:`WorkerCache.invalidate`, which clears this process's L1
and the shared L2 at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from .. import forking
from ..exceptions import WorkerUnavailable
from .base import BaseWorker
from .discovery import import_object

_COUNTERS = ("l1_hits", "l2_hits", "misses", "evictions")


@dataclass(frozen=True)
class WorkerDefinition:
    identifier: str
    class_path: str
    active: bool
    stored_settings: dict[str, Any] = field(default_factory=dict)

    def worker_class(self) -> type[BaseWorker]:
        """The plugin class; :class:`WorkerUnavailable` (a StaskError) when it cannot be imported."""
        try:
            return load_class(self.class_path)
        except Exception as exc:  # importing a plugin module runs its code: any error is possible
            raise WorkerUnavailable(
                f"worker {self.identifier!r} cannot be loaded from {self.class_path!r} ({type(exc).__name__}: {exc}):"
                " reinstall it or run `flask stask discover`"
            ) from exc

    def settings(self) -> dict[str, Any]:
        """``default_settings`` overlaid with what ``s_workers.settings`` stores."""
        return {**self.worker_class().default_settings, **self.stored_settings}


_classes: dict[str, type[BaseWorker]] = {}


def load_class(class_path: str) -> type[BaseWorker]:
    cls = _classes.get(class_path)
    if cls is None:
        cls = _classes[class_path] = import_object(class_path)
    return cls


class WorkerCache:
    def __init__(
        self,
        shared: Any,
        connection: redis.Redis,
        stats_key: str,
        l1_ttl: float,
        l2_ttl: int,
        flush_every: float = 5.0,
    ) -> None:
        self._shared = shared
        self._redis = connection
        self._stats_key = stats_key
        self._l1_ttl = l1_ttl
        self._l2_ttl = l2_ttl
        self._flush_every = flush_every
        self._l1: dict[str, tuple[float, WorkerDefinition]] = {}
        self._lock = threading.Lock()
        self._pending = dict.fromkeys(_COUNTERS, 0)
        self._last_flush = time.monotonic()
        forking.after_fork_in_child(self)

    def after_fork(self) -> None:
        """A work horse starts with no counts of its parent's (else every fork adds them again)
        and flushes its own at once (it exits with ``os._exit``, before any later flush)."""
        self._lock = threading.Lock()
        self._pending = dict.fromkeys(_COUNTERS, 0)
        self._last_flush = float("-inf")

    @staticmethod
    def _l2_key(identifier: str) -> str:
        return f"worker:{identifier}"

    def get(self, identifier: str, load: Callable[[str], WorkerDefinition | None]) -> WorkerDefinition | None:
        now = time.monotonic()
        entry = self._l1.get(identifier)
        if entry is not None:
            if entry[0] > now:
                self._count("l1_hits")
                return entry[1]
            self._l1.pop(identifier, None)
            self._count("evictions")
        raw = self._shared.get(self._l2_key(identifier))
        definition: WorkerDefinition | None
        if raw is not None:
            definition = WorkerDefinition(**raw)
            self._count("l2_hits")
        else:
            self._count("misses")
            definition = load(identifier)
            if definition is None:
                return None
            self._shared.set(self._l2_key(identifier), asdict(definition), timeout=self._l2_ttl)
        self._l1[identifier] = (now + self._l1_ttl, definition)
        return definition

    def invalidate(self, identifier: str | None = None) -> None:
        """Forget one worker (or all) in L1 here and in the shared L2."""
        if identifier is None:
            evicted = len(self._l1)
            self._l1.clear()
            self._shared.clear()
        else:
            evicted = 1 if self._l1.pop(identifier, None) else 0
            self._shared.delete(self._l2_key(identifier))
        if evicted:
            self._count("evictions", evicted)

    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._pending[name] += amount
        if time.monotonic() - self._last_flush >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Add this process's counters to the shared totals (one pipeline every few seconds)."""
        with self._lock:
            pending, self._pending = self._pending, dict.fromkeys(_COUNTERS, 0)
            self._last_flush = time.monotonic()
        if any(pending.values()):
            pipe = self._redis.pipeline(transaction=False)
            for name, amount in pending.items():
                if amount:
                    pipe.hincrby(self._stats_key, name, amount)
            pipe.execute()

    def stats(self) -> dict[str, Any]:
        """Totals across every process that flushed, plus this process's L1 size."""
        self.flush()
        raw = self._redis.hgetall(self._stats_key)
        totals = {name: int(raw.get(name.encode(), 0)) for name in _COUNTERS}
        lookups = totals["l1_hits"] + totals["l2_hits"] + totals["misses"]
        hits = totals["l1_hits"] + totals["l2_hits"]
        return {
            **totals,
            "hits": hits,
            "lookups": lookups,
            "hit_rate": round(hits / lookups, 4) if lookups else None,
            "l1_size": len(self._l1),
            "l1_ttl": self._l1_ttl,
            "l2_ttl": self._l2_ttl,
        }

    def reset_stats(self) -> None:
        with self._lock:
            self._pending = dict.fromkeys(_COUNTERS, 0)
        self._redis.delete(self._stats_key)
