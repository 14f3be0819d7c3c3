"""A retry by hand gives a task its own attempt budget again: the ``max_attempts`` it was created with.

Before, a retry granted the worker's budget whatever the task was created with: a task created
with ``max_attempts=1`` showed 2/3 attempts after a retry, then 4/5 after "retry all failed". The
attempt counter keeps counting (the claim matches it, RQ's job ids carry it); the allowance grows
by the task's own budget, and the task's message says what was granted. Every database.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from stask import Status, Task
from tests.support.api import ADMIN
from tests.support.apps import run_worker
from tests.support.tasks import fresh, run_until_final

ONE_MORE = "Retried by hand: 1 more attempt (its own budget)"


def failed_once(app: Flask, stask: Any) -> Any:
    """A task created with ``max_attempts=1`` (its worker allows 3) that failed its one attempt."""
    task = stask.create("flaky", "run", data={"fail_times": 99}, max_attempts=1)
    run_worker(app)
    row = fresh(stask, task.id)
    assert (row.status, row.attempts, row.max_attempts) == (Status.FAILED, 1, 1)
    return row


def attempts_of(stask: Any, task_id: int) -> tuple[int, int, int]:
    row = fresh(stask, task_id)
    return row.status, row.attempts, row.max_attempts


def test_a_retry_grants_the_budget_the_task_was_created_with(app: Flask, stask: Any) -> None:
    task = failed_once(app, stask)
    retried = stask.retry(task.id)
    assert (retried.status, retried.attempts, retried.max_attempts) == (Status.QUEUED, 1, 2)
    assert retried.message == ONE_MORE
    run_worker(app)
    assert attempts_of(stask, task.id) == (Status.FAILED, 2, 2)  # 2/2, not 2/3


def test_retry_all_failed_grants_each_its_own_budget_again_and_again(app: Flask, stask: Any) -> None:
    task = failed_once(app, stask)
    for round_ in (2, 3):
        retried, skipped, more = stask.service.tasks.retry_failed(100)
        assert (retried, skipped, more) == ([task.id], [], False)
        assert fresh(stask, task.id).message == ONE_MORE
        run_worker(app)
        assert attempts_of(stask, task.id) == (Status.FAILED, round_, round_)  # 3/3 after two, never 4/5


def test_a_task_created_with_three_attempts_gets_three_more(app: Flask, stask: Any) -> None:
    task = stask.create("flaky", "run", data={"fail_times": 99}, max_attempts=3)
    assert attempts_of(stask, task.id) == (Status.QUEUED, 0, 3)
    run_until_final(app, stask, task.id)
    assert attempts_of(stask, task.id) == (Status.FAILED, 3, 3)
    retried = stask.retry(task.id)
    assert (retried.attempts, retried.max_attempts) == (3, 6)
    assert retried.message == "Retried by hand: 3 more attempts (its own budget)"


def test_a_cancelled_task_and_a_workers_default_budget(app: Flask, stask: Any) -> None:
    """No max_attempts given: the budget is the worker's (flaky: 3), kept from creation."""
    task = stask.create("flaky", "run", data={"fail_times": 99})
    stask.cancel(task.id)
    retried = stask.retry(task.id)
    assert (retried.status, retried.attempts, retried.max_attempts) == (Status.QUEUED, 0, 3)
    assert retried.message == "Retried by hand: 3 more attempts (its own budget)"


def test_a_group_retry_grants_each_member_its_own_budget(app: Flask, stask: Any) -> None:
    group = stask.group(
        [
            {"identifier": "flaky", "action": "run", "data": {"fail_times": 99}, "max_attempts": 1},
            {"identifier": "flaky", "action": "run", "data": {"fail_times": 99}, "max_attempts": 2},
        ],
        name="budgets",
    )
    member_ids = sorted(stask.db.session.scalars(sa.select(Task.id).where(Task.group_id == group.id)))
    for member in member_ids:
        run_until_final(app, stask, member)
    assert [attempts_of(stask, m) for m in member_ids] == [(Status.FAILED, 1, 1), (Status.FAILED, 2, 2)]
    assert sorted(stask.service.workflows.retry_failed(group.id)) == member_ids
    assert [attempts_of(stask, m)[1:] for m in member_ids] == [(1, 2), (2, 4)]


def test_a_row_older_than_the_budget_column_falls_back_to_the_workers_budget(app: Flask, stask: Any) -> None:
    task = failed_once(app, stask)
    stask.db.session.execute(sa.update(Task).where(Task.id == task.id).values(attempt_budget=None))
    stask.db.session.commit()
    retried = stask.retry(task.id)
    assert (retried.attempts, retried.max_attempts) == (1, 1 + 3)
    assert retried.message == "Retried by hand: 3 more attempts (the worker's budget)"


def test_the_api_and_the_cli_say_what_a_retry_granted(make_api_app: Any) -> None:
    app = make_api_app()
    stask = app.extensions["stask"]
    with app.app_context():
        first, second = failed_once(app, stask).id, failed_once(app, stask).id
        stask.db.session.remove()
    body = app.test_client().post(f"/stask/api/tasks/{first}/retry", headers=ADMIN).get_json()
    assert (body["task"]["attempts"], body["task"]["max_attempts"], body["task"]["message"]) == (1, 2, ONE_MORE)
    result = app.test_cli_runner().invoke(args=["stask", "retry", str(second)])
    assert result.exit_code == 0, result.output
    assert result.output == f"task {second} queued again: {ONE_MORE}\n"
