"""Riding out a Redis or database outage: wait with capped backoff, for up to a grace period.

A worker process that meets a connection error logs one line, waits (0.2 s doubling to
5 s), tries the same step again, and logs one more line when the step succeeds. After
``STASK_OUTAGE_GRACE`` seconds of one outage (0: never) it gives up with
:data:`EXIT_OUTAGE`, a non-zero exit status, so that a restart-on-failure supervisor
starts it again; a clean exit (status 0) then only ever means a requested stop or a
finished burst.

Only errors that say "the server is unreachable or restarting" count as an outage; any
other error is a bug and is raised as before.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import redis
import sqlalchemy.exc as sa_exc

log = logging.getLogger("stask")
T = TypeVar("T")

#: The exit status of a worker process that gave up after ``STASK_OUTAGE_GRACE`` (EX_TEMPFAIL).
EXIT_OUTAGE = getattr(os, "EX_TEMPFAIL", 75)
#: Longest wait between two tries (seconds): a service that is back is noticed this fast.
MAX_DELAY = 5.0
FIRST_DELAY = 0.2


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means Redis or the database is unreachable (or restarting), not a bug."""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return True  # BusyLoadingError (a restarted Redis loading its data) is a ConnectionError
    if isinstance(exc, redis.ResponseError):
        return str(exc).startswith(("LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"))
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


class OutageTooLong(SystemExit):
    """Raised when an outage outlasts ``STASK_OUTAGE_GRACE``: the process exits with :data:`EXIT_OUTAGE`."""

    def __init__(self, reason: str = "an outage outlasted STASK_OUTAGE_GRACE") -> None:
        super().__init__(EXIT_OUTAGE)
        self.reason = reason


@dataclass
class OutageGuard:
    """Per-process state of the current outage (none when ``since`` is None)."""

    grace: float = 600.0
    since: float | None = None
    step: str = ""
    #: Called after each failed try (a database error must drop the broken session).
    reset: Callable[[], None] | None = field(default=None, repr=False)

    def failed(self, step: str, exc: BaseException) -> None:
        """Note a failed try: one log line per outage; :class:`OutageTooLong` past the grace."""
        now = time.monotonic()
        if self.since is None:
            self.since, self.step = now, step
            limit = "forever" if self.grace <= 0 else f"for up to {self.grace:g} s"
            log.warning("stask: %s failed (%s: %s); waiting and retrying %s", step, type(exc).__name__, exc, limit)
        elif self.grace > 0 and now - self.since > self.grace:
            reason = f"{step} still failing after {now - self.since:.0f} s (STASK_OUTAGE_GRACE): {exc}"
            log.error("stask: %s; exiting", reason)
            raise OutageTooLong(reason) from exc

    def recovered(self) -> None:
        if self.since is not None:
            log.warning("stask: %s works again after %.1f s", self.step, time.monotonic() - self.since)
            self.since = None

    def run(self, step: str, action: Callable[[], T]) -> T:
        """``action()``, tried again after every outage error until it succeeds or the grace runs out."""
        delay = FIRST_DELAY
        while True:
            try:
                result = action()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self.failed(step, exc)
                if self.reset is not None:
                    try:
                        self.reset()
                    except Exception:  # resetting a broken connection may fail too; the next try tells
                        pass
                time.sleep(delay)
                delay = min(MAX_DELAY, delay * 2)
                continue
            self.recovered()
            return result
