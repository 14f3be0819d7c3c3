"""Admin panel views (skeleton being completed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from werkzeug.routing import BuildError

_PACKAGE = Path(__file__).resolve().parent.parent
panel_bp = Blueprint(
    "stask_panel",
    __name__,
    template_folder=str(_PACKAGE / "templates"),
    static_folder=str(_PACKAGE / "static" / "stask"),
    static_url_path="/static",
)


def stask_url(endpoint: str, **values: Any) -> str | None:
    """``url_for`` that returns None for an endpoint another part of stask has not registered."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def stask_lang_url(code: str) -> str:
    """The current page in another language (keeps its query string)."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    if request.endpoint and request.endpoint in current_app.view_functions and request.method == "GET":
        try:
            return url_for(request.endpoint, **(request.view_args or {}), **args)
        except BuildError:
            pass
    return f"{request.path}?lang={code}"


def stask_role() -> str | None:
    """The signed-in role, or None when auth offers no roles (skeleton auth)."""
    from . import auth

    role = getattr(auth, "current_role", None)
    return role() if role else None


def stask_nav_active(endpoint: str) -> bool:
    current = request.endpoint or ""
    if endpoint == "stask_panel.tasks":
        return current in ("stask_panel.tasks", "stask_panel.task")
    if endpoint == "stask_panel.workers":
        return current in ("stask_panel.workers", "stask_panel.worker_settings")
    return current == endpoint


@panel_bp.app_context_processor
def _panel_helpers() -> dict[str, Any]:
    return {
        "stask_url": stask_url,
        "stask_static": lambda name: url_for("stask_panel.static", filename=name),
        "stask_lang_url": stask_lang_url,
        "stask_role": stask_role,
        "stask_nav_active": stask_nav_active,
    }


@panel_bp.get("/")
def dashboard() -> str:
    return render_template("stask/dashboard.html")
