"""Everything stask holds for one app besides its database: Redis, the RQ transport, live
progress, storage and the worker cache. Built once by ``init_app`` from :class:`Settings`."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

import redis
from flask import Flask
from flask_caching import Cache
from rq.timeouts import UnixSignalDeathPenalty

from .engine.progress import LiveProgress
from .engine.queues import Transport
from .keys import Keys
from .settings import Settings
from .storage import Storage
from .workers.registry import WorkerCache


def redis_client(url: str, **options: Any) -> redis.Redis:
    """A Redis client for ``url`` whose connections name stask to the server (``CLIENT LIST``).

    It also spares every new connection a read of redis-py's own package metadata: redis-py 8
    reads it (``importlib.metadata``, about 3 ms) for each connection it makes unless handed
    the driver's details, and a forking worker's horse makes one for every task.
    """
    return redis.Redis.from_url(url, **_driver_options(), **options)


@functools.cache
def _driver_options() -> dict[str, Any]:
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # an older redis-py: it reads its version once, when imported
        return {}
    from . import __version__

    return {"driver_info": DriverInfo().add_upstream_driver("stask", __version__)}


class Runtime:
    """Connections and shared state of one app (see the module docstring)."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.settings = settings
        self.keys = Keys(settings.redis_prefix)
        self.redis = redis_client(settings.redis_url, health_check_interval=30)
        self.transport = Transport(self.redis)
        self.live = LiveProgress(self.redis, self.keys, settings.progress_ttl, settings.heartbeat_ttl)
        self.storage = Storage(settings.storage)
        self.cache = Cache()
        self.cache.init_app(
            app,
            config={
                "CACHE_TYPE": "RedisCache",
                "CACHE_REDIS_URL": settings.redis_url,
                "CACHE_KEY_PREFIX": self.keys.cache_prefix,
                "CACHE_DEFAULT_TIMEOUT": settings.cache_l2_ttl,
            },
        )
        #: Flask-Caching's backend for this app (its Redis clients are closed with the others).
        self._cache_backend = app.extensions["cache"][self.cache]
        self.workers = WorkerCache(
            self.cache,
            self.redis,
            self.keys.cache_stats,
            settings.cache_l1_ttl,
            settings.cache_l2_ttl,
            version_key=self.keys.workers_version,
        )

    @functools.cached_property
    def probe(self) -> redis.Redis:
        """A client with short timeouts, for health checks that must answer even when Redis hangs."""
        return redis_client(self.settings.redis_url, socket_connect_timeout=2, socket_timeout=2)

    @contextlib.contextmanager
    def deadline(self, seconds: int) -> Iterator[None]:
        """Interrupt an in-process run after ``seconds`` (SIGALRM works in the main thread only)."""
        if threading.current_thread() is threading.main_thread():
            with UnixSignalDeathPenalty(seconds, job_id="stask"):  # type: ignore[no-untyped-call]
                yield
        else:
            yield

    def close(self) -> None:
        """Close every Redis connection this app holds (tests, and apps built per request)."""
        self.redis.connection_pool.disconnect()
        if "probe" in self.__dict__:
            self.probe.connection_pool.disconnect()
        for name in ("_write_client", "_read_client"):
            connection = getattr(self._cache_backend, name, None)
            if connection is not None:
                connection.connection_pool.disconnect()
