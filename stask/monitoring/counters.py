"""Tasks per (worker, status) in ``s_task_counts``, kept exact by triggers on ``s_tasks``.

Why triggers: every path that changes a status or deletes rows (the engine's claim and
finish, retry, cancel, bulk delete, cleanup, a host app's own SQL, the bench's generated
rows) is counted without the client sending a statement more, so the task path keeps its
budget of three statements, and the dashboard and ``/metrics`` read a few dozen rows instead
of counting millions.

- PostgreSQL: statement-level triggers with transition tables, so a bulk INSERT, UPDATE or
  DELETE adds one grouped upsert, not one per row; counter rows are touched in key order
  within the statement (no lock-order cycles between single-row statements).
- SQLite and MariaDB: row-level triggers (neither has transition tables). MariaDB touches the
  two rows of a status change in key order, for the same reason.

A decrement only ever UPDATEs an existing counter row (it never creates a negative one), so
emptying the two tables in either order leaves both empty. ``rebuild`` recounts from the rows
(one grouped statement over the whole table): for a database upgraded from before migration
0011 or after a TRUNCATE (which fires no row trigger).

The DDL below is what migration 0011 runs, and what ``create_all`` runs after creating the
table (host apps without Alembic); a change to it needs a new migration.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..models import Base, Task

TABLE = "s_task_counts"


class TaskCount(Base):
    __tablename__ = TABLE

    identifier: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    status: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    #: Tasks of this worker in this status now.
    n: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    def __repr__(self) -> str:
        return f"<TaskCount {self.identifier} {self.status}: {self.n}>"


_POSTGRESQL = [
    f"""
CREATE FUNCTION s_task_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} (identifier, status, n)
    SELECT identifier, status, count(*) FROM new_rows GROUP BY identifier, status ORDER BY identifier, status
    ON CONFLICT (identifier, status) DO UPDATE SET n = {TABLE}.n + EXCLUDED.n;
    RETURN NULL;
END $$""",
    f"""
CREATE FUNCTION s_task_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} (identifier, status, n)
    SELECT identifier, status, sum(k) FROM (
        SELECT identifier, status, -1 AS k FROM old_rows
        UNION ALL SELECT identifier, status, 1 AS k FROM new_rows
    ) AS changes
    GROUP BY identifier, status HAVING sum(k) <> 0 ORDER BY identifier, status
    ON CONFLICT (identifier, status) DO UPDATE SET n = {TABLE}.n + EXCLUDED.n;
    RETURN NULL;
END $$""",
    f"""
CREATE FUNCTION s_task_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {TABLE} AS c SET n = c.n - d.k
    FROM (SELECT identifier, status, count(*) AS k FROM old_rows GROUP BY identifier, status) AS d
    WHERE c.identifier = d.identifier AND c.status = d.status;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER s_tasks_count_insert AFTER INSERT ON s_tasks REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION s_task_counts_insert()",
    "CREATE TRIGGER s_tasks_count_update AFTER UPDATE ON s_tasks REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION s_task_counts_update()",
    "CREATE TRIGGER s_tasks_count_delete AFTER DELETE ON s_tasks REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION s_task_counts_delete()",
]

_SQLITE = [
    f"""
CREATE TRIGGER s_tasks_count_insert AFTER INSERT ON s_tasks BEGIN
    INSERT INTO {TABLE} (identifier, status, n) VALUES (NEW.identifier, NEW.status, 1)
    ON CONFLICT (identifier, status) DO UPDATE SET n = n + 1;
END""",
    f"""
CREATE TRIGGER s_tasks_count_update AFTER UPDATE OF identifier, status ON s_tasks
WHEN OLD.status IS NOT NEW.status OR OLD.identifier IS NOT NEW.identifier BEGIN
    UPDATE {TABLE} SET n = n - 1 WHERE identifier = OLD.identifier AND status = OLD.status;
    INSERT INTO {TABLE} (identifier, status, n) VALUES (NEW.identifier, NEW.status, 1)
    ON CONFLICT (identifier, status) DO UPDATE SET n = n + 1;
END""",
    f"""
CREATE TRIGGER s_tasks_count_delete AFTER DELETE ON s_tasks BEGIN
    UPDATE {TABLE} SET n = n - 1 WHERE identifier = OLD.identifier AND status = OLD.status;
END""",
]

_MYSQL_DECREMENT = f"UPDATE {TABLE} SET n = n - 1 WHERE identifier = OLD.identifier AND status = OLD.status"
_MYSQL_INCREMENT = (
    f"INSERT INTO {TABLE} (identifier, status, n) VALUES (NEW.identifier, NEW.status, 1) "
    "ON DUPLICATE KEY UPDATE n = n + 1"
)
_MYSQL = [
    f"CREATE TRIGGER s_tasks_count_insert AFTER INSERT ON s_tasks FOR EACH ROW {_MYSQL_INCREMENT}",
    f"""
CREATE TRIGGER s_tasks_count_update AFTER UPDATE ON s_tasks FOR EACH ROW
BEGIN
    IF NOT (OLD.status <=> NEW.status AND OLD.identifier <=> NEW.identifier) THEN
        IF (OLD.identifier, OLD.status) < (NEW.identifier, NEW.status) THEN
            {_MYSQL_DECREMENT};
            {_MYSQL_INCREMENT};
        ELSE
            {_MYSQL_INCREMENT};
            {_MYSQL_DECREMENT};
        END IF;
    END IF;
END""",
    f"CREATE TRIGGER s_tasks_count_delete AFTER DELETE ON s_tasks FOR EACH ROW {_MYSQL_DECREMENT}",
]

_DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS s_tasks_count_insert ON s_tasks",
        "DROP TRIGGER IF EXISTS s_tasks_count_update ON s_tasks",
        "DROP TRIGGER IF EXISTS s_tasks_count_delete ON s_tasks",
        "DROP FUNCTION IF EXISTS s_task_counts_insert()",
        "DROP FUNCTION IF EXISTS s_task_counts_update()",
        "DROP FUNCTION IF EXISTS s_task_counts_delete()",
    ],
    "other": [
        "DROP TRIGGER IF EXISTS s_tasks_count_insert",
        "DROP TRIGGER IF EXISTS s_tasks_count_update",
        "DROP TRIGGER IF EXISTS s_tasks_count_delete",
    ],
}


def create_triggers_sql(dialect: str) -> list[str]:
    """The statements that create the counting triggers on ``dialect`` (``sa`` dialect name)."""
    if dialect == "postgresql":
        return list(_POSTGRESQL)
    if dialect == "sqlite":
        return list(_SQLITE)
    if dialect in ("mysql", "mariadb"):
        return list(_MYSQL)
    raise NotImplementedError(f"stask counts tasks with triggers on PostgreSQL, SQLite and MariaDB, not {dialect}")


def drop_triggers_sql(dialect: str) -> list[str]:
    return list(_DROP["postgresql" if dialect == "postgresql" else "other"])


def _after_create(target: sa.MetaData, connection: sa.Connection, **kw: Any) -> None:
    """``create_all`` (no Alembic) gets the triggers too, once every table exists."""
    if TaskCount.__table__ in kw.get("tables", ()):
        for statement in create_triggers_sql(connection.dialect.name):
            connection.exec_driver_sql(statement)


sa.event.listen(Base.metadata, "after_create", _after_create)


# -- reading and rebuilding ------------------------------------------------------------------
def counts(session: Any, identifier: str | None = None) -> dict[tuple[str, int], int]:
    """(worker, status) -> tasks, every worker or one: one statement over a few dozen rows."""
    query = sa.select(TaskCount.identifier, TaskCount.status, TaskCount.n).where(TaskCount.n != 0)
    if identifier is not None:
        query = query.where(TaskCount.identifier == identifier)
    return {(str(row[0]), int(row[1])): int(row[2]) for row in session.execute(query)}


def rebuild(session: Session | Any) -> int:
    """Recount every (worker, status) from ``s_tasks`` (one grouped scan); returns the rows written.

    Run it in a transaction of its own: the table is locked on PostgreSQL and MariaDB while
    it runs, so task writes wait instead of being counted twice or not at all.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(sa.text(f"LOCK TABLE s_tasks, {TABLE} IN SHARE ROW EXCLUSIVE MODE"))
    elif dialect in ("mysql", "mariadb"):
        # Reads under FOR UPDATE lock the rows counted; the delete then the insert run in one transaction.
        session.execute(sa.select(sa.func.count()).select_from(Task).with_for_update())
    session.execute(sa.delete(TaskCount))
    rows = session.execute(
        sa.select(Task.identifier, Task.status, sa.func.count()).group_by(Task.identifier, Task.status)
    ).all()
    if rows:
        session.execute(
            sa.insert(TaskCount), [{"identifier": row[0], "status": int(row[1]), "n": int(row[2])} for row in rows]
        )
    return len(rows)
