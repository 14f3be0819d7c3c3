"""Configuration defaults, read from the Flask config first and the environment second.

Every key is prefixed ``STASK_`` except the two twelve-factor URLs ``DATABASE_URL``
and ``REDIS_URL``. :func:`apply_defaults` fills ``app.config`` with ``setdefault`` so a
host application's own values always win.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

#: name -> (default, parser). Parsers turn environment strings into typed values.
DEFAULTS: dict[str, Any] = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    #: Root for task logs, uploads and result files (relative to the instance folder).
    "STASK_STORAGE": None,
    #: Comma-separated ``module:Class`` import paths of extra worker classes.
    "STASK_WORKERS": "",
    #: Newly discovered workers start active when true.
    "STASK_AUTO_ACTIVATE": False,
    #: Attempts per task unless the worker or the task says otherwise.
    "STASK_MAX_ATTEMPTS": 3,
    #: Retry delay = min(cap, base * 2 ** (attempt - 1)), then "equal jitter" (half fixed, half random).
    "STASK_BACKOFF_BASE": 5.0,
    "STASK_BACKOFF_CAP": 600.0,
    #: Seconds an action may run before it is interrupted (per worker: ``timeout``).
    "STASK_TIMEOUT": 1800,
    #: A running task whose heartbeat key is older than this is considered dead.
    "STASK_HEARTBEAT_TTL": 30,
    #: How often a running worker process reconciles SQL with Redis (requeue lost, recover dead).
    "STASK_RECONCILE_INTERVAL": 30,
    #: Seconds a live progress record stays in Redis after its last update.
    "STASK_PROGRESS_TTL": 86400,
    #: Seconds a worker definition stays in the per-process (L1) cache.
    "STASK_CACHE_L1_TTL": 10,
    #: Seconds a worker definition stays in the shared (L2, Redis) cache.
    "STASK_CACHE_L2_TTL": 300,
    #: Default RQ worker class for ``flask stask worker``: fork, simple or a dotted path.
    "STASK_WORKER_CLASS": "fork",
    #: Prefix for every Redis key stask owns besides RQ's own.
    "STASK_REDIS_PREFIX": "stask",
    #: URL prefix of the panel and API.
    "STASK_URL_PREFIX": "/stask",
    #: Mount the panel and API (worker-only processes may set it false).
    "STASK_WEB": True,
}

_BOOL_TRUE = {"1", "true", "yes", "on"}


def _coerce(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in _BOOL_TRUE
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def apply_defaults(app: Flask) -> None:
    """Fill missing config keys from the environment, then from :data:`DEFAULTS`."""
    for key, default in DEFAULTS.items():
        if key in app.config:
            continue
        raw = os.environ.get(key)
        app.config[key] = default if raw is None else _coerce(default, raw)
    for key, raw in os.environ.items():
        if key.startswith("STASK_") and key not in app.config:
            app.config[key] = raw
    if not app.config.get("STASK_STORAGE"):
        app.config["STASK_STORAGE"] = os.path.join(app.instance_path, "stask")


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
