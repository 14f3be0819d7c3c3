"""Health of the pieces stask depends on: database, Redis, worker processes, scheduler, disk.

Each check returns ``{"ok": bool, "required": bool, ...details}``; the whole is healthy
when every *required* check is ok (database, Redis and storage always; live worker
processes and the RQ scheduler only when ``STASK_HEALTH_REQUIRE_WORKERS`` is true, because a
deployment may run tasks from cron with ``flask stask process`` instead).

Settings (:class:`~stask.settings.Settings`): ``health_min_free_mb``
(``STASK_HEALTH_MIN_FREE_MB``, default 100): free space the storage folder needs;
``health_require_workers`` (``STASK_HEALTH_REQUIRE_WORKERS``, default false): see above.
"""

from __future__ import annotations

import time
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask
from rq import Worker
from rq.scheduler import RQScheduler

from ..enums import QUEUE_ORDER
from ..service import EXTENSION_KEY, Service


def service_of(app: Flask) -> Service:
    """The app's stask service; works without an app context (the monitoring functions receive ``app``)."""
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database(app: Flask) -> dict[str, Any]:
    session = service_of(app).db.session
    started = time.perf_counter()
    try:
        session.execute(sa.text("SELECT 1"))
        session.commit()
    except Exception as exc:  # any driver error means "unreachable"; reported, never raised
        session.rollback()
        return {"ok": False, "required": True, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "required": True, "latency_ms": _elapsed_ms(started)}


def probe_redis(app: Flask) -> redis.Redis:
    """A client of stask's Redis with short timeouts: a check must answer even when Redis hangs."""
    return service_of(app).runtime.probe


def check_redis(app: Flask) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        probe_redis(app).ping()
    except redis.RedisError as exc:
        return {"ok": False, "required": True, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "required": True, "latency_ms": _elapsed_ms(started)}


def live_workers(connection: redis.Redis) -> list[Any]:
    """Worker processes alive now (their RQ key has not expired) that serve at least one stask queue."""
    ours = set(QUEUE_ORDER)
    return [w for w in Worker.all(connection=connection) if ours & set(w.queue_names())]


def check_workers(app: Flask, required: bool, connection: redis.Redis) -> dict[str, Any]:
    try:
        workers = live_workers(connection)
    except redis.RedisError as exc:
        return {"ok": False, "required": required, "count": 0, "error": f"{type(exc).__name__}: {exc}"[:300]}
    names = sorted(w.name for w in workers)
    return {"ok": bool(workers), "required": required, "count": len(workers), "names": names[:50]}


def check_scheduler(app: Flask, required: bool, connection: redis.Redis) -> dict[str, Any]:
    """RQ's scheduler holds one lock per queue while it runs (``rq:scheduler-lock:<queue>``)."""
    try:
        pipe = connection.pipeline(transaction=False)
        for name in QUEUE_ORDER:
            pipe.get(RQScheduler.get_locking_key(name))
        holders = pipe.execute()
    except redis.RedisError as exc:
        return {"ok": False, "required": required, "error": f"{type(exc).__name__}: {exc}"[:300]}
    locked = {name: holder.decode() for name, holder in zip(QUEUE_ORDER, holders, strict=True) if holder}
    return {
        "ok": len(locked) == len(QUEUE_ORDER),
        "required": required,
        "queues": sorted(locked),
        "holders": sorted(set(locked.values())),
    }


def check_storage(app: Flask) -> dict[str, Any]:
    service = service_of(app)
    storage = service.runtime.storage
    minimum = service.settings.health_min_free_mb * 1024 * 1024
    try:
        free = storage.free_bytes()
    except OSError as exc:
        return {"ok": False, "required": True, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": free >= minimum, "required": True, "free_bytes": free, "min_free_bytes": minimum}


def health(app: Flask) -> dict[str, Any]:
    """All checks and the overall verdict."""
    required = service_of(app).settings.health_require_workers
    connection = probe_redis(app)
    checks = {
        "database": check_database(app),
        "redis": check_redis(app),
        "workers": check_workers(app, required, connection),
        "scheduler": check_scheduler(app, required, connection),
        "storage": check_storage(app),
    }
    ok = all(check["ok"] for check in checks.values() if check["required"])
    return {"ok": ok, "checks": checks}
