"""A Redis connection a forking worker makes ready, while a work horse runs, for the next one.

A work horse hands its outcome over through Redis on a connection of its own (a forked child
cannot share its parent's sockets). Opening one in the horse cost about half of a no-op horse's
time on the bench VM: five round trips of handshake (``HELLO``, ``CLIENT`` ..., ``SELECT``)
and the copy-on-write faults of redis-py's connect path, 3.1 of 6.4 ms and 486 of 1,079
faults. The parent only waits while its horse runs, so it opens the next horse's connection
then; the horse takes it into its pool as its first connection. Right after the fork the
parent closes its own copy of the socket without shutting the connection down, which stays
the horse's alone.

A connection that went stale in between (Redis restarted, a server-side idle timeout) is
noticed by redis-py's own check as the horse takes it from the pool, and replaced. Pools
whose internals differ (a blocking pool, client-side caching, Sentinel) are left alone: their
horses connect for themselves, as before.
"""

from __future__ import annotations

import logging
import os

import redis

log = logging.getLogger(__name__)


class NextHorseConnection:
    """The connection made ready for the next work horse of one forking worker (or none)."""

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._ready: redis.connection.AbstractConnection | None = None

    @property
    def supported(self) -> bool:
        pool = self._pool
        return type(pool) is redis.ConnectionPool and getattr(pool, "cache", None) is None

    def make_ready(self) -> None:
        """In the parent, after a fork: open and greet a connection for the next horse.

        Best effort: a failure (an outage) leaves none, and that horse connects for itself."""
        if self._ready is not None or not self.supported:
            return
        connection = self._pool.connection_class(**self._pool.connection_kwargs)
        try:
            connection.connect()
        except (redis.RedisError, OSError) as exc:
            log.debug("stask: no Redis connection made ready for the next work horse: %s", exc)
            connection.disconnect()
            return
        self._ready = connection

    def hand_over(self, horse_pid: int) -> None:
        """In the parent, right after the fork: the connection is the horse's now, so close this
        process's copy of its socket (redis-py shuts a socket down only in its owner process)."""
        connection, self._ready = self._ready, None
        if connection is not None:
            connection.pid = horse_pid
            connection.disconnect()

    def adopt(self) -> None:
        """In the horse, first thing: start its pool afresh (as redis-py does in a forked child)
        with the connection made ready as its one idle connection."""
        connection, self._ready = self._ready, None
        if connection is None:
            return
        pool = self._pool
        pool.reset()
        connection.pid = os.getpid()
        with pool._lock:
            pool._available_connections.append(connection)
            pool._created_connections += 1

    def close(self) -> None:
        """In the parent, as it leaves: close a connection no horse took."""
        connection, self._ready = self._ready, None
        if connection is not None:
            connection.disconnect()
