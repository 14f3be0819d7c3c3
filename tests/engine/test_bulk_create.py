"""``create_many`` in bulk, on every database: the ids come back in input order and match their rows,
however the rows are split into statements, with a bounded number of statements per chunk, and
each row keeps its own values (values equal in Python but not as JSON are not merged)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from stask import Status, Task
from stask.exceptions import InvalidInput
from stask.models import utcnow
from stask.service import store
from tests.support.apps import redis_of, run_worker


def rows_by_id(stask: Any, ids: list[int]) -> dict[int, Task]:
    stask.db.session.expire_all()
    found = stask.db.session.scalars(sa.select(Task).where(Task.id.in_(ids))).all()
    return {task.id: task for task in found}


def specs(n: int) -> list[dict[str, Any]]:
    """Tasks that differ in several columns, some only now and then (varying and constant columns)."""
    priorities = ["low", "normal", "high"]
    return [
        {
            "identifier": "echo",
            "action": "noop" if i % 2 else "say",
            "data": {"n": i, "text": f"row {i} 100% ok: :name"},
            "priority": priorities[i % 3],
            "user_id": None if i % 4 else i,
            "max_attempts": 1 + i % 3,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("chunk", [7, store.INSERT_ROWS])
def test_ids_come_back_in_input_order_and_match_their_rows(
    stask: Any, count_queries: Any, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(store, "INSERT_ROWS", chunk)
    wanted = specs(40)
    stask.resolve_worker("echo")
    count_queries.statements.clear()
    tasks = stask.create_many(wanted)
    assert len({t.id for t in tasks}) == 40 and [t.id for t in tasks] == sorted(t.id for t in tasks)
    inserts = [s for s in count_queries.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == math.ceil(40 / chunk)
    assert count_queries.count <= 2 * math.ceil(40 / chunk)  # PostgreSQL draws the ids in one more
    rows = rows_by_id(stask, [t.id for t in tasks])
    for task, spec in zip(tasks, wanted, strict=True):
        row = rows[task.id]
        seen = (row.action, row.data, row.priority, row.user_id, row.max_attempts, row.attempt_budget)
        assert seen == (
            spec["action"],
            spec["data"],
            spec["priority"],
            spec["user_id"],
            spec["max_attempts"],
            spec["max_attempts"],
        )
        assert (task.action, task.data, task.priority, task.status) == (row.action, row.data, row.priority, 10)
        assert row.status == Status.QUEUED and row.attempts == 0 and row.created_at == task.created_at
    queues = stask.runtime.transport.queues
    assert [len(queues[p]) for p in ("high", "normal", "low")] == [13, 13, 14]


def test_statements_are_bounded_per_chunk_not_per_task(
    stask: Any, count_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "INSERT_ROWS", 50)
    stask.resolve_worker("echo")
    count_queries.statements.clear()
    stask.create_many([{"identifier": "echo", "action": "noop", "data": {"n": i}} for i in range(500)])
    assert count_queries.count <= 2 * 10, count_queries.statements


def test_a_chunk_also_ends_at_its_size_in_bytes(
    stask: Any, count_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "INSERT_BYTES", 1000)
    stask.resolve_worker("echo")
    count_queries.statements.clear()
    tasks = stask.create_many(
        [{"identifier": "echo", "action": "noop", "data": {"text": "x" * 300 + str(i)}} for i in range(9)]
    )
    inserts = [s for s in count_queries.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 3  # three rows of ~320 bytes fit in 1,000
    rows = rows_by_id(stask, [t.id for t in tasks])
    assert [rows[t.id].data["text"][-1] for t in tasks] == [str(i) for i in range(9)]


def test_every_row_alike_is_still_one_row_each(stask: Any) -> None:
    tasks = stask.create_many([{"identifier": "echo", "action": "noop"}] * 25)
    rows = rows_by_id(stask, [t.id for t in tasks])
    assert len(rows) == 25 and all(row.data == {} and row.action == "noop" for row in rows.values())


def test_values_equal_in_python_but_not_in_json_stay_apart(stask: Any) -> None:
    values: list[Any] = [1, True, 1.0, 1, True]
    tasks = stask.create_many([{"identifier": "echo", "action": "noop", "data": {"a": v}} for v in values])
    rows = rows_by_id(stask, [t.id for t in tasks])
    stored = [rows[t.id].data["a"] for t in tasks]
    assert [(type(v), v) for v in stored] == [(type(v), v) for v in values]


def test_a_spec_like_an_earlier_one_but_for_the_type_of_a_value_is_checked_again(stask: Any) -> None:
    with pytest.raises(InvalidInput, match="user_id"):
        stask.create_many(
            [{"identifier": "echo", "action": "noop", "user_id": 1}] * 3
            + [{"identifier": "echo", "action": "noop", "user_id": True}]
        )
    with pytest.raises(InvalidInput, match="data"):
        stask.create_many(
            [
                {"identifier": "echo", "action": "noop", "data": {"n": 1}},
                {"identifier": "echo", "action": "noop", "data": []},
            ]
        )
    assert stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_nothing_to_create_writes_nothing(app: Any, stask: Any, count_queries: Any) -> None:
    keys = redis_of(app).dbsize()
    assert stask.create_many([]) == []
    assert count_queries.count == 0 and redis_of(app).dbsize() == keys


def test_rows_of_differing_shapes_keep_their_order(stask: Any) -> None:
    now = utcnow()
    columns = [
        {"identifier": "echo", "action": "noop", "status": 10, "created_at": now, "data": {"n": 0}},
        {"identifier": "echo", "action": "noop", "status": 10, "created_at": now, "data": {"n": 1}, "message": "m"},
        {"identifier": "echo", "action": "say", "status": 10, "created_at": now, "data": {"n": 2}},
    ]
    ids = store.insert_tasks(stask.db.session, columns)
    stask.db.session.commit()
    rows = rows_by_id(stask, ids)
    assert [rows[i].data["n"] for i in ids] == [0, 1, 2] and rows[ids[1]].message == "m"


def test_a_real_worker_runs_every_task_created_in_bulk(app: Any, stask: Any) -> None:
    later = utcnow() + timedelta(hours=1)
    tasks = stask.create_many(
        [{"identifier": "echo", "action": "say", "data": {"text": f"t{i}"}, "priority": "low"} for i in range(20)]
        + [{"identifier": "echo", "action": "say", "start_at": later.isoformat()}]
    )
    run_worker(app)
    rows = rows_by_id(stask, [t.id for t in tasks])
    assert [rows[t.id].status for t in tasks[:20]] == [Status.FINISHED] * 20
    assert rows[tasks[20].id].status == Status.QUEUED  # due in an hour: scheduled, not run
    assert isinstance(rows[tasks[20].id].start_at, datetime)
