"""The standalone application (``wsgi.py``, ``make run``, ``flask --app wsgi``)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_migrate import Migrate

from .extension import STask
from .paths import MIGRATIONS_DIR


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment (``DATABASE_URL``, ``REDIS_URL``, ``STASK_*``)."""
    instance = os.environ.get("STASK_INSTANCE_PATH") or os.path.abspath("instance")
    app = Flask("stask", instance_path=instance, instance_relative_config=True)
    app.config.from_prefixed_env("FLASK")
    if test_config:
        app.config.update(test_config)
    stask = STask(app)
    Migrate(app, stask.db, directory=str(MIGRATIONS_DIR))
    return app
