"""A statement that is a transaction by itself, run in autocommit mode where that saves round trips.

On PostgreSQL a transaction of one statement costs three round trips through the session
(psycopg sends BEGIN on its own, then the statement, then COMMIT); in autocommit mode it is one.
That is the largest cost of a no-op task's claim and finish, and of ``create()``'s INSERT.
Only when the session has no transaction of its own (work it holds must commit with the
statement, as before), and not on SQLite (no second connection to lock the file) nor MariaDB
(switching autocommit on a pooled connection costs round trips of its own, and its statement
needs no BEGIN anyway).
"""

from __future__ import annotations

import weakref

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: Per engine, its autocommit form (the same pool).
_FORMS: weakref.WeakKeyDictionary[sa.Engine, sa.Engine] = weakref.WeakKeyDictionary()


def autocommit_engine(session: Session, engine: sa.Engine) -> sa.Engine | None:
    """``engine`` in autocommit mode for a statement alone, or None: run it in ``session``."""
    if session.in_transaction() or engine.dialect.name != "postgresql":
        return None
    form = _FORMS.get(engine)
    if form is None:
        form = _FORMS[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return form
