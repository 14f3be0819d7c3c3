"""Authentication, roles and CSRF (skeleton: to be completed by the API/security work)."""

from __future__ import annotations

from flask import Blueprint, Flask

auth_bp = Blueprint("stask_auth", __name__)


def init_auth(app: Flask) -> None:
    app.config.setdefault("SECRET_KEY", None)


def protect(blueprint: Blueprint) -> None:
    """Require an authenticated user for every view of ``blueprint``."""
