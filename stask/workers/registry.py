"""Resolve a worker identifier to its class and settings through two cache levels.

L1 is a dict in this process; L2 is Flask-Caching on Redis, shared by every process;
``s_workers`` is read only on a miss of both.

**Cross-process invalidation: a version counter.** Every change (activation, deactivation,
settings, discovery, a cleared cache) increments one Redis key after its commit
(:meth:`WorkerCache.invalidate`). Every lookup reads that key first (one ``GET``) and uses an
L1 or L2 entry only if it was loaded under the current version. So a lookup that starts after
``invalidate()`` returned, in any process (a forked work horse included: it inherits L1 but
reads the version itself), sees the change. A lookup that runs *concurrently* with a change
may see either state. ``create_many`` reads the version once for its whole batch
(:meth:`WorkerCache.pinned`). Chosen over pub/sub, whose listener thread gives no such
bound (a lookup right after the change races the message) and loses messages on reconnects.

**Without Redis** nothing raises: a lookup whose version read fails goes to the database (the
truth), the failure is logged once, and the process bumps the version when Redis answers
again (a change made meanwhile could not bump it). The version key holds a random start
value, so a flushed or restarted Redis invalidates every cached entry too.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from .. import forking
from ..exceptions import WorkerUnavailable
from .base import BaseWorker
from .discovery import import_object
from .fields import effective

_COUNTERS = ("l1_hits", "l2_hits", "misses", "evictions")
log = logging.getLogger("stask")


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
        """What task code receives as ``self.settings``: each declared setting's stored value,
        or its default when none is stored or the stored one no longer validates (a plugin
        upgrade changed its bounds or type); stored keys no longer declared are left out."""
        values, _invalid = effective(self.worker_class().setting_fields(), self.stored_settings)
        return values


_classes: dict[str, type[BaseWorker]] = {}


def load_class(class_path: str) -> type[BaseWorker]:
    cls = _classes.get(class_path)
    if cls is None:
        cls = _classes[class_path] = import_object(class_path)
    return cls


@dataclass
class _Batch:
    """One :meth:`WorkerCache.pinned` block: its version read, and rows read while Redis is down."""

    version: int | None
    loaded: dict[str, WorkerDefinition | None] = field(default_factory=dict)


class WorkerCache:
    def __init__(
        self,
        shared: Any,
        connection: redis.Redis,
        stats_key: str,
        l1_ttl: float,
        l2_ttl: int,
        version_key: str,
        flush_every: float = 5.0,
    ) -> None:
        self._shared = shared
        self._redis = connection
        self._stats_key = stats_key
        self._version_key = version_key
        self._l1_ttl = l1_ttl
        self._l2_ttl = l2_ttl
        self._flush_every = flush_every
        #: identifier -> (expiry on the monotonic clock, version it was loaded under, definition)
        self._l1: dict[str, tuple[float, int, WorkerDefinition]] = {}
        self._lock = threading.Lock()
        self._pending = dict.fromkeys(_COUNTERS, 0)
        self._last_flush = time.monotonic()
        self._local = threading.local()  # the :class:`_Batch` of a :meth:`pinned` block (per thread)
        #: Redis failed at the last attempt: logged once, and the version is bumped when it answers.
        self._unreachable = False
        forking.after_fork_in_child(self)

    def after_fork(self) -> None:
        """A work horse starts with no counts of its parent's (else every fork adds them again)
        and flushes its own at once (it exits with ``os._exit``, before any later flush)."""
        self._lock = threading.Lock()
        self._pending = dict.fromkeys(_COUNTERS, 0)
        self._last_flush = float("-inf")
        self._local = threading.local()

    @staticmethod
    def _l2_key(identifier: str) -> str:
        return f"worker:{identifier}"

    # -- Redis, never raising on the lookup path ----------------------------------------------
    def _failed(self, what: str, exc: Exception) -> None:
        if not self._unreachable:
            self._unreachable = True
            log.warning("stask: worker cache: Redis unreachable (%s: %s); lookups read the database", what, exc)

    def _bump(self) -> int:
        """Increment the version (one pipeline); a missing key starts at a random value first,
        so that a restarted Redis never gives back a version some process cached under."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._version_key, secrets.randbelow(2**62), nx=True)
        pipe.incr(self._version_key)
        return int(pipe.execute()[-1])

    @property
    def version_key(self) -> str:
        return self._version_key

    def prefetch(self, raw: bytes | str | None) -> None:
        """The version key's value as a caller just read it in a pipeline of its own (None: forget it).

        The next :meth:`version` in this thread uses it instead of a ``GET``: a worker process
        reads it with a job's preparation, one round trip fewer per task.
        """
        self._local.prefetched = raw

    def version(self) -> int | None:
        """The current version (one ``GET``; more only at a Redis's first use or after an outage);
        None without Redis."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            return batch.version
        prefetched = getattr(self._local, "prefetched", None)
        if prefetched is not None:
            self._local.prefetched = None
            if not self._unreachable:  # else the read below notices the recovery
                return int(prefetched)
        try:
            raw = self._redis.get(self._version_key)
            if raw is None:  # a new, flushed or restarted Redis: start from a value no entry has
                self._redis.set(self._version_key, secrets.randbelow(2**62), nx=True)
                raw = self._redis.get(self._version_key)
            version = int(raw or 0)
            if self._unreachable:  # a change made during the outage could not bump the version
                self._l1.clear()
                version = self._bump()
                self._unreachable = False
                log.warning("stask: worker cache: Redis reachable again; cached definitions dropped")
        except redis.RedisError as exc:
            self._failed("version read", exc)
            return None
        return version

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Lookups in this block (this thread) share one version read: one ``GET`` per batch.

        Without Redis they also share what the database said, so a batch of tasks for one
        worker reads its row once.
        """
        if getattr(self._local, "batch", None) is not None:
            yield
            return
        self._local.batch = _Batch(self.version())
        try:
            yield
        finally:
            self._local.batch = None

    # -- lookups ------------------------------------------------------------------------------
    def get(self, identifier: str, load: Callable[[str], WorkerDefinition | None]) -> WorkerDefinition | None:
        version = self.version()
        if version is None:  # Redis unreachable: the database (no version to tag an entry with)
            self._count("misses")
            batch: _Batch | None = getattr(self._local, "batch", None)
            if batch is None:
                return load(identifier)
            if identifier not in batch.loaded:
                batch.loaded[identifier] = load(identifier)
            return batch.loaded[identifier]
        now = time.monotonic()
        entry = self._l1.get(identifier)
        if entry is not None:
            if entry[0] > now and entry[1] == version:
                self._count("l1_hits")
                return entry[2]
            self._l1.pop(identifier, None)
            self._count("evictions")
        definition = self._l2_get(identifier, version)
        if definition is not None:
            self._count("l2_hits")
        else:
            self._count("misses")
            definition = load(identifier)
            if definition is None:
                return None
            self._l2_set(identifier, version, definition)
        self._l1[identifier] = (now + self._l1_ttl, version, definition)
        return definition

    def _l2_get(self, identifier: str, version: int) -> WorkerDefinition | None:
        try:
            raw = self._shared.get(self._l2_key(identifier))
        except redis.RedisError as exc:
            self._failed("L2 read", exc)
            return None
        if not isinstance(raw, dict) or raw.get("version") != version:
            return None  # loaded under an earlier version (or by an older stask): a miss
        return WorkerDefinition(**raw["definition"])

    def _l2_set(self, identifier: str, version: int, definition: WorkerDefinition) -> None:
        value = {"version": version, "definition": asdict(definition)}
        try:
            self._shared.set(self._l2_key(identifier), value, timeout=self._l2_ttl)
        except redis.RedisError as exc:
            self._failed("L2 write", exc)

    def invalidate(self, identifier: str | None = None) -> None:
        """After a change is committed: forget it here, and make every process's next lookup miss.

        Bumps the shared version (one ``INCR``) and deletes the L2 entry (or all of them).
        Never raises: without Redis the change is in the database, which every lookup reads
        while Redis is down, and this process bumps the version once Redis answers again.
        """
        if identifier is None:
            evicted = len(self._l1)
            self._l1.clear()
        else:
            evicted = 1 if self._l1.pop(identifier, None) else 0
        if evicted:
            self._count("evictions", evicted)
        try:
            self._bump()
        except redis.RedisError as exc:
            self._failed("invalidation", exc)
            return
        try:
            if identifier is None:
                self._shared.clear()
            else:
                self._shared.delete(self._l2_key(identifier))
        except redis.RedisError as exc:  # the version bump already made the entries unusable
            self._failed("L2 delete", exc)

    # -- counters -----------------------------------------------------------------------------
    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._pending[name] += amount
        if time.monotonic() - self._last_flush >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Add this process's counters to the shared totals (one pipeline every few seconds).

        Without Redis the counts are kept for the next flush: counting never fails a lookup.
        """
        with self._lock:
            pending, self._pending = self._pending, dict.fromkeys(_COUNTERS, 0)
            self._last_flush = time.monotonic()
        if any(pending.values()):
            pipe = self._redis.pipeline(transaction=False)
            for name, amount in pending.items():
                if amount:
                    pipe.hincrby(self._stats_key, name, amount)
            try:
                pipe.execute()
            except redis.RedisError as exc:
                with self._lock:
                    for name, amount in pending.items():
                        self._pending[name] += amount
                self._failed("counter flush", exc)

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
