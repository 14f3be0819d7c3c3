"""Admin panel views (skeleton: to be completed by the panel work)."""

from __future__ import annotations

from flask import Blueprint

panel_bp = Blueprint("stask_panel", __name__)
