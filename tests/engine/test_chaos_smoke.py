"""Smoke test of the chaos harness (``python -m bench.chaos``, ``make chaos``) so it cannot rot.

Runs a tiny plan against real worker processes, a private Redis and a PostgreSQL database
of its own, and checks that the harness accounts for every task and reports every target.
It does not judge stask (the full run does, in docs/reliability.md): the verdicts may be FAIL.
The bookkeeping that turns the execution log into verdicts is checked on made-up data.
"""

from __future__ import annotations

import json
from dataclasses import replace

import sqlalchemy as sa

from bench.chaos import SMOKE, Execution, Journal, Kill, repeats, run, table, verdicts
from tests.support.environment import SERVER_URLS, require

TINY = replace(SMOKE, tasks=60, slow_tasks=12, duration=10.0, outage=2.0, kill_every=3.0)


def _postgres_reachable() -> None:
    engine = sa.create_engine(
        sa.engine.make_url(SERVER_URLS["postgresql"]).set(database="postgres"), connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def test_tiny_run_accounts_for_every_task() -> None:
    require("postgresql", _postgres_reachable)
    results = run(TINY, postgres_server=SERVER_URLS["postgresql"])
    ended = results["finished"] + results["failed"] + results["cancelled"]
    assert results["created"] == TINY.tasks + TINY.slow_tasks
    assert ended + len(results["lost"]) == results["created"]
    assert results["executions"] >= results["finished"]
    assert results["kills"] >= 1
    assert set(results["outages"]) == {"redis", "database"}
    assert results["workers"] == TINY.fork_workers + TINY.simple_workers
    names = [name for name, _, verdict in verdicts(results) if verdict in ("PASS", "FAIL")]
    assert len(names) == 5
    printed = table(results)
    for name in names:
        assert name in printed
    json.dumps(results, default=str)


def test_only_a_kill_explains_a_second_run() -> None:
    journal = Journal(started=0.0)
    journal.kills.append(Kill(at=10.0, point="simple worker", pid=100))
    executions = [
        Execution(task=1, attempt=1, pid=100, ppid=1, at=9.0),  # interrupted by the kill
        Execution(task=1, attempt=2, pid=200, ppid=1, at=15.0),
        Execution(task=2, attempt=1, pid=200, ppid=1, at=16.0),  # ran again with no kill
        Execution(task=2, attempt=2, pid=200, ppid=1, at=30.0),
        Execution(task=3, attempt=1, pid=300, ppid=50, at=17.0),  # the same attempt twice
        Execution(task=3, attempt=1, pid=301, ppid=50, at=18.0),
    ]
    duplicates, unexplained = repeats(journal, executions)
    assert duplicates == [(3, 1)]
    assert unexplained == [2, 3]
