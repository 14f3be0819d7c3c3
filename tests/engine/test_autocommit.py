"""A statement run alone in autocommit on PostgreSQL, on psycopg's own connection (``run_alone``)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from stask import Task
from stask.engine import autocommit
from stask.engine.autocommit import autocommit_engine, run_alone
from stask.models import Worker
from stask.service import store

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

BACKEND_PID = sa.select(sa.func.pg_backend_pid())
OTHER_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
RENAME = sa.update(Worker).where(Worker.identifier == sa.bindparam("worker")).values(title=sa.bindparam("new_title"))


def alone(stask: Any) -> sa.Engine:
    stask.db.session.commit()
    engine = autocommit_engine(stask.db.session(), stask.db.engine)
    assert engine is not None
    return engine


def stored_again(task: Task) -> dict[str, Any]:
    """A task's own row values, id included: an INSERT of them breaks the primary key."""
    return {column.name: getattr(task, column.name) for column in Task.__table__.c}


def title(stask: Any) -> str:
    with stask.db.engine.connect() as other:
        return str(other.scalar(sa.select(Worker.title).where(Worker.identifier == "echo")))


def test_a_statement_alone_is_committed_and_gives_its_count_and_first_row(stask: Any) -> None:
    stask.resolve_worker("echo")
    engine = alone(stask)
    assert run_alone(engine, RENAME, {"worker": "echo", "new_title": "renamed"}).rowcount == 1
    assert title(stask) == "renamed"  # committed: seen from another connection
    assert run_alone(engine, RENAME, {"worker": "nobody", "new_title": "x"}).rowcount == 0
    task = stask.create("echo", "say", data={"text": "hi"})  # the INSERT ... RETURNING of create()
    stored = stask.db.session.get(Task, task.id)
    assert (stored.identifier, stored.data, stored.status) == ("echo", {"text": "hi"}, 10)
    compiled = autocommit._COMPILED.values()
    driven = [form for statement, _, form in compiled if statement is store._INSERT_ONE_RETURNING]
    assert driven and driven[0] is not None  # sent on the driver's connection


def test_the_connection_goes_back_to_the_pool_out_of_autocommit(stask: Any) -> None:
    """The next session on that connection has its transaction: a rollback undoes its work."""
    stask.resolve_worker("echo")
    engine = alone(stask)
    row = run_alone(engine, BACKEND_PID, {}).row
    assert row is not None
    session = stask.db.session
    assert session.scalar(BACKEND_PID) == row[0]  # the same pooled connection
    assert session.connection().connection.driver_connection.autocommit is False
    session.execute(RENAME, {"worker": "echo", "new_title": "rolled back"})
    session.rollback()
    assert title(stask) != "rolled back"


def test_errors_are_sqlalchemys_and_a_lost_connection_is_replaced(stask: Any) -> None:
    stask.resolve_worker("echo")
    task = stask.create("echo", "say")
    engine = alone(stask)
    with pytest.raises(sa.exc.IntegrityError):  # the id is taken: not an outage
        run_alone(engine, store._INSERT_ONE_RETURNING, stored_again(task))
    with engine.connect() as first, engine.connect() as second:  # two connections in the pool
        pids = {first.scalar(BACKEND_PID), second.scalar(BACKEND_PID)}
    killer = sa.create_engine(stask.db.engine.url, poolclass=sa.pool.NullPool)  # not from the pool
    with killer.connect() as other:  # as a server restart: every connection to this database ends
        pids |= set(other.scalars(sa.text(OTHER_BACKENDS)))
        for pid in pids:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    with pytest.raises(sa.exc.OperationalError) as lost:
        run_alone(engine, RENAME, {"worker": "echo", "new_title": "lost"})
    assert lost.value.connection_invalidated
    with engine.connect() as first, engine.connect() as second:  # both new: the pool was invalidated
        assert not {first.scalar(BACKEND_PID), second.scalar(BACKEND_PID)} & pids
    assert stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 1


def test_an_engine_with_listeners_sees_every_statement(stask: Any) -> None:
    """Tracing and statement counts hook SQLAlchemy's cursor events: they keep its path."""
    stask.resolve_worker("echo")
    engine = alone(stask)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(stask.db.engine, "before_cursor_execute", record)
    try:
        assert run_alone(engine, RENAME, {"worker": "echo", "new_title": "traced"}).rowcount == 1
        assert run_alone(engine, BACKEND_PID, {}).row is not None
    finally:
        sa.event.remove(stask.db.engine, "before_cursor_execute", record)
    assert len(seen) == 2 and seen[0].startswith("UPDATE s_workers")
    assert title(stask) == "traced"


def test_an_engine_that_hides_parameters_keeps_them_out_of_its_errors(stask: Any) -> None:
    stask.resolve_worker("echo")
    task = stask.create("echo", "say", data={"token": "hunter2"})
    hiding = sa.create_engine(stask.db.engine.url, hide_parameters=True, poolclass=sa.pool.NullPool)
    alone_hiding = hiding.execution_options(isolation_level="AUTOCOMMIT")
    with pytest.raises(sa.exc.IntegrityError) as refused:
        run_alone(alone_hiding, store._INSERT_ONE_RETURNING, stored_again(task))
    assert "hunter2" not in str(refused.value) and "hidden" in str(refused.value)
