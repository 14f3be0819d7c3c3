"""Server-side sign-ins of the login page: what logout revokes.

The session cookie carries a random id; Redis holds the sign-in under a key built from the
SHA-256 of that id (a Redis dump or ``KEYS`` listing shows no live cookie), as a hash of
``role``, ``created`` and ``seen`` (Unix seconds). A sign-in ends when:

* it is closed (logout), or revoked (``flask stask sessions revoke``): the key is deleted;
* it was not used for ``STASK_SESSION_IDLE_MINUTES``;
* ``STASK_SESSION_MAX_HOURS`` have passed since the login, however active it was;
* Redis lost it (flushed, restarted without persistence).

Costs: a check is one ``HGETALL``. ``seen`` and the key's expiry are pushed forward at most once
per :data:`TOUCH_INTERVAL` seconds (one pipelined ``HSET`` + ``EXPIRE``), so the idle timeout
ends a sign-in between ``TOUCH_INTERVAL`` seconds before and exactly at the configured time
after its last use. The key's expiry is never later than either limit, so Redis drops ended
sign-ins by itself; the timestamps are checked too, in case an expiry was lost.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..runtime import Runtime

#: Seconds between two refreshes of a sign-in's idle expiry (at most one Redis write per minute and session).
TOUCH_INTERVAL = 60


@dataclass(frozen=True)
class SignIn:
    """One live sign-in, as read at the start of a request."""

    role: str
    created: float
    seen: float
    #: A short, stable name for logs and the audit trail (a prefix of the digest, never the id).
    label: str


def _text(value: bytes | str) -> str:
    """A Redis reply as text (replies are bytes unless the client decodes them)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def digest(session_id: str) -> str:
    """What the Redis key is built from: the id itself is never stored."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class Sessions:
    """Open, check, close and revoke sign-ins. Redis errors propagate: callers fail closed."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time) -> None:
        self.redis = runtime.redis
        self.keys = runtime.keys
        self.idle = runtime.settings.session_idle_minutes * 60
        self.lifetime = runtime.settings.session_max_hours * 3600
        self.clock = clock

    def _ttl(self, created: float, now: float) -> int:
        """Seconds the key may live from ``now``: the idle timeout, capped by the absolute lifetime."""
        return max(1, math.ceil(min(self.idle, created + self.lifetime - now)))

    def open(self, role: str) -> str:
        """A new sign-in; returns the id for the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        key = self.keys.session(digest(session_id))
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"role": role, "created": repr(now), "seen": repr(now)})
        pipe.expire(key, self._ttl(now, now))
        pipe.execute()
        return session_id

    def check(self, session_id: str) -> SignIn | None:
        """The sign-in of this id if it is still live (and its idle expiry pushed forward), else None."""
        hashed = digest(session_id)
        key = self.keys.session(hashed)
        record = {_text(name): _text(value) for name, value in self.redis.hgetall(key).items()}
        if not record:
            return None
        try:
            role = record["role"]
            created = float(record["created"])
            seen = float(record["seen"])
        except (KeyError, ValueError):
            self.redis.delete(key)  # not a record stask wrote: refuse it and forget it
            return None
        now = self.clock()
        if now - created >= self.lifetime or now - seen >= self.idle:
            self.redis.delete(key)
            return None
        if now - seen >= TOUCH_INTERVAL:
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(key, "seen", repr(now))
            pipe.expire(key, self._ttl(created, now))
            pipe.execute()
            seen = now
        return SignIn(role=role, created=created, seen=seen, label=hashed[:12])

    def close(self, session_id: str) -> bool:
        """End one sign-in (logout); True if it was live."""
        return bool(self.redis.delete(self.keys.session(digest(session_id))))

    def revoke_all(self, role: str | None = None) -> int:
        """End every sign-in (of one role if given); returns how many ended.

        Sign-ins opened while this runs may survive it; run it again after a password change
        if that matters (changing a password signs every session out anyway).
        """
        ended = 0
        for key in self.redis.scan_iter(match=self.keys.sessions_pattern, count=500):
            if role is not None and _text(self.redis.hget(key, "role") or b"") != role:
                continue
            ended += int(self.redis.delete(key))
        return ended
