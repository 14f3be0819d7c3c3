"""What the trigger tests share: the app's settings, row counts, and calls of a hook URL."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.notify.signing import signed_headers
from tests.presets.plugins import PRESET_CONFIG
from tests.support.api import ADMIN

#: The suite's tokens and workers, and the report worker whose action declares its data fields
#: (rows: 1 to 1000, format: csv or json, title: a string).
TRIGGER_CONFIG: dict[str, Any] = dict(PRESET_CONFIG)
REPORT = {"name": "deploy", "identifier": "report", "action": "build"}


def count(app: Flask, model: Any, **where: Any) -> int:
    """Rows of ``model`` (with these column values), read in a context of its own."""
    with app.app_context():
        db = app.extensions["stask"].db
        query = sa.select(sa.func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        number = db.session.scalar(query)
        db.session.remove()
    return int(number or 0)


def rows(app: Flask, model: Any, **where: Any) -> list[Any]:
    with app.app_context():
        db = app.extensions["stask"].db
        query = sa.select(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        found = list(db.session.scalars(query.order_by(model.id)))
        db.session.expunge_all()
        db.session.remove()
    return found


def create_trigger(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    """POST /api/triggers as the admin: the 201 answer."""
    response = client.post("/stask/api/triggers", json={**REPORT, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.get_json())


def hook(token: str) -> str:
    return f"/stask/hooks/{token}"


def call(client: FlaskClient, token: str, body: Any = None, **headers: str) -> Any:
    """POST a JSON value (or raw bytes) to a hook URL, no credentials."""
    data = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
    return client.post(hook(token), data=data, headers={"Content-Type": "application/json", **headers})


def signed_call(client: FlaskClient, token: str, secret: str, body: Any, now: float | None = None) -> Any:
    data = json.dumps(body).encode()
    return call(client, token, data, **signed_headers(secret, data, now))
