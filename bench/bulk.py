"""Section 4: ``create_many`` beside bare RQ's ``enqueue_many`` of the same no-op job, on the same Redis.

stask's side is ``create_many`` of the bench's no-op action, each task with data of its own
(validation, the rows, their commit, the jobs); RQ's side is ``Queue.prepare_data`` and
``enqueue_many`` of :func:`bench.noop` with stask's job options (timeout, result and failure
TTL), as a user of bare RQ writes it. Both leave ``n`` jobs that a worker would run. Rounds
alternate (RQ first) and the best of each side counts: the machine's noise only slows down.
"""

from __future__ import annotations

import gc
from typing import Any

from bench.engine import NOOP, bare_jobs, bare_queues
from bench.env import BenchEnv, count_sql, measure

#: Tasks per call of each size measured (the issue's targets).
SIZES = (10_000, 100_000)


def _stask_round(env: BenchEnv, app: Any, n: int) -> tuple[float, int]:
    """Seconds for one ``create_many`` of ``n`` tasks, and its SQL statements."""
    env.clear_tasks(app)
    env.flush_redis()
    with app.app_context():
        stask = app.extensions["stask"]
        stask.resolve_worker(NOOP["identifier"])  # a warm worker cache, as in a running app
        specs = [dict(NOOP, data={"n": i}) for i in range(n)]
        gc.collect()
        with count_sql(stask.db.engine) as sql:
            seconds, tasks = measure(lambda: stask.create_many(specs))
        queued = sum(env.redis.llen(q.key) for q in stask.runtime.transport.queues.values())
    if len(tasks) != n or queued != n:
        raise RuntimeError(f"create_many: {len(tasks)} rows, {queued} jobs for {n} tasks")
    return seconds, sql.count


def _bare_round(env: BenchEnv, n: int) -> float:
    """Seconds for bare RQ to prepare and ``enqueue_many`` ``n`` jobs."""
    env.flush_redis()
    queue = bare_queues(env)[1]
    gc.collect()
    seconds, _ = measure(lambda: queue.enqueue_many(bare_jobs(n)))
    if queue.count != n:
        raise RuntimeError(f"enqueue_many: {queue.count} jobs for {n}")
    return seconds


def bulk(env: BenchEnv, backend: str, sizes: tuple[int, ...] = SIZES, rounds: int = 3) -> dict[str, Any]:
    """stask ``create_many`` / RQ ``enqueue_many`` per size: tasks per second and their ratio."""
    app = env.app(backend)
    measured = []
    for n in sizes:
        stask_s: list[float] = []
        bare_s: list[float] = []
        statements = 0
        for _ in range(rounds):
            bare_s.append(_bare_round(env, n))
            seconds, statements = _stask_round(env, app, n)
            stask_s.append(seconds)
        measured.append(
            {
                "tasks": n,
                "stask_per_s": n / min(stask_s),
                "bare_per_s": n / min(bare_s),
                "ratio": min(bare_s) / min(stask_s),
                "statements": statements,
                "stask_s": stask_s,
                "bare_s": bare_s,
            }
        )
    env.clear_tasks(app)
    env.flush_redis()
    return {"backend": backend, "rounds": rounds, "sizes": measured}
