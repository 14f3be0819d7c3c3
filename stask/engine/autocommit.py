"""A statement that is a transaction by itself, run in autocommit mode where that saves round trips.

On PostgreSQL a transaction of one statement costs three round trips through the session
(psycopg sends BEGIN on its own, then the statement, then COMMIT); in autocommit mode it is one.
That is the largest cost of a no-op task's claim and finish, and of ``create()``'s INSERT.
Only when the session has no transaction of its own (work it holds must commit with the
statement, as before), and not on SQLite (no second connection to lock the file) nor MariaDB
(switching autocommit on a pooled connection costs round trips of its own, and its statement
needs no BEGIN anyway).

:func:`run_alone` then sends the statement on the driver's connection itself (psycopg): compiled
once, its values converted by SQLAlchemy's own bind processors and errors raised as SQLAlchemy's,
but without a ``Connection``, its execution context and its result, which cost as much as the
round trip itself on an idle process (0.3-0.6 ms of an idle ``create()``'s 3.2 ms). An engine that
echoes SQL or has cursor-execute listeners (tracing, statement counts) keeps SQLAlchemy's path, so
they see every statement.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

#: Per engine, its autocommit form (the same pool).
_FORMS: weakref.WeakKeyDictionary[sa.Engine, sa.Engine] = weakref.WeakKeyDictionary()
#: Per (statement, parameter names, dialect): the statement compiled once, or None where SQLAlchemy
#: must run it (a column's Python-side default to compute); the entry keeps both alive (ids stay theirs).
_COMPILED: dict[tuple[int, tuple[str, ...], int], tuple[sa.Executable, sa.Dialect, SQLCompiler | None]] = {}
_COMPILED_MAX = 256


def autocommit_engine(session: Session, engine: sa.Engine) -> sa.Engine | None:
    """``engine`` in autocommit mode for a statement alone, or None: run it in ``session``."""
    if session.in_transaction() or engine.dialect.name != "postgresql":
        return None
    form = _FORMS.get(engine)
    if form is None:
        form = _FORMS[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return form


@dataclass(frozen=True)
class AloneResult:
    """What a statement run alone returned: its row count and its first row, as the driver gave it
    (so only for columns without a result conversion: ids and counts)."""

    rowcount: int
    row: tuple[Any, ...] | None


def run_alone(engine: sa.Engine, statement: sa.Executable, params: dict[str, Any]) -> AloneResult:
    """Run ``statement`` with ``params`` on ``engine`` (an :func:`autocommit_engine`), committed by itself."""
    compiled = _compiled(engine.dialect, statement, params) if _on_driver(engine) else None
    if compiled is not None:
        return _run_on_driver(engine, compiled, params)
    with engine.connect() as connection:
        result = connection.execute(statement, params)
        first = result.first() if result.returns_rows else None
        return AloneResult(result.rowcount, None if first is None else tuple(first))


def _on_driver(engine: sa.Engine) -> bool:
    """Whether nothing needs SQLAlchemy's execution path: psycopg, no echo, no cursor listeners."""
    dispatch = engine.dispatch
    return (
        engine.dialect.driver == "psycopg"
        and not engine.echo
        and not dispatch.before_cursor_execute
        and not dispatch.after_cursor_execute
    )


def _compiled(dialect: sa.Dialect, statement: sa.Executable, params: dict[str, Any]) -> SQLCompiler | None:
    key = (id(statement), tuple(params), id(dialect))
    found = _COMPILED.get(key)
    if found is None or found[0] is not statement or found[1] is not dialect:
        if len(_COMPILED) >= _COMPILED_MAX:  # callers pass statements built once; a caller that builds one per call
            _COMPILED.clear()  # must not grow this without end
        compiled: SQLCompiler = statement.compile(dialect=dialect, column_keys=list(params))  # type: ignore[attr-defined]
        if compiled.insert_prefetch or compiled.update_prefetch:
            found = _COMPILED[key] = (statement, dialect, None)
        else:
            found = _COMPILED[key] = (statement, dialect, compiled)
    return found[2]


def _run_on_driver(engine: sa.Engine, compiled: SQLCompiler, params: dict[str, Any]) -> AloneResult:
    """The statement on a pooled psycopg connection switched to autocommit for it, and back."""
    dialect = engine.dialect
    expanded = compiled.construct_expanded_state(params, escape_names=False)
    # Converted as SQLAlchemy's execution context converts them: the compiled processors, then the expanded ones.
    processors: dict[str, Any] = {**compiled._bind_processors, **expanded.processors}
    values = {name: processors[name](v) if name in processors else v for name, v in expanded.parameters.items()}
    escaped = compiled.escaped_bind_names
    if escaped:
        values = {escaped.get(name, name): v for name, v in values.items()}
    error: Any = dialect.loaded_dbapi.Error
    pooled = None
    cursor = None
    try:
        pooled = engine.raw_connection()
        driver: Any = pooled.driver_connection
        driver.autocommit = True
        try:
            cursor = driver.cursor()
            cursor.execute(expanded.statement, values)
            row = cursor.fetchone() if cursor.description is not None else None
            return AloneResult(int(cursor.rowcount), None if row is None else tuple(row))
        finally:
            driver.autocommit = False  # the pool hands it to sessions next, which rely on BEGIN
    except error as exc:
        lost = pooled is not None and dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
        if lost and pooled is not None:
            pooled.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            expanded.statement,
            values,
            exc,
            error,
            hide_parameters=engine.hide_parameters,  # an engine told to keep values out of its errors
            connection_invalidated=lost,
            dialect=dialect,
        ) from exc
    finally:
        if cursor is not None:
            cursor.close()
        if pooled is not None:
            pooled.close()
