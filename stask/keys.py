"""Every Redis key stask owns (RQ's own keys aside), built from ``STASK_REDIS_PREFIX``.

One place, so that a key is never spelled twice and a prefix change moves them all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    # -- live state of a running task (engine) -------------------------------------------
    def progress(self, task_id: int) -> str:
        return f"{self.prefix}:progress:{task_id}"

    def heartbeat(self, task_id: int) -> str:
        return f"{self.prefix}:hb:{task_id}"

    def stop(self, task_id: int) -> str:
        return f"{self.prefix}:stop:{task_id}"

    def outcome(self, task_id: int, attempt: int) -> str:
        """A work horse's outcome, handed over to its parent process."""
        return f"{self.prefix}:outcome:{task_id}:{attempt}"

    # -- maintenance and caches ----------------------------------------------------------
    @property
    def reconcile_lock(self) -> str:
        return f"{self.prefix}:reconcile-lock"

    @property
    def scheduler_lock(self) -> str:
        """Held (and renewed) by the worker process that fires due schedules."""
        return f"{self.prefix}:scheduler-lock"

    @property
    def cache_prefix(self) -> str:
        """Flask-Caching's key prefix (the L2 worker cache)."""
        return f"{self.prefix}:cache:"

    @property
    def cached_workers_pattern(self) -> str:
        return f"{self.cache_prefix}worker:*"

    @property
    def workers_version(self) -> str:
        """Bumped by every worker change; a cached definition of another version is not used."""
        return f"{self.prefix}:workers-version"

    @property
    def notifications_version(self) -> str:
        """Bumped by every change of a notification rule; worker processes reload their rules."""
        return f"{self.prefix}:notifications-version"

    @property
    def cache_stats(self) -> str:
        return f"{self.prefix}:cache-stats"

    # -- monitoring ----------------------------------------------------------------------
    @property
    def alerts_since(self) -> str:
        return f"{self.prefix}:alerts:since"

    def alert_sent(self, channel: str, alert_key: str) -> str:
        return f"{self.prefix}:alerts:sent:{channel}:{alert_key}"

    # -- web -----------------------------------------------------------------------------
    def login_failures(self, client: str) -> str:
        return f"{self.prefix}:login-failures:{client}"

    def bearer_failures(self, client: str) -> str:
        """Bad bearer tokens from one client address (throttled like failed logins)."""
        return f"{self.prefix}:bearer-failures:{client}"

    def session(self, digest: str) -> str:
        """A sign-in of the login page, by the SHA-256 of its cookie's id (never the id itself)."""
        return f"{self.prefix}:session:{digest}"

    @property
    def sessions_pattern(self) -> str:
        """Every sign-in (``flask stask sessions revoke``)."""
        return f"{_glob_escaped(self.prefix)}:session:*"

    def login_token_used(self, digest: str) -> str:
        return f"{self.prefix}:login-token-used:{digest}"

    def upload(self, upload_id: str) -> str:
        return f"{self.prefix}:upload:{upload_id}"

    def trigger_calls(self, trigger_id: int) -> str:
        """Calls of one trigger in the current rate-limit window (expires with the window)."""
        return f"{self.prefix}:trigger-calls:{trigger_id}"


def _glob_escaped(text: str) -> str:
    """``text`` matched literally by a Redis ``SCAN MATCH`` pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
