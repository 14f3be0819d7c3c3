"""Creating and finding tasks, refusing bad input, and the query budget — on every database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from stask import Priority, Status, Task
from stask.engine.queues import job_id
from stask.exceptions import InactiveWorker, InvalidInput, TaskNotFound, UnknownAction, UnknownWorker
from stask.models import Worker
from tests.support.queries import created_and_run


def count_tasks(stask: Any) -> int:
    return stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task))


def test_create_stores_a_queued_row_and_enqueues_one_job(stask: Any, count_queries: Any) -> None:
    stask.resolve_worker("echo")
    count_queries.statements.clear()
    task = stask.create("echo", "say", data={"text": "hi"}, priority="high", user_id=7)
    assert count_queries.count == 1
    assert task.status == Status.QUEUED == 10 and task.priority == "high" and task.user_id == 7
    row = stask.db.session.get(Task, task.id)
    assert (row.identifier, row.action, row.data, row.max_attempts) == ("echo", "say", {"text": "hi"}, 3)
    queue = stask.runtime.transport.queues["high"]
    assert queue.job_ids == [job_id(task.id, 1)]


def insert_modes(stask: Any, create: Any) -> list[bool]:
    """For each INSERT ``create()`` sends: whether its connection was in autocommit mode."""
    modes: list[bool] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            modes.append(bool(conn.connection.dbapi_connection.autocommit))

    sa.event.listen(stask.db.engine, "before_cursor_execute", record)
    try:
        create()
    finally:
        sa.event.remove(stask.db.engine, "before_cursor_execute", record)
    return modes


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_plain_task_is_a_transaction_by_itself_on_postgresql(stask: Any) -> None:
    """One round trip (its INSERT in autocommit) instead of BEGIN, INSERT and COMMIT."""
    stask.resolve_worker("echo")
    stask.db.session.commit()
    assert insert_modes(stask, lambda: stask.create("echo", "say")) == [True]
    with stask.db.engine.connect() as other:  # committed: seen from another connection
        assert other.scalar(sa.select(sa.func.count()).select_from(Task)) == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_work_left_in_the_session_commits_with_the_task(stask: Any) -> None:
    """A caller's pending writes and the task are one transaction, as before: no autocommit then."""
    stask.db.session.execute(sa.update(Worker).where(Worker.identifier == "echo").values(title="with the task"))
    assert insert_modes(stask, lambda: stask.create("echo", "say")) == [False]
    with stask.db.engine.connect() as other:
        title = other.scalar(sa.select(Worker.title).where(Worker.identifier == "echo"))
        assert (title, other.scalar(sa.select(sa.func.count()).select_from(Task))) == ("with the task", 1)


def test_status_codes_and_queries() -> None:
    assert [int(s) for s in Status] == [10, 30, 50, 80, 90, 100]
    assert str(Task.failed()).count("s_tasks.status IN") == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"identifier": "nope", "action": "say"}, UnknownWorker),
        ({"identifier": "echo", "action": "shout"}, UnknownAction),
        ({"identifier": "echo", "action": "say", "priority": "urgent"}, InvalidInput),
        ({"identifier": "echo", "action": "say", "data": {"when": datetime.now()}}, InvalidInput),
        ({"identifier": "echo", "action": "say", "data": ["not", "a", "dict"]}, InvalidInput),
        ({"identifier": "echo", "action": "say", "data": {"x": float("nan")}}, InvalidInput),
        ({"identifier": "echo", "action": "say", "start_at": "next tuesday"}, InvalidInput),
        ({"identifier": "echo", "action": "say", "start_at": 12}, InvalidInput),
        ({"identifier": "echo", "action": "say", "max_attempts": 0}, InvalidInput),
        ({"identifier": "echo", "action": "../etc"}, InvalidInput),
        ({"identifier": 5, "action": "say"}, InvalidInput),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(stask: Any, kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error) as caught:
        stask.create(**kwargs)
    assert str(caught.value)
    assert count_tasks(stask) == 0
    assert all(len(q) == 0 for q in stask.runtime.transport.queues.values())


def test_inactive_worker_is_refused_until_activated(stask: Any) -> None:
    stask.deactivate_worker("echo")
    with pytest.raises(InactiveWorker, match="activate"):
        stask.create("echo", "say")
    stask.activate_worker("echo")
    assert stask.create("echo", "say").status == Status.QUEUED


def test_create_many_is_one_insert_and_all_or_nothing(stask: Any, count_queries: Any) -> None:
    specs = [
        {"identifier": "echo", "action": "noop", "priority": p.value, "data": {"n": i}}
        for i, p in enumerate([Priority.LOW, Priority.HIGH] * 50)
    ]
    tasks = stask.create_many(specs)
    inserts = [s for s in count_queries.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1
    assert [t.data["n"] for t in tasks] == list(range(100))
    assert len({t.id for t in tasks}) == 100
    assert len(stask.runtime.transport.queues["high"]) == 50
    with pytest.raises(InvalidInput):
        stask.create_many(
            [{"identifier": "echo", "action": "noop"}, {"identifier": "echo", "action": "noop", "priority": "nope"}]
        )
    assert count_tasks(stask) == 100


def test_at_most_three_statements_per_task_whatever_the_progress(app: Any, stask: Any, count_queries: Any) -> None:
    from stask.engine.processes import build_worker

    worker = build_worker(app, kind="simple")
    worker.maintenance_interval = 3600
    worker.run_maintenance_tasks()  # the periodic reconcile is per worker process, not per task
    stask.resolve_worker("echo")  # so is a cold worker cache
    count_queries.statements.clear()
    for _ in range(4):
        stask.create("echo", "say", data={"steps": 25})
    worker.work(burst=True, logging_level="WARNING")
    assert count_queries.count == created_and_run(app, 4) <= 3 * 4, count_queries.statements
    assert stask.get_stats()["finished"] == 4


def test_start_at_in_the_future_delays_the_task(stask: Any) -> None:
    start = datetime.now(timezone.utc) + timedelta(seconds=30)
    task = stask.create("echo", "noop", start_at=start.isoformat())
    assert stask.runtime.transport.queues["normal"].count == 0
    assert job_id(task.id, 1) in stask.runtime.transport.live_job_ids()
    assert stask.process_pending_tasks() == 0
    assert stask.get_task(task.id).status == Status.QUEUED
    stored = stask.get_task(task.id).start_at
    assert abs((stored - start.replace(tzinfo=None)).total_seconds()) < 0.01


def test_stats_count_every_status(stask: Any) -> None:
    tasks = [stask.create("echo", "noop") for _ in range(3)]
    stask.cancel(tasks[0].id)
    stats = stask.get_stats()
    assert stats == {
        "pending": 2,
        "preparing": 0,
        "running": 0,
        "finished": 0,
        "cancelled": 1,
        "failed": 0,
        "total": 3,
        "workers": 4 + 4,
        "active_workers": 8,
    }


def test_query_helpers_return_selects(stask: Any) -> None:
    high = stask.create("echo", "noop", priority="high")
    low = stask.create("echo", "noop", priority="low")
    session = stask.db.session
    assert [t.id for t in session.scalars(Task.high_priority())] == [high.id]
    assert [t.id for t in session.scalars(Task.low_priority())] == [low.id]
    assert [t.id for t in session.scalars(Task.incomplete())] == [high.id, low.id]
    assert session.scalars(Task.failed()).all() == []


# -- odd input ends as a StaskError on every database, never a driver error --------------------------
# Each case here used to escape as a ValueError, OverflowError or a database error (HTTP 500 behind
# the API): Unicode digits that ``str.isdigit`` accepts but ``int()`` refuses, numbers past what a
# column holds, a NUL byte PostgreSQL refuses, a lone surrogate MariaDB refuses.
@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, " 12x"])
def test_max_attempts_written_oddly_is_invalid_input(stask: Any, value: str) -> None:
    with pytest.raises(InvalidInput):
        stask.create("echo", "say", max_attempts=value)
    assert stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_max_attempts_as_digits_still_works(stask: Any) -> None:
    assert stask.create("echo", "say", max_attempts=" 7 ").max_attempts == 7


@pytest.mark.parametrize("task_id", [2**63, 10**30, 0, -1, "0"])
def test_task_ids_no_row_can_have_are_not_found(stask: Any, task_id: Any) -> None:
    with pytest.raises(TaskNotFound):
        stask.get_task(task_id)


@pytest.mark.parametrize("task_id", ["²", "1.5", "", "9" * 5000, "99999999999999999999999"])
def test_task_ids_that_are_no_number_are_invalid(stask: Any, task_id: Any) -> None:
    with pytest.raises(InvalidInput):
        stask.get_task(task_id)


def test_task_id_as_a_digit_string_is_found(stask: Any) -> None:
    task = stask.create("echo", "say")
    assert stask.get_task(str(task.id)).id == task.id


def test_user_id_beyond_the_column_is_invalid_input(stask: Any) -> None:
    with pytest.raises(InvalidInput):
        stask.create("echo", "say", user_id=2**31)
    assert stask.create("echo", "say", user_id=2**31 - 1).user_id == 2**31 - 1


@pytest.mark.parametrize("data", [{"text": "\ud800"}, {"\udfff": 1}, {"a": ["ok", "x\udc00y"]}])
def test_lone_surrogates_in_data_are_invalid_input(stask: Any, data: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        stask.create("echo", "say", data=data)
    assert stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_astral_characters_in_data_are_kept(stask: Any) -> None:
    task = stask.create("echo", "say", data={"text": "😀 ok"})
    stask.db.session.expire_all()
    assert stask.get_task(task.id).data == {"text": "😀 ok"}
