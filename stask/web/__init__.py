"""The web layer: admin panel (HTML + HTMX) and JSON API blueprints. Nothing imports this package."""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    """Mount the panel and API under ``STASK_URL_PREFIX``."""
    from .api import api_bp

    app.register_blueprint(api_bp, url_prefix=app.config["STASK_URL_PREFIX"])
