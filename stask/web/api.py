"""JSON API (skeleton: to be completed by the API work)."""

from __future__ import annotations

from flask import Blueprint

api_bp = Blueprint("stask_api", __name__)
