"""Every configuration key stask reads, declared once: name, default, type and a one-line doc.

:class:`Settings` is built once per app by ``init_app`` (like Flask-SQLAlchemy reads its
keys once): for each key the app's config wins, then the environment (twelve-factor), then
the default. A value of the wrong type is refused at start-up with :class:`InvalidSetting`,
never at the first request. Code reads ``settings.max_attempts``, never ``app.config``.

The README's configuration tables list the same keys; a test keeps the three (this module,
the code that reads settings, the README) in agreement.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .exceptions import InvalidSetting

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

#: What ``STASK_EMAIL_BACKEND`` may name: a real SMTP server, or ``.eml`` files for development.
EMAIL_BACKENDS = ("smtp", "files")
#: Bounds of a trigger's ``rate_limit`` (calls per minute) and of its hook's body (KiB; task data stays under 1 MB).
MAX_TRIGGER_RATE_LIMIT = 100_000
MAX_TRIGGER_BODY_KB = 1024

#: Per-worker p95 limits: ``STASK_ALERT_P95_MS_<IDENTIFIER>`` (upper case, other characters as ``_``).
P95_PREFIX = "STASK_ALERT_P95_MS_"


def _key(name: str, doc: str, default: Any = None, *, secret: bool = False, group: str = "core") -> Any:
    """A declared setting: its config/environment name, its doc and its default."""
    metadata = {"key": name, "doc": doc, "secret": secret, "group": group}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Typed configuration of one app. Field metadata holds each key's name and doc."""

    # -- core ----------------------------------------------------------------------------
    database_url: str | None = _key(
        "DATABASE_URL",
        "SQLAlchemy URL used when SQLALCHEMY_DATABASE_URI is unset; postgres://, mysql://, mariadb:// "
        "are mapped to the installed drivers (default: instance/stask.db, SQLite)",
    )
    redis_url: str = _key("REDIS_URL", "Redis for RQ, live progress and the shared cache", "redis://127.0.0.1:6379/0")
    storage: str = _key("STASK_STORAGE", "root of task logs, result files and uploads (default: <instance>/stask)", "")
    instance_path: str | None = _key(
        "STASK_INSTANCE_PATH", "instance folder of the standalone app (default: ./instance)"
    )
    workers: str = _key("STASK_WORKERS", "extra worker classes, module:Class, comma-separated", "")
    auto_activate: bool = _key("STASK_AUTO_ACTIVATE", "newly discovered workers start active", False)
    max_attempts: int = _key("STASK_MAX_ATTEMPTS", "attempts per task unless the worker or the task says otherwise", 3)
    backoff_base: float = _key("STASK_BACKOFF_BASE", "retry delay base in seconds: min(cap, base * 2^(n-1))", 5.0)
    backoff_cap: float = _key("STASK_BACKOFF_CAP", "longest retry delay in seconds", 600.0)
    timeout: int = _key("STASK_TIMEOUT", "seconds an action may run (per worker: timeout)", 1800)
    heartbeat_ttl: int = _key(
        "STASK_HEARTBEAT_TTL", "a running task without a heartbeat this long (seconds) is presumed dead", 30
    )
    reconcile_interval: int = _key(
        "STASK_RECONCILE_INTERVAL", "seconds between reconcile passes in running worker processes", 30
    )
    scheduler_interval: float = _key(
        "STASK_SCHEDULER_INTERVAL",
        "seconds between passes firing due schedules in worker processes (one process leads; 0: none fire there)",
        5.0,
    )
    outage_grace: int = _key(
        "STASK_OUTAGE_GRACE",
        "seconds a worker process waits out a Redis or database outage before it exits non-zero (0: forever)",
        600,
    )
    progress_ttl: int = _key("STASK_PROGRESS_TTL", "seconds a live progress record stays in Redis", 86400)
    cache_l1_ttl: float = _key(
        "STASK_CACHE_L1_TTL",
        "seconds a worker definition stays in the per-process cache (changes made through stask are seen at once)",
        10.0,
    )
    cache_l2_ttl: int = _key("STASK_CACHE_L2_TTL", "seconds a worker definition stays in the shared Redis cache", 300)
    worker_class: str = _key(
        "STASK_WORKER_CLASS", "default worker process class: fork, simple or a dotted path", "fork"
    )
    worker_sync_commit: bool = _key(
        "STASK_WORKER_SYNC_COMMIT",
        "worker processes on PostgreSQL wait for the disk at every commit (false: a database crash may lose "
        "their last ~0.6 s of claims and outcomes, and those tasks run again; docs/performance.md)",
        True,
    )
    redis_prefix: str = _key("STASK_REDIS_PREFIX", "prefix of every Redis key stask owns besides RQ's", "stask")
    url_prefix: str = _key("STASK_URL_PREFIX", "where the panel and the API are mounted", "/stask")
    web: bool = _key("STASK_WEB", "mount the panel and the API (worker-only processes may turn it off)", True)
    list_count_cap: int = _key(
        "STASK_LIST_COUNT_CAP", "task lists count at most this many matching rows (then say 'more than')", 10_000
    )
    audit_retention_days: int = _key(
        "STASK_AUDIT_RETENTION_DAYS",
        "days the audit log keeps a row (at least 1); the maintenance cleanup deletes older ones, never younger",
        365,
    )

    # -- access ---------------------------------------------------------------------------
    admin_password: str | None = _key(
        "STASK_ADMIN_PASSWORD", "password of the login page (plain or a Werkzeug hash)", secret=True, group="access"
    )
    readonly_password: str | None = _key(
        "STASK_READONLY_PASSWORD", "password giving the read-only role", secret=True, group="access"
    )
    api_tokens: list[str] = _key(
        "STASK_API_TOKEN", "bearer tokens with the admin role, comma-separated", [], secret=True, group="access"
    )
    readonly_tokens: list[str] = _key(
        "STASK_READONLY_TOKEN",
        "bearer tokens with the read-only role, comma-separated",
        [],
        secret=True,
        group="access",
    )
    login_token: str | None = _key(
        "STASK_LOGIN_TOKEN", "token of the one-time login link (make run generates one)", secret=True, group="access"
    )
    authorize: Callable[[Any], Any] | str | None = _key(
        "STASK_AUTHORIZE",
        "host apps: a callable (or its import path) taking the request, returning True/'admin', 'readonly' or False",
        group="access",
    )
    login_url: str | None = _key(
        "STASK_LOGIN_URL",
        "host apps: where to send anonymous panel visitors when STASK_AUTHORIZE is set",
        group="access",
    )
    secret_key: str | None = _key(
        "STASK_SECRET_KEY", "standalone app: session key when SECRET_KEY is unset", secret=True, group="access"
    )
    secure_cookies: bool = _key(
        "STASK_SECURE_COOKIES", "standalone app: Secure session cookies (behind HTTPS)", False, group="access"
    )
    csp: str | None = _key("STASK_CSP", "Content-Security-Policy of stask's pages (override)", group="access")
    max_request_mb: int = _key(
        "STASK_MAX_REQUEST_MB", "largest request body in MiB (a larger upload goes in chunks)", 64, group="access"
    )
    login_max_failures: int = _key(
        "STASK_LOGIN_MAX_FAILURES",
        "failed logins (or bad bearer tokens) from one address within 5 minutes before it is refused",
        10,
        group="access",
    )
    session_idle_minutes: int = _key(
        "STASK_SESSION_IDLE_MINUTES",
        "a login-page sign-in unused for this many minutes ends (at least 1)",
        60,
        group="access",
    )
    session_max_hours: int = _key(
        "STASK_SESSION_MAX_HOURS",
        "a login-page sign-in ends this many hours after the login, however active (at least 1)",
        12,
        group="access",
    )
    trusted_proxies: int = _key(
        "STASK_TRUSTED_PROXIES",
        "reverse proxies in front of stask: the client address (throttling, audit) is the n-th entry "
        "from the right of X-Forwarded-For, as Werkzeug's ProxyFix x_for (0: the header is ignored)",
        0,
        group="access",
    )
    trigger_rate_limit: int = _key(
        "STASK_TRIGGER_RATE_LIMIT",
        f"calls a new trigger accepts per minute (1 to {MAX_TRIGGER_RATE_LIMIT}; each trigger keeps its own)",
        60,
        group="access",
    )
    trigger_max_body_kb: int = _key(
        "STASK_TRIGGER_MAX_BODY_KB",
        f"largest JSON body a trigger's hook URL takes, in KiB (1 to {MAX_TRIGGER_BODY_KB})",
        256,
        group="access",
    )

    # -- monitoring -----------------------------------------------------------------------
    metrics_window_minutes: int = _key(
        "STASK_METRICS_WINDOW_MINUTES", "window of the Prometheus rates and percentiles", 60, group="monitoring"
    )
    health_min_free_mb: int = _key(
        "STASK_HEALTH_MIN_FREE_MB", "storage free space below this fails the health check", 100, group="monitoring"
    )
    health_require_workers: bool = _key(
        "STASK_HEALTH_REQUIRE_WORKERS", "no live worker process fails the health check", False, group="monitoring"
    )
    alert_failure_rate: float = _key(
        "STASK_ALERT_FAILURE_RATE",
        "failed / (finished + failed) over the window that raises an alert (0: off)",
        0.25,
        group="monitoring",
    )
    alert_window_minutes: int = _key(
        "STASK_ALERT_WINDOW_MINUTES", "window of the failure-rate and p95 rules", 15, group="monitoring"
    )
    alert_min_tasks: int = _key(
        "STASK_ALERT_MIN_TASKS", "tasks needed in the window before the failure rate is judged", 5, group="monitoring"
    )
    alert_p95_ms: int = _key(
        "STASK_ALERT_P95_MS",
        "a worker's p95 run time above this (ms) raises an alert (0: off); per worker: STASK_ALERT_P95_MS_<IDENTIFIER>",
        600_000,
        group="monitoring",
    )
    alert_p95_ms_workers: dict[str, int] = _key(
        "STASK_ALERT_P95_MS_WORKERS", "per-worker p95 limits as JSON, {identifier: ms}", {}, group="monitoring"
    )
    alert_queue_wait_seconds: int = _key(
        "STASK_ALERT_QUEUE_WAIT_SECONDS",
        "the oldest due task of a queue waiting longer raises an alert",
        300,
        group="monitoring",
    )
    alert_stuck_grace_seconds: int = _key(
        "STASK_ALERT_STUCK_GRACE_SECONDS",
        "a running task past its timeout or heartbeat by this much is stuck",
        60,
        group="monitoring",
    )
    alert_backlog_grace_seconds: int = _key(
        "STASK_ALERT_BACKLOG_GRACE_SECONDS",
        "due tasks waiting this long with no live worker process raise an alert",
        60,
        group="monitoring",
    )
    alert_schedule_grace_seconds: int = _key(
        "STASK_ALERT_SCHEDULE_GRACE_SECONDS",
        "an enabled schedule whose next slot is this many seconds old without a task raises an alert (at least 1)",
        300,
        group="monitoring",
    )
    alert_schedule_failures: int = _key(
        "STASK_ALERT_SCHEDULE_FAILURES",
        "a schedule whose last this many runs all failed raises an alert (0: off)",
        3,
        group="monitoring",
    )
    alert_cooldown: int = _key(
        "STASK_ALERT_COOLDOWN", "seconds before the same alert is sent again on a channel", 1800, group="monitoring"
    )
    alert_webhook_url: str = _key("STASK_ALERT_WEBHOOK_URL", "alerts are POSTed here as JSON", "", group="monitoring")
    alert_webhook_secret: str = _key(
        "STASK_ALERT_WEBHOOK_SECRET", "HMAC key of the X-Stask-Signature header", "", secret=True, group="monitoring"
    )
    alert_webhook_timeout: float = _key(
        "STASK_ALERT_WEBHOOK_TIMEOUT", "seconds to wait for the webhook", 5.0, group="monitoring"
    )
    alert_email_to: list[str] = _key(
        "STASK_ALERT_EMAIL_TO", "alert e-mail recipients, comma-separated", [], group="monitoring"
    )
    alert_email_from: str = _key(
        "STASK_ALERT_EMAIL_FROM", "sender of alert e-mails", "stask@localhost", group="monitoring"
    )
    alert_smtp_host: str = _key(
        "STASK_ALERT_SMTP_HOST", "SMTP server for alert e-mails", "localhost", group="monitoring"
    )
    alert_smtp_port: int = _key("STASK_ALERT_SMTP_PORT", "SMTP port", 25, group="monitoring")
    alert_smtp_user: str = _key("STASK_ALERT_SMTP_USER", "SMTP user (empty: no login)", "", group="monitoring")
    alert_smtp_password: str = _key("STASK_ALERT_SMTP_PASSWORD", "SMTP password", "", secret=True, group="monitoring")
    alert_smtp_starttls: bool = _key("STASK_ALERT_SMTP_STARTTLS", "use STARTTLS", False, group="monitoring")

    # -- notifications --------------------------------------------------------------------
    email_backend: str = _key(
        "STASK_EMAIL_BACKEND",
        "how task notifications are mailed: smtp (the STASK_ALERT_SMTP_* server) or files "
        "(.eml files under <storage>/outbox, for development)",
        "smtp",
        group="notifications",
    )
    webhook_allow_private: bool = _key(
        "STASK_WEBHOOK_ALLOW_PRIVATE",
        "webhooks may reach private, loopback and link-local addresses",
        False,
        group="notifications",
    )

    #: ``STASK_ALERT_P95_MS_<IDENTIFIER>`` values found in the config and the environment.
    alert_p95_ms_overrides: dict[str, int] = field(default_factory=dict, metadata={"pattern": P95_PREFIX + "*"})

    # -----------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        """Bounds a type cannot say, refused at start-up like a wrong type."""
        grace = self.alert_schedule_grace_seconds
        if grace < 1:
            raise InvalidSetting(f"STASK_ALERT_SCHEDULE_GRACE_SECONDS must be at least 1 (seconds), got {grace}")
        if self.alert_schedule_failures < 0:
            raise InvalidSetting(
                f"STASK_ALERT_SCHEDULE_FAILURES must be 0 (off) or more, got {self.alert_schedule_failures}"
            )
        if self.email_backend not in EMAIL_BACKENDS:
            raise InvalidSetting(f"STASK_EMAIL_BACKEND must be smtp or files, got {self.email_backend[:60]!r}")
        for key, value, upper in (
            ("STASK_TRIGGER_RATE_LIMIT", self.trigger_rate_limit, MAX_TRIGGER_RATE_LIMIT),
            ("STASK_TRIGGER_MAX_BODY_KB", self.trigger_max_body_kb, MAX_TRIGGER_BODY_KB),
        ):
            if not 1 <= value <= upper:
                raise InvalidSetting(f"{key} must be from 1 to {upper}, got {value}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
        """Resolve every key: ``config`` first, then ``environ`` (default ``os.environ``), then the default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in declared():
            raw = config.get(spec.key)
            if raw is None or raw == "":
                raw = environ.get(spec.key)
            if raw is None or raw == "":
                continue
            values[spec.name] = _coerce(spec, raw)
        overrides: dict[str, int] = {}
        for source in (environ, config):  # the config's own values win
            for key, raw in source.items():
                if key.startswith(P95_PREFIX) and key != "STASK_ALERT_P95_MS_WORKERS" and raw not in (None, ""):
                    overrides[key[len(P95_PREFIX) :]] = _integer(key, raw)
        values["alert_p95_ms_overrides"] = overrides
        return cls(**values)

    def p95_limit(self, identifier: str) -> int:
        """The p95 limit of one worker: its own key, the JSON mapping, or the global one."""
        own = self.alert_p95_ms_overrides.get(re.sub(r"[^A-Z0-9]", "_", identifier.upper()))
        if own is not None:
            return own
        if identifier in self.alert_p95_ms_workers:
            return int(self.alert_p95_ms_workers[identifier])
        return self.alert_p95_ms


@dataclass(frozen=True)
class Declared:
    """One declared key, for the README check and the docs."""

    name: str
    key: str
    doc: str
    default: Any
    kind: str
    secret: bool
    group: str


def declared() -> list[Declared]:
    """Every key :class:`Settings` reads, in declaration order."""
    out = []
    for spec in dataclasses.fields(Settings):
        if "key" not in spec.metadata:
            continue
        factory = spec.default_factory
        default = factory() if factory is not dataclasses.MISSING else spec.default
        out.append(
            Declared(
                name=spec.name,
                key=spec.metadata["key"],
                doc=spec.metadata["doc"],
                default=default,
                kind=str(spec.type),
                secret=spec.metadata["secret"],
                group=spec.metadata["group"],
            )
        )
    return out


def _coerce(spec: Declared, raw: Any) -> Any:
    kind = spec.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise InvalidSetting(f"{spec.key} must be true or false, got {_shown(spec, raw)}")
    if kind == "int":
        return _integer(spec.key, raw, spec)
    if kind == "float":
        try:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        except (TypeError, ValueError):
            raise InvalidSetting(f"{spec.key} must be a number, got {_shown(spec, raw)}") from None
    if kind == "list[str]":
        if not isinstance(raw, (str, list, tuple, set, frozenset)):
            raise InvalidSetting(f"{spec.key} must be a comma-separated string or a list")
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return [str(item).strip() for item in items if str(item).strip()]
    if kind == "dict[str, int]":
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise InvalidSetting(f"{spec.key} must be a JSON object, got {_shown(spec, raw)}") from None
        if not isinstance(raw, dict):
            raise InvalidSetting(f"{spec.key} must be a JSON object of integers")
        return {str(k): _integer(spec.key, v, spec) for k, v in raw.items()}
    if kind.startswith("Callable"):
        if not (isinstance(raw, str) or callable(raw)):
            raise InvalidSetting(f"{spec.key} must be a callable or its import path")
        return raw
    if not isinstance(raw, str):
        raise InvalidSetting(f"{spec.key} must be a string, got {type(raw).__name__}")
    return raw


def _integer(key: str, raw: Any, spec: Declared | None = None) -> int:
    try:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        return int(raw)
    except (TypeError, ValueError):
        shown = _shown(spec, raw) if spec else repr(raw)
        raise InvalidSetting(f"{key} must be a whole number, got {shown}") from None


def _shown(spec: Declared | None, raw: Any) -> str:
    """A refused value in an error message; a secret's value is never echoed."""
    return "a value that is not" if spec is not None and spec.secret else repr(raw)[:60]


def normalise_database_url(url: str) -> str:
    """Map the URLs platforms hand out (``postgres://``, ``mysql://``) to installed drivers."""
    for prefix, driver in (
        ("postgres://", "postgresql+psycopg://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("mysql://", "mysql+pymysql://"),
        ("mariadb://", "mariadb+pymysql://"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    return url
