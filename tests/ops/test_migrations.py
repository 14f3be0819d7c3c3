"""The migrations build what the models describe, on every database, and 0010 goes both ways.

Alembic's ``compare_metadata`` finds no difference between the migrated schema and the models
(columns, types, indexes, constraints). It does not compare table options, so SQLite's
``AUTOINCREMENT`` is compared here by reading the tables' SQL.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy.schema import CreateTable

from stask import create_app, search_index
from stask.models import Base
from stask.monitoring import rollups  # noqa: F401 (its table is part of the metadata)
from tests.support.apps import close_app
from tests.support.environment import SERVER_URLS, require
from tests.support.servers import Databases

MIGRATION_0010 = importlib.import_module("stask.migrations.versions.0010_attempt_budget_and_ids")


def compared(name: str | None, type_: str, parent_names: Any) -> bool:
    """The schema comparison leaves out the search index (no metadata describes FTS5, FULLTEXT or GIN)."""
    return not search_index.skipped(name)


def autoincrement_tables(connection: sa.Connection) -> set[str]:
    """The SQLite tables created with ``AUTOINCREMENT`` (their ids are never reused)."""
    rows = connection.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    return {name for name, sql in rows if "AUTOINCREMENT" in (sql or "").upper()}


def model_autoincrement_tables() -> set[str]:
    """What the models ask for: their ``CREATE TABLE`` as SQLite would run it."""
    from sqlalchemy.dialects import sqlite

    return {
        table.name
        for table in Base.metadata.sorted_tables
        if "AUTOINCREMENT" in str(CreateTable(table).compile(dialect=sqlite.dialect()))
    }


def test_the_migrated_schema_is_what_the_models_describe(app: Flask) -> None:
    engine = app.extensions["stask"].db.engine
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": compared})
        assert compare_metadata(context, Base.metadata) == []
        if engine.dialect.name == "sqlite":
            assert autoincrement_tables(connection) == model_autoincrement_tables()


def test_every_table_whose_ids_are_referred_to_never_reuses_them() -> None:
    assert model_autoincrement_tables() == set(MIGRATION_0010.NEVER_REUSED)
    assert {"s_tasks", "s_groups", "s_schedules", "s_presets", "s_triggers", "s_notifications"} <= set(
        MIGRATION_0010.NEVER_REUSED
    )


@pytest.fixture
def own_database(backend: str, tmp_path: Path, redis_url: str) -> Iterator[Flask]:
    """An app on an empty database of this test alone (dropped after it), nothing migrated yet."""
    databases = Databases(SERVER_URLS, tmp_path / "own.db")
    if backend != "sqlite":
        require(backend, lambda: databases.create(backend))
    config: dict[str, Any] = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": databases.create(backend),
        "REDIS_URL": redis_url,
        "STASK_STORAGE": str(tmp_path / "storage"),
        "SECRET_KEY": "test-secret",
    }
    app = create_app(config)
    try:
        yield app
    finally:
        close_app(app)
        databases.drop()


def test_0010_fills_the_budget_of_existing_rows_and_goes_back(own_database: Flask) -> None:
    app = own_database
    insert = sa.text(
        "INSERT INTO s_tasks (identifier, action, status, priority, progress, attempts, max_attempts, created_at,"
        " waiting_parents, follow_up, notify) VALUES ('echo', 'say', 100, 'normal', 0, 1, :budget, :now, 0, :no, :no)"
    )
    with app.app_context():
        engine = app.extensions["stask"].db.engine
        upgrade(revision="0009")
        with engine.begin() as connection:
            for budget in (1, 4):
                connection.execute(insert, {"budget": budget, "now": "2026-12-01 00:00:00", "no": False})
        upgrade()
        with engine.connect() as connection:
            budgets = connection.execute(sa.text("SELECT max_attempts, attempt_budget FROM s_tasks ORDER BY id"))
            assert [tuple(row) for row in budgets] == [(1, 1), (4, 4)]
            if engine.dialect.name == "sqlite":
                assert autoincrement_tables(connection) == set(MIGRATION_0010.NEVER_REUSED)
        downgrade(revision="0009")
        with engine.connect() as connection:
            assert "attempt_budget" not in {c["name"] for c in sa.inspect(connection).get_columns("s_tasks")}
            assert connection.execute(sa.text("SELECT COUNT(*) FROM s_tasks")).scalar() == 2
            if engine.dialect.name == "sqlite":
                assert autoincrement_tables(connection) == set()
        upgrade()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": compared})
            assert compare_metadata(context, Base.metadata) == []
