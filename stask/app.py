"""The standalone application (``wsgi.py``, ``make run``, ``flask --app stask``).

Unlike the extension, which leaves a host's configuration alone, the standalone app sets
its own session defaults: a ``SECRET_KEY`` (``SECRET_KEY`` or ``STASK_SECRET_KEY`` from the
environment, else a random key with a warning), strict session-cookie flags and a cookie
lifetime no longer than ``STASK_SESSION_MAX_HOURS``.

A process started as ``flask … stask worker`` gets a worker-only app: no panel, API or
monitoring blueprints (``STASK_WEB`` off) and no Flask-Migrate/Alembic. A forking worker copies
its process at every job, so what only the web needs would be paid for at every task.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from flask import Flask

from .extension import STask
from .paths import MIGRATIONS_DIR
from .settings import Settings

log = logging.getLogger("stask")


def create_app(test_config: dict[str, Any] | None = None, *, worker_only: bool | None = None) -> Flask:
    """Build the app from the environment (``DATABASE_URL``, ``REDIS_URL``, ``STASK_*``).

    ``worker_only`` (default: whether this process is the ``stask worker`` command) leaves out
    what only the web and the schema commands use.
    """
    if worker_only is None:
        worker_only = is_worker_command(sys.argv)
    instance = Settings.from_config(test_config or {}).instance_path or os.path.abspath("instance")
    app = Flask("stask", instance_path=instance, instance_relative_config=True)
    app.config.from_prefixed_env("FLASK")
    if test_config:
        app.config.update(test_config)
    if worker_only:
        app.config["STASK_WEB"] = False
    stask = STask(app)
    _session_defaults(app)
    if worker_only:
        from .web.i18n import init_i18n

        init_i18n(app)  # notifications a worker renders keep the panel's translations
    else:
        from flask_migrate import Migrate  # Alembic: a third of the start-up, none of a worker's work

        Migrate(app, stask.db, directory=str(MIGRATIONS_DIR))
    return app


def is_worker_command(argv: Sequence[str]) -> bool:
    """Whether ``argv`` runs ``flask [options] stask worker …`` (the app is built before the command runs)."""
    args = list(argv[1:])
    return any(args[i : i + 2] == ["stask", "worker"] for i in range(len(args) - 1))


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
