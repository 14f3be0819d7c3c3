"""Fixtures for the API and security tests (loaded with ``pytest_plugins = ["tests.api_fixtures"]``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api_support import build


@pytest.fixture
def make_api_app(sqlite_path: Path, redis_url: str, tmp_path: Path) -> Iterator[Any]:
    """Build an app on SQLite with extra config: ``make_api_app(STASK_AUTHORIZE=...)``."""
    built: list[Flask] = []

    def factory(**config: Any) -> Flask:
        application = build("sqlite", sqlite_path, redis_url, tmp_path, **config)
        built.append(application)
        return application

    yield factory
    for application in built:
        with application.app_context():
            application.extensions["stask"].db.engine.dispose()


@pytest.fixture
def api_app(make_api_app: Any) -> Flask:
    """SQLite: for behaviour that does not depend on the database."""
    return make_api_app()  # type: ignore[no-any-return]


@pytest.fixture
def api_app_any(backend: str, sqlite_path: Path, redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    """Each database in turn: for queries (filters, search, sorting, ids)."""
    application = build(backend, sqlite_path, redis_url, tmp_path)
    yield application
    with application.app_context():
        application.extensions["stask"].db.engine.dispose()


@pytest.fixture
def client(api_app: Flask) -> FlaskClient:
    return api_app.test_client()
