"""Small pieces the panel views share: htmx detection and the write guard."""

from __future__ import annotations

from flask import request

from . import auth

#: htmx stops a polling trigger when a response has this status (and still swaps it).
HTMX_STOP_POLLING = 286


def is_htmx() -> bool:
    """An htmx request that wants a fragment (a history restore wants the full page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def can_write() -> bool:
    """Whether the signed-in user may change things (the read-only role may not)."""
    return auth.can_write()


#: 403 for the read-only role (the API helper's decorator, so panel and API agree).
write_required = auth.require_write
