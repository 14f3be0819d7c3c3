"""Helpers for the API, panel and security tests: credentials, direct row changes, errors."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.apps import PLUGINS, TEST_WORKERS, run_worker

ADMIN_TOKEN = "admin-token-0123456789abcdef"
SECOND_ADMIN_TOKEN = "second-admin-token-0123456789"
READONLY_TOKEN = "readonly-token-0123456789abcdef"
ADMIN_PASSWORD = "correct horse battery staple"
READONLY_PASSWORD = "just looking"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READONLY = {"Authorization": f"Bearer {READONLY_TOKEN}"}
AUTH_CONFIG: dict[str, Any] = {
    "STASK_API_TOKEN": f"{ADMIN_TOKEN}, {SECOND_ADMIN_TOKEN}",
    "STASK_READONLY_TOKEN": READONLY_TOKEN,
    "STASK_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "STASK_READONLY_PASSWORD": READONLY_PASSWORD,
    "STASK_WORKERS": TEST_WORKERS + f",{PLUGINS}:UploadWorker",
}


def host_rule(request: Any) -> Any:
    """Stands in for Flask-Login in ``STASK_AUTHORIZE``: the role comes from a header the host checked."""
    return {"boss": True, "viewer": "readonly", "root": "admin"}.get(request.headers.get("X-User", ""), False)


def error_code(response: Any, status: int) -> str:
    """Assert the status and the error shape; return the error code."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False
    return str(body["error"]["code"])


def login(client: FlaskClient, password: str = ADMIN_PASSWORD) -> str:
    """Sign in through the form (as a browser does); returns the session's CSRF token."""
    client.get("/stask/login")
    with client.session_transaction() as session:
        token = session["stask_csrf"]
    response = client.post("/stask/login", data={"password": password, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    with client.session_transaction() as session:
        return str(session["stask_csrf"])


def create(app: Flask, identifier: str = "echo", action: str = "say", **fields: Any) -> int:
    with app.app_context():
        ext = app.extensions["stask"]
        task_id = ext.create(identifier, action, **fields).id
        ext.db.session.remove()
    return int(task_id)


def set_row(app: Flask, task_id: int, **values: Any) -> None:
    """Put a task row in a given state directly (statuses a test cannot wait for)."""
    from stask.models import Task

    with app.app_context():
        db = app.extensions["stask"].db
        db.session.execute(sa.update(Task).where(Task.id == task_id).values(**values))
        db.session.commit()
        db.session.remove()


def run_all(app: Flask) -> None:
    """Run every queued task in this process (real RQ worker in burst mode)."""
    with app.app_context():
        run_worker(app)
        app.extensions["stask"].db.session.remove()
