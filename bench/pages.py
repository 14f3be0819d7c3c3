"""Section 5: server time of the panel and monitoring pages with a million rows in ``s_tasks``.

The table is filled by the database itself (a recursive CTE on SQLite, ``generate_series``
on PostgreSQL) with a realistic spread: 30 days of history in id order, 91 % finished,
5 % failed (eight distinct errors), 2 % cancelled, 2 % queued, 0.1 % running, three
priorities, eight workers with their own actions, wait/run times and peak memory.
Requests go through the Flask test client with a bearer token, so the figure is the
server's time (routing, auth, SQL, templates) without a network.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from bench.env import BenchEnv, measure
from stask.models import Worker, utcnow
from stask.monitoring.rolling import rebuild

#: status + identifier + action + priority + a week of creation dates.
_COMBINED = (
    "/api/tasks?status=failed&identifier=csv_export&action=export&priority=normal"
    "&created_from={week_from}&created_to={week_to}"
)
#: (name, path under the URL prefix, target in ms or None for an informative figure)
PAGES: list[tuple[str, str, int | None]] = [
    ("dashboard", "/", 100),
    ("task list, panel (finished, page 500)", "/tasks?status=finished&page=500", 100),
    ("task list, API (finished, page 500)", "/api/tasks?status=finished&page=500", 100),
    ("task list, panel (first page)", "/tasks", 100),
    ("task list, API (first page)", "/api/tasks", 100),
    ("task list, API (page 1000)", "/api/tasks?page=1000", 100),
    ("task list, API (last page offered: 200)", "/api/tasks?page=200", 100),
    ("task list, API (failed, page 1000)", "/api/tasks?status=failed&page=1000", 100),
    ("task list, API (filters combined)", _COMBINED, 100),
    ("task list, panel (filters combined)", "/tasks" + _COMBINED[10:], 100),
    ("task list, API (filters combined, page 20)", _COMBINED + "&page=20", 100),
    ("task list, API (sort created_at asc)", "/api/tasks?sort=created_at&order=asc", 100),
    ("task list, API (sort finished_at)", "/api/tasks?sort=finished_at", 100),
    ("task list, API (sort priority, page 100)", "/api/tasks?sort=priority&page=100", 100),
    ("task list, API (sort identifier asc)", "/api/tasks?sort=identifier&order=asc", 100),
    ("task list, API (sort status)", "/api/tasks?status=failed,cancelled&sort=status", 100),
    ("task list, API (created range, sort priority)", "/api/tasks?created_from={week_from}&sort=priority", 100),
    ("search, API (q=quota, 0.6 %)", "/api/tasks?q=quota", 100),
    ("search, panel (q=quota)", "/tasks?q=quota", 100),
    ("search, API (q=finished, 91 %)", "/api/tasks?q=finished", 100),
    ("search, API (q=4242421, one row)", "/api/tasks?q=4242421", 100),
    ("search, API (no match)", "/api/tasks?q=zqxjv", 100),
    ("search, API (failed + q=disk full)", "/api/tasks?status=failed&q=disk%20full", 100),
    # A search lists its first SEARCH_COUNT_CAP (1,000) matches: page 20 is the deepest offered.
    ("search, API (q=quota, deepest page offered: 20)", "/api/tasks?q=quota&page=20", 100),
    ("task page, panel", "/tasks/{mid_id}", 100),
    ("task, API", "/api/tasks/{mid_id}", 100),
    ("performance summary (24 h)", "/performance/summary?hours=24", 100),
    ("performance summary (30 days)", "/performance/summary?hours=720", 100),
    ("per-worker statistics (24 h)", "/performance/workers?hours=24", 100),
    ("per-worker statistics (30 days)", "/performance/workers?hours=720", 100),
    ("performance page (24 h)", "/performance?hours=24", 100),
    ("performance page (30 days)", "/performance?hours=720", 100),
    ("performance charts fragment (30 days)", "/performance/fragments/charts?hours=720", 100),
    ("Prometheus /metrics", "/metrics", 100),
    ("API stats (/stats)", "/stats", 100),
    ("API worker with counts", "/api/workers/bench_noop", 100),
    ("health", "/health", 100),
]
#: Extra plugin rows so the workers' spread looks like a real installation.
EXTRA_WORKERS = ("mailer", "reports", "sync", "images", "billing")
IDENTIFIERS = ("bench_noop", "csv_export", "maintenance", *EXTRA_WORKERS)
ACTIONS = ("noop", "export", "cleanup", "send", "build", "pull", "resize", "invoice")
ERRORS = (
    "ValueError: malformed row",
    "TimeoutError: upstream did not answer",
    "KeyError: customer_id",
    "ConnectionError: SMTP server refused",
    "RuntimeError: quota exceeded",
    "OSError: disk full",
    "PermissionError: token expired",
    "timed out after 1800 s",
)
SPAN_DAYS = 30


def _case(values: tuple[str, ...], modulo: str) -> str:
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE ({modulo}) % {len(values)} {whens} END"


# Row shape shared by both dialects: r (per mille) decides status, k the worker, p the priority.
STATUS_SQL = "CASE WHEN r < 20 THEN 10 WHEN r < 21 THEN 50 WHEN r < 71 THEN 100 WHEN r < 91 THEN 90 ELSE 80 END"
PRIORITY_SQL = "CASE WHEN p < 2 THEN 'high' WHEN p < 9 THEN 'normal' ELSE 'low' END"


def _sqlite_fill(connection: Any, n: int, now: float) -> None:
    span = SPAN_DAYS * 86400

    def stamp(seconds: str) -> str:
        return (
            f"strftime('%Y-%m-%d %H:%M:%S', CAST({seconds} AS INTEGER), 'unixepoch') || "
            f"printf('.%06d', CAST((({seconds}) - CAST({seconds} AS INTEGER)) * 1000000 AS INTEGER))"
        )

    connection.exec_driver_sql(f"""
        INSERT INTO s_tasks (identifier, action, status, priority, progress, message, error, data, attempts,
                             max_attempts, user_id, started_by, created_at, started_at, finished_at,
                             wait_ms, run_ms, peak_memory_kb)
        WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n}),
        base AS MATERIALIZED (
            SELECT i, abs(random()) % 1000 AS r, abs(random()) % 10 AS p, abs(random()) % 8 AS k,
                   abs(random()) % 8 AS e, abs(random()) % 500 AS w,
                   abs(random()) % 3000 + CASE WHEN abs(random()) % 100 = 0 THEN 60000 ELSE 0 END AS run,
                   {now} - {span} * ({n} - i) / {n}.0 - (abs(random()) % 1000) / 1000.0 AS c
            FROM seq
        ),
        shaped AS (SELECT *, {STATUS_SQL} AS status FROM base)
        SELECT {_case(IDENTIFIERS, "k")}, {_case(ACTIONS, "k")}, status, {PRIORITY_SQL},
               CASE WHEN status = 80 THEN 100 ELSE 0 END,
               CASE status WHEN 80 THEN 'Finished' WHEN 90 THEN 'Cancelled' WHEN 10 THEN NULL WHEN 50 THEN NULL
                    ELSE {_case(ERRORS, "e")} END,
               CASE WHEN status = 100 THEN {_case(ERRORS, "e")} END,
               '{{"n": ' || i || '}}',
               CASE WHEN status = 100 THEN 3 WHEN status = 10 THEN 0 ELSE 1 END, 3, i % 50,
               CASE WHEN status IN (10, 90) THEN NULL ELSE 'bench-host:' || (1000 + i % 8) END,
               {stamp("c")},
               CASE WHEN status IN (10, 90) THEN NULL ELSE {stamp("c + w / 1000.0")} END,
               CASE WHEN status IN (80, 100) THEN {stamp("c + (w + run) / 1000.0")}
                    WHEN status = 90 THEN {stamp("c + 1")} END,
               CASE WHEN status IN (10, 90) THEN NULL ELSE w END,
               CASE WHEN status IN (80, 100) THEN run END,
               CASE WHEN status IN (80, 100) THEN 40000 + abs(random()) % 200000 END
        FROM shaped
    """)


def _postgres_rows(first: int, last: int, n: int) -> str:
    """The SELECT producing rows ``first``..``last`` of ``n`` (30 days spread by position)."""
    return f"""
        WITH base AS MATERIALIZED (
            SELECT i, floor(random() * 1000)::int AS r, floor(random() * 10)::int AS p,
                   floor(random() * 8)::int AS k, floor(random() * 8)::int AS e, floor(random() * 500)::int AS w,
                   floor(random() * 3000)::int + CASE WHEN random() < 0.01 THEN 60000 ELSE 0 END AS run,
                   CAST(:now AS timestamp) - make_interval(secs => {SPAN_DAYS * 86400}.0 * ({n} - i) / {n}
                                                           + random()) AS c
            FROM generate_series({first}, {last}) AS i
        ),
        shaped AS (SELECT *, {STATUS_SQL} AS status FROM base)
        SELECT {_case(IDENTIFIERS, "k")}, {_case(ACTIONS, "k")}, status, {PRIORITY_SQL},
               CASE WHEN status = 80 THEN 100 ELSE 0 END,
               CASE status WHEN 80 THEN 'Finished' WHEN 90 THEN 'Cancelled' WHEN 10 THEN NULL WHEN 50 THEN NULL
                    ELSE {_case(ERRORS, "e")} END,
               CASE WHEN status = 100 THEN {_case(ERRORS, "e")} END,
               json_build_object('n', i),
               CASE WHEN status = 100 THEN 3 WHEN status = 10 THEN 0 ELSE 1 END, 3, 3, i % 50,
               CASE WHEN status IN (10, 90) THEN NULL ELSE 'bench-host:' || (1000 + i % 8) END,
               c,
               CASE WHEN status IN (10, 90) THEN NULL ELSE c + make_interval(secs => w / 1000.0) END,
               CASE WHEN status IN (80, 100) THEN c + make_interval(secs => (w + run) / 1000.0)
                    WHEN status = 90 THEN c + interval '1 second' END,
               CASE WHEN status IN (10, 90) THEN NULL ELSE w END,
               CASE WHEN status IN (80, 100) THEN run END,
               CASE WHEN status IN (80, 100) THEN 40000 + floor(random() * 200000)::int END
        FROM shaped ORDER BY i
    """


#: Rows per INSERT on PostgreSQL: each chunk is its own transaction (bounded memory, visible progress).
POSTGRES_CHUNK = 1_000_000


def _postgres_fill(engine: sa.Engine, n: int, now: Any) -> None:
    """Chunks of ``generate_series`` with the secondary indexes dropped, then rebuilt in one pass each.

    Building an index over the loaded table is several times faster than maintaining it row by
    row (10M rows: minutes instead of most of an hour), and the rebuilt indexes are compact.
    """
    with engine.begin() as connection:
        indexes = connection.execute(
            sa.text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i"
                " JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid"
                " WHERE i.tablename = 's_tasks' AND i.schemaname = current_schema() AND NOT x.indisprimary"
            )
        ).all()
        for name, _ in indexes:
            connection.execute(sa.text(f'DROP INDEX "{name}"'))
    for first in range(1, n + 1, POSTGRES_CHUNK):
        last = min(n, first + POSTGRES_CHUNK - 1)
        with engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            connection.execute(
                sa.text(
                    "INSERT INTO s_tasks (identifier, action, status, priority, progress, message, error, data,"
                    " attempts, max_attempts, attempt_budget, user_id, started_by, created_at, started_at,"
                    " finished_at, wait_ms, run_ms, peak_memory_kb)" + _postgres_rows(first, last, n)
                ),
                {"now": now},
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        connection.exec_driver_sql("SET max_parallel_maintenance_workers = 2")
        for _, definition in indexes:
            connection.exec_driver_sql(definition)


def _mariadb_fill(connection: Any, n: int, now: Any) -> None:
    """The same rows from MariaDB's sequence engine (``seq_1_to_N``), in chunks."""
    span_us = SPAN_DAYS * 86400 * 1_000_000

    def later(ms: str) -> str:
        return f"c + INTERVAL CAST(({ms}) * 1000 AS INTEGER) MICROSECOND"

    for first in range(1, n + 1, POSTGRES_CHUNK):
        last = min(n, first + POSTGRES_CHUNK - 1)
        connection.execute(
            sa.text(f"""
            INSERT INTO s_tasks (identifier, action, status, priority, progress, message, error, data, attempts,
                                 max_attempts, attempt_budget, user_id, started_by, created_at, started_at,
                                 finished_at, wait_ms, run_ms, peak_memory_kb)
            WITH base AS (
                SELECT seq AS i, FLOOR(RAND() * 1000) AS r, FLOOR(RAND() * 10) AS p, FLOOR(RAND() * 8) AS k,
                       FLOOR(RAND() * 8) AS e, FLOOR(RAND() * 500) AS w,
                       FLOOR(RAND() * 3000) + CASE WHEN RAND() < 0.01 THEN 60000 ELSE 0 END AS run,
                       CAST(:now AS DATETIME(6))
                           - INTERVAL CAST({span_us} * ({n} - seq) / {n} + RAND() * 1000000 AS INTEGER) MICROSECOND
                           AS c
                FROM seq_{first}_to_{last}
            ),
            shaped AS (SELECT *, {STATUS_SQL} AS status FROM base)
            SELECT {_case(IDENTIFIERS, "k")}, {_case(ACTIONS, "k")}, status, {PRIORITY_SQL},
                   CASE WHEN status = 80 THEN 100 ELSE 0 END,
                   CASE status WHEN 80 THEN 'Finished' WHEN 90 THEN 'Cancelled' WHEN 10 THEN NULL
                        WHEN 50 THEN NULL ELSE {_case(ERRORS, "e")} END,
                   CASE WHEN status = 100 THEN {_case(ERRORS, "e")} END,
                   CONCAT('{{"n": ', i, '}}'),
                   CASE WHEN status = 100 THEN 3 WHEN status = 10 THEN 0 ELSE 1 END, 3, 3, i % 50,
                   CASE WHEN status IN (10, 90) THEN NULL ELSE CONCAT('bench-host:', 1000 + i % 8) END,
                   c,
                   CASE WHEN status IN (10, 90) THEN NULL ELSE {later("w")} END,
                   CASE WHEN status IN (80, 100) THEN {later("w + run")}
                        WHEN status = 90 THEN c + INTERVAL 1 SECOND END,
                   CASE WHEN status IN (10, 90) THEN NULL ELSE w END,
                   CASE WHEN status IN (80, 100) THEN run END,
                   CASE WHEN status IN (80, 100) THEN 40000 + FLOOR(RAND() * 200000) END
            FROM shaped ORDER BY i
        """),
            {"now": now},
        )


def fill(app: Flask, backend: str, n: int) -> float:
    """Replace the contents of ``s_tasks`` with ``n`` generated rows; returns seconds taken."""
    db = app.extensions["stask"].db
    started = time.perf_counter()
    with app.app_context():
        db.session.remove()
        engine = db.engine
        with engine.begin() as connection:
            if backend == "postgresql":
                # The counting triggers would see every generated row; rebuild() counts them once below.
                connection.execute(sa.text("ALTER TABLE s_tasks DISABLE TRIGGER USER"))
            connection.execute(sa.text("DELETE FROM s_tasks" if backend == "sqlite" else "TRUNCATE s_tasks"))
            if "s_stats_hourly" in sa.inspect(connection).get_table_names():
                connection.execute(sa.text("DELETE FROM s_stats_hourly"))
            known = set(connection.execute(sa.select(Worker.identifier)).scalars())
            for position, identifier in enumerate(EXTRA_WORKERS, start=len(known)):
                if identifier not in known:
                    connection.execute(
                        sa.insert(Worker).values(
                            identifier=identifier,
                            class_path="bench:NoopWorker",
                            active=True,
                            scope="bench",
                            title=identifier.title(),
                            description="Generated by the benchmark",
                            icon="gear",
                            position=position,
                            settings={},
                        )
                    )
            now = utcnow()
            if backend == "sqlite":
                _sqlite_fill(connection, n, (now - datetime(1970, 1, 1)).total_seconds())
            elif backend == "mariadb":
                _mariadb_fill(connection, n, now)
        if backend == "postgresql":
            _postgres_fill(engine, n, now)
            with engine.begin() as connection:
                connection.execute(sa.text("ALTER TABLE s_tasks ENABLE TRIGGER USER"))
        if backend == "sqlite":
            with engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
        elif backend == "mariadb":
            with engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE TABLE s_tasks")
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE s_tasks")
        # Counters and hourly rollups as the maintenance pass leaves them: pages read, never build.
        rebuild(db.session)
        db.session.remove()
    return time.perf_counter() - started


def _placeholders(app: Flask) -> dict[str, str]:
    """Values for the ``{...}`` in PAGES' paths: a task in the middle, a week of the 30 days."""
    with app.app_context():
        db = app.extensions["stask"].db
        top = int(db.session.scalar(sa.text("SELECT max(id) FROM s_tasks")) or 2)
        db.session.remove()
    today = utcnow().date()
    return {
        "{mid_id}": str(top // 2),
        "{week_from}": (today - timedelta(days=14)).isoformat(),
        "{week_to}": (today - timedelta(days=8)).isoformat(),
    }


def time_pages(app: Flask, repeats: int, only: str = "") -> list[dict[str, Any]]:
    """Median and min of ``repeats`` requests per page after one cold request."""
    prefix = app.config["STASK_URL_PREFIX"].rstrip("/")
    adapter = app.url_map.bind("localhost")
    headers = {"Authorization": f"Bearer {app.config['STASK_API_TOKEN']}"}
    client = app.test_client()
    values = _placeholders(app)
    out = []
    for name, path, target in PAGES:
        if only and only not in name:
            continue
        for token, value in values.items():
            path = path.replace(token, value)
        url = prefix + path
        entry: dict[str, Any] = {"name": name, "url": url, "target_ms": target}
        try:
            adapter.match(url.split("?")[0], method="GET")
        except Exception:  # NotFound / MethodNotAllowed: the view is not there (yet)
            entry.update(note="n/a (not built)")
            out.append(entry)
            continue
        cold, response = measure(lambda u=url: client.get(u, headers=headers))
        if response.status_code != 200:
            entry.update(note=f"n/a (HTTP {response.status_code})")
            out.append(entry)
            continue
        times = []
        for _ in range(repeats):
            seconds, response = measure(lambda u=url: client.get(u, headers=headers))
            times.append(seconds * 1000)
        entry.update(
            cold_ms=cold * 1000,
            median_ms=statistics.median(times),
            min_ms=min(times),
            max_ms=max(times),
            bytes=len(response.data),
        )
        out.append(entry)
    return out


def pages(env: BenchEnv, backend: str, rows: int, repeats: int) -> dict[str, Any]:
    app = env.app(backend)
    env.flush_redis()
    fill_s = fill(app, backend, rows)
    with app.app_context():
        count = app.extensions["stask"].db.session.scalar(sa.text("SELECT count(*) FROM s_tasks"))
        app.extensions["stask"].db.session.remove()
    results = time_pages(app, repeats)
    env.clear_tasks(app)
    return {"backend": backend, "rows": int(count or 0), "fill_s": fill_s, "pages": results}
