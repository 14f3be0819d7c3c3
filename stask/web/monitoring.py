"""Monitoring endpoints and the Performance page (skeleton: to be completed by the monitoring work)."""

from __future__ import annotations

from flask import Blueprint

monitoring_bp = Blueprint("stask_monitoring", __name__)
#: OpenAPI path items for the endpoints of this blueprint, merged into /stask/api/openapi.json.
OPENAPI_PATHS: dict[str, dict] = {}
