"""Every SQL statement of the service, as functions of a session.

The engine's own two statements (claim and finish, precompiled) stay in
:mod:`stask.engine.runner`; the figures of :mod:`stask.monitoring` stay there. Everything
else that reads or writes rows is here, so its cost can be read in one place: each function
says how many statements it runs. No function commits; the service decides when.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import scoped_session

from ..engine.autocommit import run_alone
from ..enums import CLAIMABLE, FINAL, Priority, Status
from ..models import Task, Worker
from ..monitoring import counters
from ..validation import MAX_ID
from . import search
from .listing import SEARCH_COUNT_CAP, SORTS, TaskPage, TaskQuery

#: A session or Flask-SQLAlchemy's scoped ``db.session`` (which proxies one).
Session = OrmSession | scoped_session[Any]
TASKS = cast(sa.Table, Task.__table__)
_CLAIMABLE = [int(s) for s in CLAIMABLE]
_FINAL = [int(s) for s in FINAL]
#: A text search on SQLite and MariaDB reads this many of the newest rows first (see _newest_first).
SEARCH_WINDOW = 5_000
#: A text search with other filters on PostgreSQL reads this many of their rows first (see _first_filtered).
FILTERED_FIRST = 20_000
#: A later page of a search on PostgreSQL first reads this many of the newest rows, then may ask
#: the trigram index about the ids of the newest ``SEARCH_SPAN`` (see _trigram_window).
SEARCH_PROBE = 2_000
SEARCH_SPAN = 250_000
#: In that probe, a text this common is found faster row by row in id order (the planner's way).
COMMON_SHARE = 0.02
#: When a queued task became due: its ``start_at``, else its creation.
_DUE_SINCE = sa.func.coalesce(Task.start_at, Task.created_at)
#: The backlog counts due tasks up to this many per priority ("more than" beyond).
BACKLOG_CAP = 500


# -- inserting -------------------------------------------------------------------------------
#: Rows per INSERT of a bulk insert, and the bytes of their varying values: bounds one
#: statement's size (MariaDB's ``max_allowed_packet`` is 16 MiB by default) and its memory.
INSERT_ROWS = 10_000
INSERT_BYTES = 4 << 20
#: SQLite's bound on a statement's parameters (``SQLITE_MAX_VARIABLE_NUMBER`` since 3.32).
SQLITE_PARAMETERS = 32_766


#: One row's INSERT, built once, its values given as parameters: building ``insert().values()``
#: and its cache key at every call was a third of a plain ``create()``'s INSERT on PostgreSQL.
_INSERT_ONE = sa.insert(TASKS)
_INSERT_ONE_RETURNING = sa.insert(TASKS).returning(TASKS.c.id)


def insert_task(session: Session, values: dict[str, Any]) -> int:
    """INSERT one row in ``session``'s transaction (alone: :func:`insert_task_alone`); its id."""
    result = cast(sa.CursorResult[Any], session.execute(_INSERT_ONE, values))
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    return int(key[0])


def insert_task_alone(engine: sa.Engine, values: dict[str, Any]) -> int:
    """INSERT one row as a transaction by itself (``engine`` is an autocommit engine); its id."""
    row = run_alone(engine, _INSERT_ONE_RETURNING, values).row
    assert row is not None  # RETURNING of one row
    return int(row[0])


def insert_tasks(session: Session, columns: list[dict[str, Any]]) -> list[int]:
    """INSERT rows; returns their ids in input order.

    One row: one INSERT. Many rows of one shape (the same keys, as ``create_many`` and every
    caller make them): one multi-row statement per chunk (:data:`INSERT_ROWS` rows), whose
    columns holding one value for every row are sent once, not once per row, and whose
    values are converted as SQLAlchemy converts them (its bind processors):

    * PostgreSQL: the ids are drawn from the table's sequence first (one SELECT for all
      chunks), then ``INSERT ... SELECT ... FROM unnest(<one array per varying column>)``:
      a handful of parameters however many rows; no order of RETURNING is relied on.
    * SQLite: ``INSERT ... SELECT ... FROM (VALUES (...), ...) RETURNING id``.
    * MariaDB: ``INSERT ... VALUES (...), ... RETURNING id`` with the constants inlined as
      literals escaped once by the driver (PyMySQL escapes every bound value in Python).

    SQLite and MariaDB give a statement's rows ascending ids in the order of its VALUES (a
    rowid above the largest; InnoDB's counter, whatever ``innodb_autoinc_lock_mode``, never
    hands a row of one statement a smaller id than an earlier row's), so sorting the
    returned ids restores the input order. Rows of differing shapes are inserted shape by shape.
    """
    if not columns:
        return []
    if len(columns) == 1:
        return [insert_task(session, columns[0])]
    shape = columns[0].keys()
    dialect = session.get_bind().dialect
    if any(row.keys() != shape for row in columns):
        return _insert_by_shape(session, columns)
    bulk = _BulkRows(list(shape), columns, dialect, _defaults(shape))
    if dialect.name == "postgresql":
        ids = _draw_ids(session, len(columns))
        for start, end in bulk.chunks(INSERT_ROWS):
            _insert_unnest(session, bulk, start, end, ids[start:end])
        return ids
    rows = INSERT_ROWS
    if dialect.name == "sqlite":
        rows = min(rows, SQLITE_PARAMETERS // max(1, len(bulk.varying)))
    insert = _insert_values if dialect.name == "sqlite" else _insert_literals
    found: list[int] = []
    for start, end in bulk.chunks(rows):
        found.extend(sorted(insert(session, bulk, start, end)))
    return found


def _insert_by_shape(session: Session, columns: list[dict[str, Any]]) -> list[int]:
    """Rows of several shapes (a dependent cancelled at creation has a message and an end):
    each shape in bulk, the ids put back in input order. (One executemany would take the
    first row's keys for every row and drop the others' extra values.)"""
    shapes: dict[frozenset[str], list[int]] = {}
    for position, row in enumerate(columns):
        shapes.setdefault(frozenset(row), []).append(position)
    ids = [0] * len(columns)
    for positions in shapes.values():
        for position, task_id in zip(positions, insert_tasks(session, [columns[p] for p in positions]), strict=True):
            ids[position] = task_id
    return ids


def _defaults(shape: Any) -> dict[str, Any]:
    """The Python-side defaults SQLAlchemy's own INSERT would fill in for columns the rows lack
    (evaluated once for all of them: ``created_at`` is one moment for the batch)."""
    found: dict[str, Any] = {}
    for column in TASKS.c:
        default: Any = column.default
        if column.name in shape or default is None or column.primary_key:
            continue
        if default.is_scalar:
            found[column.name] = default.arg
        elif default.is_callable:
            found[column.name] = default.arg(None)  # SQLAlchemy's wrapper of a no-argument callable
    return found


def _draw_ids(session: Session, count: int) -> list[int]:
    """``count`` new ids from the table's sequence (PostgreSQL): one statement."""
    return [
        int(i)
        for i in session.execute(
            sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": TASKS.name, "n": count},
        ).scalars()
    ]


class _BulkRows:
    """Rows of one shape, split into the columns with one value for all and the varying ones.

    Values are converted once per column (constants) or once per value (varying) by the
    column type's bind processor for the dialect, as SQLAlchemy's own INSERT would.
    """

    def __init__(
        self, names: list[str], rows: list[dict[str, Any]], dialect: sa.Dialect, defaults: dict[str, Any]
    ) -> None:
        self.constants: dict[str, Any] = {}
        self.varying: dict[str, list[Any]] = {}
        self.types: dict[str, str] = {}
        self.sizes: list[int] | None = None
        for name in [*names, *defaults]:
            column = TASKS.c[name]
            kind = column.type.dialect_impl(dialect)
            self.types[name] = kind.compile(dialect=dialect)
            process = kind.bind_processor(dialect)
            if dialect.name == "postgresql" and isinstance(column.type, sa.JSON):
                process = _json_text  # to text, cast to JSON by the statement
            values = [row[name] for row in rows] if name not in defaults else [defaults[name]]
            if isinstance(column.type, sa.JSON) and process:
                # Compared as stored: {"a": 1} == {"a": True} == {"a": 1.0} in Python, not in JSON.
                values = [process(v) for v in values]
                process = None
            if _all_equal(values):
                self.constants[name] = process(values[0]) if process else values[0]
            else:
                self.varying[name] = [process(v) for v in values] if process else values
                if isinstance(column.type, sa.JSON):  # the values that can be large
                    sizes = [len(v) if isinstance(v, str | bytes) else 0 for v in self.varying[name]]
                    before = self.sizes or [0] * len(sizes)
                    self.sizes = [a + b for a, b in zip(before, sizes, strict=True)]
        if not self.varying:  # every row alike: one column still says how many rows there are
            name = next(iter(self.constants))
            self.varying[name] = [self.constants.pop(name)] * len(rows)
        self.count = len(rows)

    def chunks(self, rows: int) -> list[tuple[int, int]]:
        """(start, end) of consecutive chunks of at most ``rows`` rows and about :data:`INSERT_BYTES`."""
        bounds: list[tuple[int, int]] = []
        start = 0
        while start < self.count:
            end = min(self.count, start + rows)
            if self.sizes is not None:
                total = 0
                for index in range(start, end):
                    total += self.sizes[index]
                    if total > INSERT_BYTES and index > start:
                        end = index
                        break
            bounds.append((start, end))
            start = end
        return bounds


def _all_equal(values: list[Any]) -> bool:
    """Equal values of equal types (``==`` alone holds 1 equal to True and to 1.0)."""
    return values.count(values[0]) == len(values) and len(set(map(type, values))) == 1


def _json_text(value: Any) -> str:
    """What SQLAlchemy's JSON type sends (``json.dumps``; None is the JSON ``null``)."""
    return json.dumps(value)


def _insert_unnest(session: Session, bulk: _BulkRows, start: int, end: int, ids: list[int]) -> None:
    """PostgreSQL: one ``INSERT ... SELECT ... FROM unnest(...)`` with the ids drawn before."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    params: dict[str, Any] = {"p0": ids}
    arrays = ["CAST(:p0 AS BIGINT[])"]
    names = ["id"]
    for name, values in bulk.varying.items():
        key = f"p{len(params)}"
        params[key] = values[start:end]
        arrays.append(f"CAST(:{key} AS {bulk.types[name]}[])")
        names.append(name)
    constants = []
    for name, value in bulk.constants.items():
        key = f"p{len(params)}"
        params[key] = value
        constants.append(f"CAST(:{key} AS {bulk.types[name]})")
        names.append(name)
    selected = ", ".join(["u.*", *constants])
    session.execute(
        sa.text(
            f"INSERT INTO {quote(TASKS.name)} ({', '.join(quote(n) for n in names)}) "
            f"SELECT {selected} FROM unnest({', '.join(arrays)}) AS u"
        ),
        params,
    )


def _insert_values(session: Session, bulk: _BulkRows, start: int, end: int) -> list[int]:
    """SQLite: one ``INSERT ... SELECT ... FROM (VALUES ...) RETURNING id``; constants bound once."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    names = [*bulk.varying, *bulk.constants]
    width = len(bulk.varying)
    row = "(" + ", ".join(["?"] * width) + ")"
    parameters: list[Any] = list(bulk.constants.values())  # their marks come first in the text
    for values in zip(*(v[start:end] for v in bulk.varying.values()), strict=True):
        parameters.extend(values)
    selected = ", ".join(["*", *(["?"] * len(bulk.constants))])
    statement = (
        f"INSERT INTO {quote(TASKS.name)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT {selected} FROM (VALUES {', '.join([row] * (end - start))}) RETURNING id"
    )
    return [int(i) for i in session.connection().exec_driver_sql(statement, tuple(parameters)).scalars()]


def _insert_literals(session: Session, bulk: _BulkRows, start: int, end: int) -> list[int]:
    """MariaDB: one multi-row ``INSERT ... VALUES ... RETURNING id``; the constants are escaped
    once by the driver (``Cursor.mogrify``) and written into every row as literals."""
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    names = [*bulk.varying, *bulk.constants]
    cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        constants = cursor.mogrify("".join(", %s" for _ in bulk.constants), tuple(bulk.constants.values()))
    finally:
        cursor.close()
    row = "(" + ", ".join(["%s"] * len(bulk.varying)) + constants.replace("%", "%%") + ")"
    parameters: list[Any] = []
    for values in zip(*(v[start:end] for v in bulk.varying.values()), strict=True):
        parameters.extend(values)
    statement = (
        f"INSERT INTO {quote(TASKS.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES {', '.join([row] * (end - start))} RETURNING id"
    )
    return [int(i) for i in connection.exec_driver_sql(statement, tuple(parameters)).scalars()]


# -- guarded changes (the row count says whether the row was in the expected state) ----------
def requeue_ended(session: Session, task_id: int, status: int, max_attempts: int, message: str, now: datetime) -> bool:
    """A failed or cancelled row back to queued (retry) with a new allowance: one guarded UPDATE.

    The retry is due ``now``: its wait, the backlog's age and reconcile's grace count from the
    retry, not from when the task was first created.
    """
    result = session.execute(
        sa.update(Task)
        .where(Task.id == task_id, Task.status == status)
        .values(
            status=int(Status.QUEUED),
            max_attempts=max_attempts,
            start_at=now,
            finished_at=None,
            progress=0,
            message=message,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def cancel_waiting(session: Session, task_id: int, now: datetime) -> bool:
    """A queued row to cancelled: one guarded UPDATE."""
    result = session.execute(
        sa.update(Task)
        .where(Task.id == task_id, Task.status.in_(_CLAIMABLE))
        .values(status=int(Status.CANCELLED), finished_at=now, message="Cancelled")
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def _changed(result: sa.Result[Any]) -> bool:
    """Whether a guarded UPDATE matched its row (DML results are cursor results)."""
    return bool(cast(sa.CursorResult[Any], result).rowcount)


# -- reading tasks ---------------------------------------------------------------------------
def counts_by_status(session: Session, identifier: str | None = None) -> dict[int, int]:
    """Tasks per status, for every task or one worker's: one statement over ``s_task_counts``
    (a few dozen rows kept exact by triggers), never a count over ``s_tasks``."""
    out: dict[int, int] = {}
    for (_identifier, status), count in counters.counts(session, identifier).items():
        out[status] = out.get(status, 0) + count
    return out


def worker_counts(session: Session) -> tuple[int, int]:
    """(registered, active) workers: one statement."""
    total, active = session.execute(
        sa.select(sa.func.count(), sa.func.sum(sa.case((Worker.active.is_(True), 1), else_=0)))
    ).one()
    return int(total or 0), int(active or 0)


def failed_ids(session: Session, limit: int) -> list[int]:
    """The oldest ``limit`` failed task ids: one statement."""
    query = sa.select(Task.id).where(Task.status == int(Status.FAILED)).order_by(Task.id).limit(limit)
    return [int(i) for i in session.scalars(query)]


def failed_count(session: Session) -> int:
    """Failed tasks: one statement over ``s_task_counts``."""
    return counts_by_status(session).get(int(Status.FAILED), 0)


def recent_tasks(session: Session, limit: int) -> list[Task]:
    """The newest rows, detached: a later commit in the request must not reload each one."""
    tasks = list(session.scalars(sa.select(Task).order_by(Task.id.desc()).limit(limit)))
    for task in tasks:
        session.expunge(task)
    return tasks


def backlog(session: Session, now: datetime, cap: int = BACKLOG_CAP) -> dict[str, tuple[int, datetime | None]]:
    """Per priority: how many queued tasks are due (counted up to ``cap + 1``), and since when
    the oldest waits. One statement of three scalar subqueries per priority, each stopping early
    on an index: the count reads at most ``cap + 1`` rows, the oldest due row is the first of the
    (status, start_at) index for a scheduled one and the lowest id for an immediate one (ids follow
    creation order).

    A count above ``cap`` means "more than ``cap``" (the dashboard says so); exact counting
    would read every queued row, and a backlog of a million reads a million.
    """
    due = sa.and_(
        Task.status.in_(_CLAIMABLE),
        Task.waiting_parents == 0,
        sa.or_(Task.start_at.is_(None), Task.start_at <= now),
    )
    # SQLite would read them through the (priority, id) index: most rows share a priority (a
    # million rows: 440 ms instead of 14). A unary + keeps that term out of its index choice.
    sqlite = session.get_bind().dialect.name == "sqlite"
    priority_column = sa.literal_column("+s_tasks.priority", sa.String) if sqlite else Task.priority
    columns: list[Any] = []
    for priority in Priority:
        mine = sa.and_(due, priority_column == priority.value)
        counted = sa.select(Task.id).where(mine)
        for dialect in ("mysql", "mariadb"):
            # MariaDB counts through (status, start_at) and reads each row for its priority: a
            # rare priority meant 5,000 row reads (13 ms); (status, id, ..., priority) holds it.
            counted = counted.with_hint(Task, "FORCE INDEX (ix_s_tasks_status_id)", dialect_name=dialect)
        capped = counted.limit(cap + 1).subquery(f"due_{priority.value}")
        columns += [
            sa.select(sa.func.count()).select_from(capped).scalar_subquery(),
            sa.select(Task.start_at)
            .where(mine, Task.start_at.is_not(None))
            .order_by(Task.start_at)
            .limit(1)
            .scalar_subquery(),
            sa.select(Task.created_at)
            .where(mine, Task.start_at.is_(None))
            .order_by(Task.id)
            .limit(1)
            .scalar_subquery(),
        ]
    row = session.execute(sa.select(*columns)).one()
    out: dict[str, tuple[int, datetime | None]] = {}
    for index, priority in enumerate(Priority):
        count, scheduled, immediate = row[3 * index : 3 * index + 3]
        if count:
            found = [moment for moment in (scheduled, immediate) if moment is not None]
            out[priority.value] = (int(count), min(found) if found else None)
    return out


def due_tasks(session: Session, now: datetime, limit: int | None) -> list[Task]:
    """Queued tasks that are due, highest priority first (the cron path): one statement."""
    rank = sa.case({p.value: p.rank for p in Priority}, value=Task.priority, else_=9)
    query = (
        sa.select(Task)
        .where(Task.status.in_(_CLAIMABLE), Task.waiting_parents == 0)
        .where(sa.or_(Task.start_at.is_(None), Task.start_at <= now))
        .order_by(rank, Task.id)
    )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def waiting_attempts(session: Session, due_before: datetime, limit: int = 50_000) -> list[tuple[int, int]]:
    """(id, attempts) of queued tasks due before ``due_before`` (not those waiting on parents).

    Two columns, not whole rows: with a backlog this scan covers every queued task, and
    50,000 ORM objects every reconcile interval cost a worker megabytes it keeps.
    """
    rows = session.execute(
        sa.select(Task.id, Task.attempts)
        .where(Task.status.in_(_CLAIMABLE), Task.waiting_parents == 0, _DUE_SINCE <= due_before)
        .order_by(Task.id)
        .limit(limit)
    ).all()
    return [(int(row.id), int(row.attempts)) for row in rows]


def waiting_rows(session: Session, ids: Sequence[int], chunk: int = 1000) -> list[Task]:
    """The rows of ``ids`` that are still queued, in chunks of ``chunk`` ids per statement."""
    rows: list[Task] = []
    for start in range(0, len(ids), chunk):
        part = list(ids[start : start + chunk])
        query = sa.select(Task).where(Task.id.in_(part), Task.status.in_(_CLAIMABLE)).order_by(Task.id)
        rows.extend(session.scalars(query))
    return rows


def running_since(session: Session, started_before: datetime) -> list[Task]:
    """Running rows that started before ``started_before`` (heartbeat candidates): one statement."""
    query = sa.select(Task).where(Task.status == int(Status.RUNNING), Task.started_at <= started_before)
    return list(session.scalars(query))


def task_page(session: Session, query: TaskQuery, cap: int) -> TaskPage:
    """Two statements: the page of rows and the count over at most ``cap + 1`` matching rows.

    A text search lists only its first ``SEARCH_COUNT_CAP`` matches (``cap`` is lowered to it),
    as GitHub's and Elasticsearch's do: a page past them is empty, as a page past ``pages`` is,
    and reads no row (the count alone). Deep pages of a common word would otherwise read every
    row before them: page 100 of a word in 0.6 % of ten million rows skipped 300,000 rows
    (460-680 ms); the deepest page now reads at most ``cap`` matches. On SQLite and MariaDB a
    search may first look among the newest rows (:func:`_newest_first`); on PostgreSQL a search
    with other filters among their first rows (:func:`_first_filtered`), a later page of one
    without among the newest ids (:func:`_trigram_window`). MariaDB's FULLTEXT index answers
    the window's ids at once (the window and its count in one statement).

    The rows are detached from the session, so a later commit elsewhere in the request
    cannot expire them (which would reload each one: a statement per row).
    """
    dialect = session.get_bind().dialect.name
    where = _conditions(query, dialect)
    column = SORTS[query.sort]
    direction = sa.desc if query.order == "desc" else sa.asc
    ordering = [direction(column)] if query.sort == "id" else [direction(column), direction(Task.id)]
    per_page = query.per_page
    items: list[Task] | None = None
    counted: int | None = None
    if query.q:  # each match is checked in its row (trigrams and words only narrow): count fewer
        cap = min(cap, SEARCH_COUNT_CAP)
        per_page = max(0, min(per_page, cap - query.offset))  # the window ends at the cap
        if not per_page:
            items = []
        elif query.sort == "id" and dialect in ("sqlite", "mysql", "mariadb"):
            items, counted = _newest_first(session, query, cap, dialect)
            items = None if items is None else items[:per_page]
        if items is None:
            window = _search_window(session, query, where, ordering, cap, dialect)
            if window is not None:
                items = _rows(session, window[query.offset : query.offset + per_page], ordering)
                counted = len(window)
    if items is None:
        # The page's ids first, from the index alone, then their rows: skipping OFFSET rows reads
        # index entries, not whole rows (MariaDB would otherwise fetch every skipped row).
        page_ids = (sa.select(Task.id).where(*where).order_by(*ordering).limit(per_page).offset(query.offset)).subquery(
            "page_ids"
        )
        statement = sa.select(Task).join(page_ids, Task.id == page_ids.c.id).order_by(*ordering)
        items = list(session.scalars(statement))
    if counted is not None:
        pass
    elif query.page == 1 and len(items) < per_page:
        counted = len(items)  # the whole result is on this page: no count needed
    else:
        counted = capped_count(session, sa.and_(sa.true(), *where), cap)
    for item in items:
        session.expunge(item)
    return TaskPage(
        items=items, total=min(counted, cap), total_capped=counted > cap, page=query.page, per_page=query.per_page
    )


def _search_window(
    session: Session, query: TaskQuery, where: list[Any], ordering: list[Any], cap: int, dialect: str
) -> list[int] | None:
    """The ids of a search's first ``cap + 1`` matches when a database's index gives them at once
    (None: the page is read by OFFSET and counted apart)."""
    if dialect == "postgresql":
        window = _first_filtered(session, query, ordering, cap)
        if window is None and query.page > 1 and query.sort == "id":
            window = _trigram_window(session, query, cap)
        return window
    if dialect in ("mysql", "mariadb"):
        # FULLTEXT hands over every match whatever the LIMIT: asked once for the window, not
        # again for the count (q=quota at a million rows: 50 ms each).
        return list(session.scalars(sa.select(Task.id).where(*where).order_by(*ordering).limit(cap + 1)))
    return None


def _rows(session: Session, ids: list[int], ordering: list[Any]) -> list[Task]:
    """The rows of ``ids`` in the list's order: one statement (none for no ids)."""
    if not ids:
        return []
    return list(session.scalars(sa.select(Task).where(Task.id.in_(ids)).order_by(*ordering)))


def _first_filtered(session: Session, query: TaskQuery, ordering: list[Any], cap: int) -> list[int] | None:
    """On PostgreSQL, a search with other filters: its window from the first ``FILTERED_FIRST``
    rows of those filters in the list's order (their index read in order), or None when those
    rows hold fewer than ``cap + 1`` matches (then the planner chooses, on the whole table).

    PostgreSQL estimates the search and a filter as independent: ``status=failed&q=disk full``
    is a few thousand rows to it, so it ANDs the trigram bitmap (62,000 candidates, each
    checked in its row) with the status index, 140 ms at ten million rows; the newest failed
    rows hold the window after 8,000 of them (15 ms). One statement, bounded by
    ``FILTERED_FIRST`` rows; one more when the window is not there.
    """
    filters = _conditions(replace(query, q=None), "postgresql")
    if not filters:
        return None
    sort = SORTS[query.sort]
    columns = [Task.id, Task.message, Task.data] + ([] if query.sort == "id" else [sort])
    first = sa.select(*columns).where(*filters).order_by(*ordering).limit(FILTERED_FIRST).subquery("filtered_first")
    direction = sa.desc if query.order == "desc" else sa.asc
    order = [direction(first.c.id)] if query.sort == "id" else [direction(first.c[sort.key]), direction(first.c.id)]
    matching = search.substring(query.q or "", first.c.message, first.c.data)
    ids = list(session.scalars(sa.select(first.c.id).where(matching).order_by(*order).limit(cap + 1)))
    return ids if len(ids) > cap else None


def _trigram_window(session: Session, query: TaskQuery, cap: int) -> list[int] | None:
    """On PostgreSQL, a later page of a search without other filters, in id order: its window
    (the first ``cap + 1`` matching ids), or None when the planner's own plan serves it better.

    PostgreSQL underrates the cost of an ``ILIKE``: for ``quota`` (0.6 % of ten million rows) it
    reads the id index backwards and checks each row, 167,000 rows for the 1,000th match
    (240-370 ms). The trigram index knows the 62,000 candidates in 25 ms but not their order;
    ANDed with the id range of the newest ``SEARCH_SPAN`` rows, only ~1,500 of them are read
    (40 ms). That pays only for a text neither common (then the backward read stops early) nor
    rare (then the newest ids hold too few matches): a first statement checks the newest
    ``SEARCH_PROBE`` rows one by one and says which (and answers a text common enough by itself).
    """
    if _conditions(replace(query, q=None), "postgresql"):
        return None
    newest = query.order == "desc"
    by_id = Task.id.desc() if newest else Task.id
    matching = search.substring(query.q or "")
    probe = list(session.execute(sa.select(Task.id, matching).order_by(by_id).limit(SEARCH_PROBE)))
    hits = [task_id for task_id, hit in probe if hit]
    if len(hits) > cap:
        return hits[: cap + 1]
    expected = len(hits) * SEARCH_SPAN / SEARCH_PROBE
    if len(probe) < SEARCH_PROBE or len(hits) >= COMMON_SHARE * SEARCH_PROBE or 2 * expected <= cap:
        return None
    edge = probe[0][0] - SEARCH_SPAN if newest else probe[0][0] + SEARCH_SPAN
    inside = Task.id > edge if newest else Task.id < edge
    # OFFSET 0 keeps the planner from reading the id index in order (its cheaper-looking plan).
    found = sa.select(Task.id).where(inside, search.condition(query.q or "", "postgresql")).offset(0).subquery()
    ids = list(
        session.scalars(sa.select(found.c.id).order_by(found.c.id.desc() if newest else found.c.id).limit(cap + 1))
    )
    return ids if len(ids) > cap else None


def _newest_first(session: Session, query: TaskQuery, cap: int, dialect: str) -> tuple[list[Task] | None, int | None]:
    """A text search in id order, tried on the ``SEARCH_WINDOW`` newest (or oldest) rows first.

    SQLite's FTS5 and MariaDB's FULLTEXT indexes hand over every match before the first row is
    returned: a common word means a million ids to sort (``q=finished`` took 13 s on MariaDB at a
    million rows). Read in id order, the newest rows usually hold a whole page (and more than the
    count's cap) of such a word. The window is the rows after the ``SEARCH_WINDOW``-th id (the
    whole table when it is smaller), read from the id index with the search checked in each row
    (:func:`search.row_condition`: on MariaDB its words as its index knows them). Returns the page
    when the window held it (or is the whole table), and the count when the window alone passes
    the cap; ``None`` for what must be asked of the whole table.
    """
    newest = query.order == "desc"
    edge = (
        sa.select(Task.id)
        .order_by(Task.id.desc() if newest else Task.id)
        .offset(SEARCH_WINDOW)
        .limit(1)
        .scalar_subquery()
    )
    bound = sa.select(sa.func.coalesce(edge, 0 if newest else MAX_ID).label("edge")).subquery("search_window")
    inside = Task.id > bound.c.edge if newest else Task.id < bound.c.edge
    plain = [*_conditions(replace(query, q=None), dialect), search.row_condition(query.q or "", dialect)]
    statement = (
        sa.select(bound.c.edge, Task)
        .select_from(bound)
        .outerjoin(Task, sa.and_(inside, *plain))
        .order_by(Task.id.desc() if newest else Task.id)
        .limit(query.per_page)
        .offset(query.offset)
    )
    rows = session.execute(statement).all()
    whole_table = bool(rows) and rows[0][0] in (0, MAX_ID)
    items = [task for _, task in rows if task is not None]
    if len(items) < query.per_page and not whole_table:
        return None, None
    if whole_table or (query.page == 1 and len(items) < query.per_page):
        return items, None
    edge_value = rows[0][0]
    counted = capped_count(session, sa.and_(Task.id > edge_value if newest else Task.id < edge_value, *plain), cap)
    return items, counted if counted > cap else None


def capped_count(session: Session, condition: Any, cap: int) -> int:
    """How many rows match, counted up to ``cap + 1`` (more means "more than cap"): one statement.

    Stops after ``cap + 1`` index entries instead of counting every match (half a million failed
    tasks in ten million rows take ~50 ms to count on PostgreSQL; ten thousand take ~2 ms).
    """
    inner = sa.select(Task.id).where(condition).limit(cap + 1).subquery()
    return int(session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0)


def failed_condition() -> Any:
    return Task.status == int(Status.FAILED)


def _conditions(query: TaskQuery, dialect: str) -> list[Any]:
    where: list[Any] = []
    if query.statuses:
        where.append(Task.status.in_(query.statuses))
    if query.identifier:
        where.append(Task.identifier == query.identifier)
    if query.action:
        where.append(Task.action == query.action)
    if query.priority:
        where.append(Task.priority == query.priority)
    if query.created_from:
        where.append(Task.created_at >= query.created_from)
    if query.created_to_exclusive:
        where.append(Task.created_at < query.created_to_exclusive)
    elif query.created_to:
        where.append(Task.created_at <= query.created_to)
    if query.schedule_id:
        where.append(Task.schedule_id == query.schedule_id)
    if query.group_id:
        where.append(Task.group_id == query.group_id)
    if query.q:
        where.append(_search(query.q, dialect))
    return where


def _search(text: str, dialect: str) -> Any:
    """Case-insensitive substring of the message or the JSON data, through this database's
    search index (:mod:`stask.service.search`: on MariaDB, words)."""
    return search.condition(text, dialect)


# -- deleting ----------------------------------------------------------------------------------
def ended_before(cutoff: datetime) -> Any:
    """Condition: ended (finished, cancelled, failed) before ``cutoff``."""
    return sa.and_(Task.status.in_(_FINAL), sa.func.coalesce(Task.finished_at, Task.created_at) < cutoff)


def count_where(session: Session, condition: Any) -> int:
    return int(session.scalar(sa.select(sa.func.count()).where(condition)) or 0)


def ids_where(session: Session, condition: Any, limit: int) -> list[int]:
    return [int(i) for i in session.scalars(sa.select(Task.id).where(condition).order_by(Task.id).limit(limit))]


def existing_ids(session: Session, ids: Sequence[int], chunk: int = 1000) -> set[int]:
    """Which of ``ids`` have a row: one statement per ``chunk`` ids."""
    found: set[int] = set()
    for start in range(0, len(ids), chunk):
        part = list(ids[start : start + chunk])
        found.update(int(i) for i in session.scalars(sa.select(Task.id).where(Task.id.in_(part))))
    return found


def delete_ids(session: Session, ids: Sequence[int]) -> None:
    session.execute(sa.delete(Task).where(Task.id.in_(list(ids))).execution_options(synchronize_session=False))


# -- workers -----------------------------------------------------------------------------------
def worker_definition_row(session: Session, identifier: str) -> Any:
    """The columns a :class:`WorkerDefinition` needs, or None: one statement."""
    return session.execute(
        sa.select(Worker.identifier, Worker.class_path, Worker.active, Worker.settings).where(
            Worker.identifier == identifier
        )
    ).first()


def workers(session: Session, active_only: bool = False) -> list[Worker]:
    query = sa.select(Worker).order_by(Worker.position, Worker.identifier)
    if active_only:
        query = query.where(Worker.active.is_(True))
    return list(session.scalars(query))


def worker(session: Session, identifier: str) -> Worker | None:
    return session.scalar(sa.select(Worker).where(Worker.identifier == identifier))


def task_counts_by_worker(session: Session) -> list[tuple[str, int, int, datetime | None]]:
    """(identifier, status, count, last start) for every worker and status: one grouped statement.

    Still a scan of ``s_tasks`` (the last start per worker has no index to walk); the workers
    page is the one caller, the dashboard and the metrics read ``s_task_counts``.
    """
    rows = session.execute(
        sa.select(Task.identifier, Task.status, sa.func.count(), sa.func.max(Task.started_at)).group_by(
            Task.identifier, Task.status
        )
    ).all()
    return [(str(identifier), int(status), int(count), started) for identifier, status, count, started in rows]
