"""The audit page: who changed what, when and from where (any signed-in role may read it)."""

from __future__ import annotations

from flask import Response, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from ..exceptions import StaskError
from ..models import utcnow
from ..service import current_stask
from ..service.audit import ACTIONS, parse_audit_query
from .panel import panel_bp
from .panel_support import is_htmx


@panel_bp.get("/audit")
def audit() -> BaseResponse:
    """Full page, or the table alone for htmx (filters and pages swap it in place)."""
    error = None
    try:
        page = current_stask().audit.page(parse_audit_query(request.args))
    except StaskError as exc:
        error, page = str(exc), None
    template = "stask/fragments/audit_table.html" if is_htmx() else "stask/audit.html"
    body = render_template(template, page=page, error=error, args=request.args, actions=ACTIONS, now=utcnow())
    response = Response(body, status=400 if error else 200)
    response.vary.add("HX-Request")
    return response
