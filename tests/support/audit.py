"""Reading the audit log in tests: the rows as the API gives them, newest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from stask.models import AuditEntry, utcnow


def entries(app: Flask, **filters: str) -> list[dict[str, Any]]:
    """Every audit row (up to 200) matching ``filters`` (the API's query names), newest first."""
    from stask.service.audit import parse_audit_query

    with app.app_context():
        service = app.extensions["stask.service"]
        page = service.audit.page(parse_audit_query({**filters, "per_page": "200"}))
        service.db.session.remove()
    return [entry.to_dict() for entry in page.items]


def actions(app: Flask) -> list[str]:
    """The actions recorded so far, oldest first."""
    return [entry["action"] for entry in reversed(entries(app))]


def backdate(app: Flask, days: float, action: str | None = None) -> None:
    """Move rows (of one action, or all) ``days`` into the past."""
    with app.app_context():
        db = app.extensions["stask"].db
        statement = sa.update(AuditEntry).values(created_at=utcnow() - timedelta(days=days))
        if action:
            statement = statement.where(AuditEntry.action == action)
        db.session.execute(statement)
        db.session.commit()
        db.session.remove()
