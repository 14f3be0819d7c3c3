"""The standalone application (``wsgi.py``, ``make run``, ``flask --app stask``).

Unlike the extension, which leaves a host's configuration alone, the standalone app sets
its own session defaults: a ``SECRET_KEY`` (``SECRET_KEY`` or ``STASK_SECRET_KEY`` from the
environment, else a random key with a warning), strict session-cookie flags and a cookie
lifetime no longer than ``STASK_SESSION_MAX_HOURS``.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_migrate import Migrate

from .extension import STask
from .paths import MIGRATIONS_DIR
from .settings import Settings

log = logging.getLogger("stask")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment (``DATABASE_URL``, ``REDIS_URL``, ``STASK_*``)."""
    instance = Settings.from_config(test_config or {}).instance_path or os.path.abspath("instance")
    app = Flask("stask", instance_path=instance, instance_relative_config=True)
    app.config.from_prefixed_env("FLASK")
    if test_config:
        app.config.update(test_config)
    stask = STask(app)
    _session_defaults(app)
    Migrate(app, stask.db, directory=str(MIGRATIONS_DIR))
    return app


def _session_defaults(app: Flask) -> None:
    settings = app.extensions["stask.service"].settings
    if not app.config.get("SECRET_KEY"):
        key = settings.secret_key or os.environ.get("SECRET_KEY")
        if not key:
            key = secrets.token_hex(32)
            log.warning(
                "stask: no SECRET_KEY or STASK_SECRET_KEY set; using a random key, so sign-ins end when the "
                "process restarts and are not shared between processes"
            )
        app.config["SECRET_KEY"] = key
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # The signed cookie is refused past this age even if Redis still had its sign-in (31 days by default).
    lifetime = timedelta(hours=settings.session_max_hours)
    current = app.config.get("PERMANENT_SESSION_LIFETIME")
    if isinstance(current, int):
        current = timedelta(seconds=current)
    if not isinstance(current, timedelta) or current > lifetime:
        app.config["PERMANENT_SESSION_LIFETIME"] = lifetime
    if settings.secure_cookies:
        app.config["SESSION_COOKIE_SECURE"] = True
