"""The text-search index of ``s_tasks`` on each database (migration 0012), outside the models.

Each database has its own kind, none of which SQLAlchemy's metadata can describe:

* PostgreSQL: two trigram GIN indexes (``pg_trgm``), on ``message`` and on ``data`` as text;
  they serve the ``ILIKE '%...%'`` the search already runs, so its meaning is unchanged.
* MariaDB: a FULLTEXT index on each of ``message`` and ``data`` (their collations differ, and
  one FULLTEXT index needs one collation); MariaDB has no trigram parser, so it finds words.
* SQLite: an FTS5 table with the trigram tokenizer over the same two columns, kept by three
  triggers (``content=`` table: the text is not stored twice).

:func:`create` builds them where ``Base.metadata.create_all`` builds the tables (host apps
without Alembic); the migration builds the same. ``OBJECTS`` names them for the schema
comparison (tests/ops/test_migrations.py), which leaves them out.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

#: The FTS5 table on SQLite (its shadow tables start with this name).
SQLITE_TABLE = "s_tasks_search"
POSTGRES_INDEXES = ("ix_s_tasks_message_trgm", "ix_s_tasks_data_trgm")
MARIADB_INDEXES = ("ix_s_tasks_message_ft", "ix_s_tasks_data_ft")
SQLITE_TRIGGERS = ("s_tasks_search_ai", "s_tasks_search_ad", "s_tasks_search_au")
#: Names the schema comparison skips (plus every table whose name starts with SQLITE_TABLE).
OBJECTS = frozenset((SQLITE_TABLE, *POSTGRES_INDEXES, *MARIADB_INDEXES, *SQLITE_TRIGGERS))

POSTGRES = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_s_tasks_message_trgm ON s_tasks USING gin (message gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_s_tasks_data_trgm ON s_tasks USING gin ((CAST(data AS TEXT)) gin_trgm_ops)",
)
MARIADB = (
    "ALTER TABLE s_tasks ADD FULLTEXT INDEX ix_s_tasks_message_ft (message)",
    "ALTER TABLE s_tasks ADD FULLTEXT INDEX ix_s_tasks_data_ft (data)",
)
SQLITE = (
    f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5(message, data, content='s_tasks', content_rowid='id',"
    " tokenize='trigram')",
    f"CREATE TRIGGER s_tasks_search_ai AFTER INSERT ON s_tasks BEGIN"
    f" INSERT INTO {SQLITE_TABLE} (rowid, message, data) VALUES (new.id, new.message, new.data); END",
    f"CREATE TRIGGER s_tasks_search_ad AFTER DELETE ON s_tasks BEGIN"
    f" INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}, rowid, message, data)"
    " VALUES ('delete', old.id, old.message, old.data); END",
    f"CREATE TRIGGER s_tasks_search_au AFTER UPDATE OF message, data ON s_tasks BEGIN"
    f" INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}, rowid, message, data)"
    " VALUES ('delete', old.id, old.message, old.data);"
    f" INSERT INTO {SQLITE_TABLE} (rowid, message, data) VALUES (new.id, new.message, new.data); END",
    f"INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}) VALUES ('rebuild')",
)
STATEMENTS = {"postgresql": POSTGRES, "mysql": MARIADB, "mariadb": MARIADB, "sqlite": SQLITE}


def skipped(name: str | None) -> bool:
    """Whether the schema comparison leaves this object out (it is the search index's)."""
    return bool(name) and (name in OBJECTS or str(name).startswith(SQLITE_TABLE))


def create(target: sa.Table, connection: sa.Connection, **_: Any) -> None:
    """``after_create`` of ``s_tasks``: the search index of this database."""
    for statement in STATEMENTS.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)
