"""JSON API (placeholder blueprint filled in by the panel/API issue)."""

from __future__ import annotations

from flask import Blueprint, jsonify

api_bp = Blueprint("stask_api", __name__)


@api_bp.get("/health")
def health() -> object:
    return jsonify({"status": "ok"})
