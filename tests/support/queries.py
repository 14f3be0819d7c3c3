"""Counting the SQL statements an app's engine sends (``with Statements(app) as counted: ...``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from tests.support.apps import engine_of


class Statements:
    """Records every statement sent on the app's engine while it is entered."""

    def __init__(self, app: Flask) -> None:
        self.engine = engine_of(app)
        self.statements: list[str] = []

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: Any) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def count(self) -> int:
        return len(self.statements)


def created_and_run(app: Flask, tasks: int) -> int:
    """Statements for ``tasks`` plain tasks created one by one, then run by one simple worker.

    An INSERT, a claim and a finish each; on PostgreSQL a finish goes with the next claim's
    statement (``runner.HeldOutcome``): the first claim, then a finish and a claim together,
    and the last finish alone.
    """
    if engine_of(app).dialect.name == "postgresql":
        return tasks + 1 + (tasks - 1) + 1
    return 3 * tasks
