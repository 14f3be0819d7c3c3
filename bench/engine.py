"""Sections that only need the engine: throughput, counts, pickup latency, create_many, memory.

Every figure is measured here and returned as plain data; :mod:`bench.report`
compares it with its target.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from rq import Queue, SimpleWorker
from rq import Worker as ForkWorker
from rq.utils import utcparse

from bench import noop
from bench.env import BenchEnv, RedisMonitor, count_sql, measure, stop_process, vm_rss_kb
from stask.engine.queues import FAILURE_TTL, RESULT_TTL
from stask.enums import QUEUE_ORDER, Status
from stask.models import Task, utcnow

NOOP = {"identifier": "bench_noop", "action": "noop"}
BARE_WORKERS = {"simple": SimpleWorker, "fork": ForkWorker}
#: Job options of bare RQ: the same as stask's own jobs, so only stask's work differs.
BARE_TIMEOUT = 1800


def bare_queues(env: BenchEnv) -> list[Queue]:
    """Bare RQ on the same three-queue layout stask listens on (high, normal, low)."""
    return [Queue(name, connection=env.redis) for name in BARE_QUEUES]


def bare_jobs(n: int, result_ttl: int = RESULT_TTL) -> list[Any]:
    return [
        Queue.prepare_data(noop, timeout=BARE_TIMEOUT, result_ttl=result_ttl, failure_ttl=FAILURE_TTL) for _ in range(n)
    ]


def finished_count(app: Any) -> int:
    db = app.extensions["stask"].db
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).where(Task.status == int(Status.FINISHED)))
        db.session.commit()
    return int(count or 0)


# -- 1. throughput through the real commands ---------------------------------------------------
#: The bare side's queues: the same three-queue layout stask listens on (high, normal, low).
BARE_QUEUES = [f"bare-{name}" for name in QUEUE_ORDER]


def _stask_burst(env: BenchEnv, backend: str, kind: str, n: int, processes: int = 1, split: bool = False) -> float:
    """Seconds of ``processes`` burst commands over ``n`` no-op tasks, their start-up subtracted.

    The start-up is a burst of the same commands on empty queues just before: imports, app,
    registration, the start-up reconcile (which then holds its lock, so the loaded burst does
    not reconcile again). ``split`` gives every other process a second Redis URL (another
    client set-up, as if on another host) for the same server.
    """
    app = env.app(backend)
    env.clear_tasks(app)
    env.flush_redis()
    commands = [(env.stask_command(kind), env.other_redis_url() if split and i % 2 else None) for i in range(processes)]
    name = f"stask-{backend}-{kind}-{processes}"
    startup = env.run_commands(commands, backend, name)
    startup_cpu = env.last_cpu
    with app.app_context():
        app.extensions["stask"].create_many([NOOP] * n)
    loaded = env.run_commands(commands, backend, name)
    env.last_cpu -= startup_cpu  # the tasks' own CPU seconds, for the caller
    done = finished_count(app)
    if done != n:
        raise RuntimeError(f"stask {kind} on {backend}: {done} of {n} tasks finished")
    return max(loaded - startup, 1e-6)


def _bare_burst(env: BenchEnv, kind: str, n: int) -> float:
    """Seconds of ``rq worker --burst`` over ``n`` pre-enqueued no-op jobs, its start-up subtracted."""
    env.flush_redis()
    command = [(env.bare_command(kind), None)]
    startup = env.run_commands(command, "sqlite", f"bare-{kind}")
    startup_cpu = env.last_cpu
    queues = bare_queues(env)
    queues[1].enqueue_many(bare_jobs(n))
    loaded = env.run_commands(command, "sqlite", f"bare-{kind}")
    env.last_cpu -= startup_cpu
    left = sum(q.count for q in queues) + sum(q.failed_job_registry.count for q in queues)
    if left:
        raise RuntimeError(f"bare RQ {kind}: {left} jobs not done")
    return max(loaded - startup, 1e-6)


@contextmanager
def worker_environment(**values: str) -> Iterator[None]:
    """Variables the worker commands started in this block get (``worker_env`` copies ``os.environ``)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def throughput(env: BenchEnv, backend: str, kind: str, n: int, rounds: int, sync_commit: bool = True) -> dict[str, Any]:
    """``flask stask worker --burst -w kind`` beside ``rq worker --burst``; rounds alternate, best counts.

    ``sync_commit=False``: the stask workers commit without waiting for the disk
    (``STASK_WORKER_SYNC_COMMIT=false``, an operator's choice on PostgreSQL).
    """
    if not sync_commit:
        with worker_environment(STASK_WORKER_SYNC_COMMIT="false"):
            return {**throughput(env, backend, kind, n, rounds), "sync_commit": False}
    stask_runs, bare_runs, stask_cpu, bare_cpu = [], [], [], []
    stats: dict[str, Any] | None = None
    for index in range(rounds):
        bare_runs.append(_bare_burst(env, kind, n))
        bare_cpu.append(env.last_cpu)
        if backend == "postgresql" and kind == "simple" and index == 0:
            with pg_statistics(env) as stats:
                stask_runs.append(_stask_burst(env, backend, kind, n))
            stats = _per_task(stats, n)
        else:
            stask_runs.append(_stask_burst(env, backend, kind, n))
        stask_cpu.append(env.last_cpu)
    best_stask, best_bare = min(stask_runs), min(bare_runs)
    result = {
        "backend": backend,
        "worker": kind,
        "tasks": n,
        "rounds": rounds,
        "stask_per_s": n / best_stask,
        "bare_per_s": n / best_bare,
        "ratio": best_bare / best_stask,
        "stask_runs_s": stask_runs,
        "bare_runs_s": bare_runs,
        # Worker processes' CPU per task (start-up taken out): steadier than wall time on a busy machine.
        "stask_cpu_ms": 1000 * min(stask_cpu) / n,
        "bare_cpu_ms": 1000 * min(bare_cpu) / n,
    }
    if stats is not None:
        result["pg_statistics"] = stats
    return result


def scale_out(env: BenchEnv, backend: str, n: int, counts: tuple[int, ...] = (1, 2, 4, 8)) -> dict[str, Any]:
    """Tasks/s of 1..8 ``--worker-class simple`` burst processes, on one Redis URL and split over two."""
    rows = []
    for processes in counts:
        for split in (False, True) if processes > 1 else (False,):
            _stask_burst(env, backend, "simple", n, processes, split)
            # From the rows: first start to last finish. Subtracting the start-up of several
            # processes started at once (they share 2 cores) was noisier than the work itself.
            seconds = _task_span(env.app(backend))
            rows.append({"processes": processes, "split": split, "per_s": n / seconds, "seconds": seconds})
    one = next(r["per_s"] for r in rows if r["processes"] == 1)
    for row in rows:
        row["speedup"] = row["per_s"] / one
    # The machine's own ceiling: bare RQ's SimpleWorker on the same Redis and cores, timed the same way.
    bare = [{"processes": p, "per_s": n / _bare_span(env, n, p)} for p in counts[:2]]
    for row in bare:
        row["speedup"] = row["per_s"] / bare[0]["per_s"]
    return {
        "backend": backend,
        "tasks": n,
        "rows": rows,
        "bare_rows": bare,
        "urls": [env.redis_url, env.other_redis_url()],
    }


def _bare_span(env: BenchEnv, n: int, processes: int) -> float:
    """Seconds from the first job's start to the last one's end over ``n`` no-op jobs and
    ``processes`` bare ``rq worker --burst -w SimpleWorker`` (the jobs' own times, kept for
    an hour: with ``RESULT_TTL``'s 10 s the first jobs of a slow run were gone before they were
    read), as the stask rows give :func:`_task_span`."""
    env.flush_redis()
    jobs = bare_queues(env)[1].enqueue_many(bare_jobs(n, result_ttl=3600))
    env.run_commands([(env.bare_command("simple"), None)] * processes, "sqlite", f"bare-simple-{processes}")
    with env.redis.pipeline() as pipeline:
        for job in jobs:
            pipeline.hmget(job.key, "started_at", "ended_at")
        times = pipeline.execute()
    if any(None in pair for pair in times):
        raise RuntimeError(f"bare RQ: {sum(None in pair for pair in times)} of {n} jobs left no start or end")
    first = min(utcparse(started.decode()) for started, _ in times)
    last = max(utcparse(ended.decode()) for _, ended in times)
    return max((last - first).total_seconds(), 1e-6)


def _task_span(app: Any) -> float:
    """Seconds from the first task's start to the last one's finish (the rows' own times)."""
    db = app.extensions["stask"].db
    with app.app_context():
        first, last = db.session.execute(sa.select(sa.func.min(Task.started_at), sa.func.max(Task.finished_at))).one()
        db.session.commit()
    return max((last - first).total_seconds(), 1e-6)


@contextmanager
def pg_statistics(env: BenchEnv) -> Iterator[dict[str, Any]]:
    """PostgreSQL's own counts over the block: rows written to ``s_tasks``, commits, statements.

    The counters a backend keeps are flushed when it exits; the bench's own connections are
    closed before each reading so that theirs are in too. ``pg_stat_statements`` counts the
    statements themselves when the extension is installed (it needs ``shared_preload_libraries``).
    """
    app = env.app("postgresql")
    with app.app_context():
        engine = app.extensions["stask"].db.engine
    query = sa.text(
        "SELECT t.n_tup_ins, t.n_tup_upd, t.n_tup_del, d.xact_commit FROM pg_stat_user_tables t,"
        " pg_stat_database d WHERE t.relname = 's_tasks' AND d.datname = current_database()"
    )
    statements = sa.text(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query ILIKE '%s_tasks%'"
        " AND (query ILIKE 'UPDATE%' OR query ILIKE 'INSERT%')"
    )

    def read() -> dict[str, int]:
        with app.app_context():
            app.extensions["stask"].db.session.remove()
        engine.dispose()
        time.sleep(0.5)  # exited backends report asynchronously
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            ins, upd, dele, commits = connection.execute(query).one()
            values = {"inserted": ins, "updated": upd, "deleted": dele, "commits": commits}
            try:
                with connection.begin_nested():
                    values["statements"] = int(connection.execute(statements).scalar() or 0)
            except sa.exc.DBAPIError:
                pass
            connection.rollback()
        engine.dispose()
        return {k: int(v) for k, v in values.items()}

    out: dict[str, Any] = {}
    before = read()
    yield out
    after = read()
    out.update({k: after[k] - before[k] for k in after if k in before})


def _per_task(stats: dict[str, Any], n: int) -> dict[str, Any]:
    """Rows written per task (each INSERT/UPDATE of one row is one statement on this path)."""
    stats = dict(stats)
    stats["tasks"] = n
    stats["rows_written_per_task"] = (stats["inserted"] + stats["updated"]) / n
    stats["commits_per_task"] = stats["commits"] / n
    if "statements" in stats:
        stats["statements_per_task"] = stats["statements"] / n
    return stats


def enqueue_cost(env: BenchEnv, n_many: int, n_single: int) -> dict[str, Any]:
    """Seconds to hand tasks to the transport: in bulk (one pipeline) and one at a time."""
    app = env.app("sqlite")
    results: dict[str, Any] = {"bulk_tasks": n_many, "single_tasks": n_single}
    with app.app_context():
        stask = app.extensions["stask"]
        env.clear_tasks(app)
        env.flush_redis()
        seconds, _ = measure(lambda: stask.create_many([NOOP] * n_many))
        results["stask_create_many_per_s"] = n_many / seconds
        env.clear_tasks(app)
        env.flush_redis()

        def one_by_one() -> None:
            for _ in range(n_single):
                stask.create(**NOOP)

        seconds, _ = measure(one_by_one)
        results["stask_create_per_s"] = n_single / seconds
        env.clear_tasks(app)
    env.flush_redis()
    queue = bare_queues(env)[1]
    seconds, _ = measure(lambda: queue.enqueue_many(bare_jobs(n_many)))
    results["bare_enqueue_many_per_s"] = n_many / seconds
    env.flush_redis()

    def bare_one_by_one() -> None:
        for _ in range(n_single):
            queue.enqueue(noop, job_timeout=BARE_TIMEOUT, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL)

    seconds, _ = measure(bare_one_by_one)
    results["bare_enqueue_per_s"] = n_single / seconds
    env.flush_redis()
    return results


# -- 2. statements and commands per task -------------------------------------------------------
def _count_stask(env: BenchEnv, n: int, single: bool) -> dict[str, Any]:
    from stask.engine.processes import build_worker

    app = env.app("sqlite")
    env.clear_tasks(app)
    env.flush_redis()
    with app.app_context():
        stask = app.extensions["stask"]
        stask.resolve_worker(NOOP["identifier"])  # a warm cache, as in a running web process
        engine = stask.db.engine
        # The worker's fixed cost (registration, start-up reconcile) with nothing to do, subtracted below.
        with RedisMonitor(env.redis_url) as idle_redis, count_sql(engine) as idle_sql:
            build_worker(app, kind="simple").work(burst=True, logging_level="WARNING")
        with RedisMonitor(env.redis_url) as create_redis, count_sql(engine) as create_sql:
            if single:
                for _ in range(n):
                    stask.create(**NOOP)
            else:
                stask.create_many([NOOP] * n)
        with RedisMonitor(env.redis_url) as run_redis, count_sql(engine) as run_sql:
            build_worker(app, kind="simple").work(burst=True, logging_level="WARNING")
        done = finished_count(app)
    if done != n:
        raise RuntimeError(f"statement count run: {done} of {n} tasks finished")
    # SQL: everything counted (the idle burst above holds the reconcile lock, so the measured
    # worker makes only the tasks' own statements). Redis: the worker's own start/stop
    # commands (registration, queue scans) happen in every burst and are taken out.
    sql = create_sql.count + run_sql.count
    commands = create_redis.total() + run_redis.total() - idle_redis.total()
    return {
        "tasks": n,
        "sql_per_task": sql / n,
        "redis_per_task": commands / n,
        "sql_create": create_sql.count,
        "sql_run": run_sql.count,
        "sql_worker_fixed": idle_sql.count,
        "sql_kinds": _merge(create_sql.kinds(), run_sql.kinds()),
        "redis_create": create_redis.total(),
        "redis_run": run_redis.total(),
        "redis_worker_fixed": idle_redis.total(),
        "redis_commands": dict((create_redis.commands + run_redis.commands).most_common()),
    }


def _count_bare(env: BenchEnv, n: int, single: bool) -> dict[str, Any]:
    env.flush_redis()
    queues = bare_queues(env)
    with RedisMonitor(env.redis_url) as idle_redis:
        SimpleWorker(queues, connection=env.redis).work(burst=True, logging_level="WARNING")
    with RedisMonitor(env.redis_url) as create_redis:
        if single:
            for _ in range(n):
                queues[1].enqueue(noop, job_timeout=BARE_TIMEOUT, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL)
        else:
            queues[1].enqueue_many(bare_jobs(n))
    with RedisMonitor(env.redis_url) as run_redis:
        SimpleWorker(queues, connection=env.redis).work(burst=True, logging_level="WARNING")
    commands = create_redis.total() + run_redis.total() - idle_redis.total()
    return {
        "tasks": n,
        "sql_per_task": 0.0,
        "redis_per_task": commands / n,
        "redis_create": create_redis.total(),
        "redis_run": run_redis.total(),
        "redis_worker_fixed": idle_redis.total(),
        "redis_commands": dict((create_redis.commands + run_redis.commands).most_common()),
    }


def _merge(*counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            total[key] = total.get(key, 0) + value
    return total


def statements(env: BenchEnv, n: int) -> dict[str, Any]:
    """SQL statements and Redis commands per task, stask (create_many and create) beside bare RQ."""
    return {
        "stask_create_many": _count_stask(env, n, single=False),
        "stask_create": _count_stask(env, n, single=True),
        "bare_enqueue_many": _count_bare(env, n, single=False),
        "bare_enqueue": _count_bare(env, n, single=True),
    }


# -- 3. pickup latency ------------------------------------------------------------------------
def _wait_finished(app: Any, task_id: int, timeout: float = 30.0) -> tuple[Any, Any]:
    db = app.extensions["stask"].db
    deadline = time.monotonic() + timeout
    query = sa.select(Task.status, Task.created_at, Task.started_at).where(Task.id == task_id)
    while time.monotonic() < deadline:
        row = db.session.execute(query).one()
        db.session.commit()
        if row.status == Status.FINISHED:
            return row.created_at, row.started_at
        time.sleep(0.005)
    raise RuntimeError(f"task {task_id} did not finish in {timeout} s")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is one measured sample)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def pickup_latency(env: BenchEnv, backend: str, samples: int, pause: float = 0.05) -> dict[str, Any]:
    """create → started on an idle in-process worker subprocess, one task at a time.

    ``created_at`` is taken when ``create()`` starts, so the figure includes the creating
    process's validation, INSERT, commit and enqueue; the worker's own part is also given, from
    ``create()`` returning.
    """
    app = env.app(backend)
    env.clear_tasks(app)
    env.flush_redis()
    process = env.spawn_worker(backend, "simple")
    latencies: list[float] = []
    after_create: list[float] = []  # the worker's own part: from create() returning (row committed, job queued)
    try:
        with app.app_context():
            stask = app.extensions["stask"]
            for index in range(samples + 3):
                time.sleep(pause)  # the worker is idle again, blocked in its dequeue
                task = stask.create(**NOOP)
                returned = utcnow()
                created, started = _wait_finished(app, task.id)
                if index >= 3:  # the first tasks warm the worker's imports and caches
                    latencies.append((started - created).total_seconds() * 1000)
                    after_create.append((started - returned).total_seconds() * 1000)
    finally:
        stop_process(process)
    return {
        "backend": backend,
        "samples": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "max_ms": max(latencies),
        "mean_ms": statistics.fmean(latencies),
        "after_create_p50_ms": percentile(after_create, 50),
    }


# -- 4. create_many ---------------------------------------------------------------------------
def create_many(env: BenchEnv, backend: str, n: int) -> dict[str, Any]:
    """``create_many`` of ``n`` tasks (validation, INSERTs, the RQ pipeline) on ``backend``."""
    app = env.app(backend)
    env.clear_tasks(app)
    env.flush_redis()
    with app.app_context():
        stask = app.extensions["stask"]
        stask.resolve_worker(NOOP["identifier"])
        specs = [dict(NOOP, data={"n": i}) for i in range(n)]
        with count_sql(stask.db.engine) as sql:
            seconds, tasks = measure(lambda: stask.create_many(specs))
        queued = sum(env.redis.llen(q.key) for q in stask.runtime.transport.queues.values())
    if len(tasks) != n or queued != n:
        raise RuntimeError(f"create_many: {len(tasks)} rows, {queued} jobs for {n} tasks")
    env.clear_tasks(app)
    env.flush_redis()
    return {
        "backend": backend,
        "tasks": n,
        "seconds": seconds,
        "per_s": n / seconds,
        "sql_seconds": sql.seconds,
        "statements": sql.count,
    }


# -- 6. memory ----------------------------------------------------------------------------------
def _wait_all_finished(app: Any, n: int, timeout: float) -> float:
    started = time.monotonic()
    while finished_count(app) < n:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"worker finished {finished_count(app)} of {n} tasks in {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


def memory(env: BenchEnv, backend: str, first: int, total: int, batch: int = 1000) -> dict[str, Any]:
    """RSS of ``flask stask worker -w simple`` after ``total`` tasks minus after ``first``."""
    app = env.app(backend)
    env.clear_tasks(app)
    env.flush_redis()
    process = env.spawn_worker(backend, "simple")
    try:
        with app.app_context():
            stask = app.extensions["stask"]
            stask.create_many([NOOP] * first)
            _wait_all_finished(app, first, timeout=120)
            rss_first = vm_rss_kb(process.pid)
            started = time.monotonic()
            series = [(first, rss_first)]  # RSS after each batch: a leak grows linearly, warm-up levels off
            for start in range(first, total, batch):
                end = min(start + batch, total)
                stask.create_many([NOOP] * (end - start))
                _wait_all_finished(app, end, timeout=300)
                series.append((end, vm_rss_kb(process.pid)))
            elapsed = time.monotonic() - started
            rss_total = series[-1][1]
    finally:
        stop_process(process)
    env.clear_tasks(app)
    return {
        "backend": backend,
        "first": first,
        "total": total,
        "rss_first_kb": rss_first,
        "rss_total_kb": rss_total,
        "growth_mb": (rss_total - rss_first) / 1024,
        "worker_per_s": (total - first) / elapsed,
        "rss_series_kb": series,
    }


# -- 7. worker-resolution cache ------------------------------------------------------------------
def cache_hit_rate(env: BenchEnv) -> dict[str, Any]:
    """Hits over lookups for everything the run did (counters saved across Redis flushes)."""
    env.flush_redis()
    totals = env.cache_totals
    lookups = totals["l1_hits"] + totals["l2_hits"] + totals["misses"]
    hits = totals["l1_hits"] + totals["l2_hits"]
    return {
        **{name: totals[name] for name in ("l1_hits", "l2_hits", "misses", "evictions")},
        "lookups": lookups,
        "hit_rate": hits / lookups if lookups else None,
    }
