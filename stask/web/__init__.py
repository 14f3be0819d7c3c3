"""The web layer: admin panel (HTML + HTMX), JSON API and monitoring blueprints.

Nothing outside this package imports it; its views are thin adapters over the service
(:func:`stask.service.current_stask`): parse the request, call the service, render.
"""

from __future__ import annotations

from flask import Flask

from ..settings import Settings


def register_web(app: Flask, settings: Settings) -> None:
    """Mount the panel, the API and the monitoring endpoints under ``STASK_URL_PREFIX``."""
    from .api import api_bp
    from .auth import auth_bp, init_auth
    from .hooks import hooks_bp
    from .i18n import init_i18n
    from .monitoring import monitoring_bp
    from .panel import panel_bp

    prefix = settings.url_prefix
    init_i18n(app)
    init_auth(app)
    for blueprint in (auth_bp, panel_bp, api_bp, monitoring_bp):
        app.register_blueprint(blueprint, url_prefix=prefix)
    app.register_blueprint(hooks_bp, url_prefix=prefix)  # public: the trigger's token is the credential
