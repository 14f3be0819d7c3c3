"""Which task events become deliveries: each told once per rule, in the transaction that records
it, and nothing at all for a task no rule matches."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from stask import Status
from stask.models import Task, utcnow
from stask.monitoring.event_watch import watch_events
from stask.notify.signing import verify
from tests.notifications.events import add_rule, deliveries, notifier_tasks
from tests.support.apps import run_worker
from tests.support.queries import created_and_run
from tests.support.receivers import WebhookReceiver
from tests.support.tasks import fresh

pytestmark = pytest.mark.app_config(STASK_WEBHOOK_ALLOW_PRIVATE=True)


def test_a_finished_task_is_delivered_once_signed_with_the_api_task_object(
    app: Flask, stask: Any, webhook_receiver: WebhookReceiver
) -> None:
    add_rule(stask, identifier="echo", events=["finished"], url=webhook_receiver.url(), secret="s3cret")
    task = stask.create("echo", "say", data={"steps": 2})
    run_worker(app)
    [delivery] = deliveries(stask)
    assert (delivery.event, delivery.subject, delivery.task_id) == ("finished", f"task:{task.id}", task.id)
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.response_code == 200
    assert delivery.payload["task"]["status"] == int(Status.FINISHED)
    [request] = webhook_receiver.wait_for(1)
    body = json.loads(request.body)
    assert set(body) == {"event", "task", "sent_at"}
    assert body["event"] == "finished" and body["task"]["id"] == task.id and body["task"]["status_text"] == "finished"
    assert request.header("X-Stask-Event") == "finished"
    assert verify("s3cret", request.headers, request.body)
    [job] = notifier_tasks(stask)
    assert job.id == delivery.job_task_id and job.priority == "low" and job.status == Status.FINISHED


def test_a_task_no_rule_matches_records_nothing(app: Flask, stask: Any, webhook_receiver: WebhookReceiver) -> None:
    add_rule(stask, identifier="echo", action="noop", events=["finished"], url=webhook_receiver.url())
    add_rule(stask, "other worker", identifier="slow", events=["finished"], url=webhook_receiver.url())
    add_rule(stask, "disabled", enabled=False, events=["finished"], url=webhook_receiver.url())
    stask.create("echo", "say")
    run_worker(app)
    assert deliveries(stask) == [] and notifier_tasks(stask) == []


def test_failed_is_told_after_the_last_attempt_and_retrying_after_each_earlier_one(
    app: Flask, stask: Any, webhook_receiver: WebhookReceiver
) -> None:
    add_rule(stask, identifier="flaky", events=["failed", "retrying", "finished"], url=webhook_receiver.url())
    task = stask.create("flaky", "run", data={"fail_times": 5}, max_attempts=3)
    from tests.support.tasks import run_until_final

    run_until_final(app, stask, task.id)
    run_worker(app)
    told = [(d.event, d.subject) for d in deliveries(stask)]
    assert told == [
        ("retrying", f"task:{task.id}:attempt:1"),
        ("retrying", f"task:{task.id}:attempt:2"),
        ("failed", f"task:{task.id}"),
    ]
    failed = deliveries(stask, event="failed")[0]
    assert failed.payload["task"]["status"] == int(Status.FAILED) and failed.payload["task"]["attempts"] == 3


def test_a_cancelled_queued_task_is_told(app: Flask, stask: Any, webhook_receiver: WebhookReceiver) -> None:
    add_rule(stask, events=["cancelled"], url=webhook_receiver.url())
    task = stask.create("echo", "say", start_at=(utcnow() + timedelta(hours=1)).isoformat() + "Z")
    stask.cancel(task.id)
    [delivery] = deliveries(stask)
    assert (delivery.event, delivery.task_id) == ("cancelled", task.id)
    assert delivery.payload["task"]["status"] == int(Status.CANCELLED)


def test_the_notifiers_own_tasks_never_notify(app: Flask, stask: Any, webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.answer()
    add_rule(stask, events=["finished", "failed", "retrying", "cancelled"], url=webhook_receiver.url())
    task = stask.create("echo", "say")
    run_worker(app, max_jobs=10)  # bounded: a notifier that notified about itself would never stop
    assert [d.task_id for d in deliveries(stask)] == [task.id]
    assert [t.status for t in notifier_tasks(stask)] == [Status.FINISHED]


def test_a_group_end_is_told_once_with_the_group(app: Flask, stask: Any, webhook_receiver: WebhookReceiver) -> None:
    add_rule(stask, events=["group_finished"], url=webhook_receiver.url())
    group = stask.group([{"identifier": "echo", "action": "say"}] * 3, name="three")
    run_worker(app)
    [delivery] = deliveries(stask)
    assert (delivery.event, delivery.subject, delivery.group_id) == ("group_finished", f"group:{group.id}", group.id)
    body = json.loads(webhook_receiver.wait_for(1)[0].body)
    assert body["group"]["status"] == "finished" and body["group"]["total"] == 3 and body["task"] is None


def test_a_stuck_task_is_told_once_per_attempt(app: Flask, stask: Any, webhook_receiver: WebhookReceiver) -> None:
    add_rule(stask, events=["stuck"], url=webhook_receiver.url())
    now = utcnow()
    stuck = Task(
        identifier="echo",
        action="say",
        status=int(Status.RUNNING),
        priority="normal",
        attempts=1,
        max_attempts=1,
        created_at=now - timedelta(hours=1),
        started_at=now - timedelta(hours=1),
    )
    stask.db.session.add(stuck)
    stask.db.session.commit()
    assert watch_events(app) == 1
    assert watch_events(app) == 0  # the same attempt is not told twice
    [delivery] = deliveries(stask)
    assert (delivery.event, delivery.subject) == ("stuck", f"task:{stuck.id}:attempt:1:stuck")


def test_watching_costs_nothing_when_no_rule_listens(app: Flask, stask: Any, count_queries: Any) -> None:
    add_rule(stask, events=["finished"], url="http://127.0.0.1:9/")
    stask.service.deliveries.rules.rules()  # loaded once per process
    count_queries.statements.clear()
    assert watch_events(app) == 0
    assert count_queries.count == 0, count_queries.statements


def test_a_missed_schedule_slot_is_told_once(app: Flask, stask: Any, webhook_receiver: WebhookReceiver) -> None:
    add_rule(stask, identifier="echo", events=["schedule_missed"], url=webhook_receiver.url())
    schedule = stask.service.schedules.create({"name": "late", "identifier": "echo", "action": "say", "interval": 60})
    from stask.models import StoredSchedule

    row = stask.db.session.get(StoredSchedule, schedule.id)
    row.next_run_at = utcnow() - timedelta(hours=2)
    stask.db.session.commit()
    assert watch_events(app) == 1
    assert watch_events(app) == 0
    [delivery] = deliveries(stask)
    assert delivery.event == "schedule_missed" and delivery.schedule_id == schedule.id
    assert delivery.payload["schedule"]["id"] == schedule.id and delivery.payload["task"] is None
    run_worker(app)
    assert deliveries(stask)[0].status == "delivered"
    body = json.loads(webhook_receiver.wait_for(1)[0].body)
    assert body["event"] == "schedule_missed" and body["schedule"]["name"] == "late" and body["task"] is None


def test_statements_per_task_are_unchanged_when_rules_exist_for_other_tasks(
    app: Flask, stask: Any, count_queries: Any
) -> None:
    from stask.engine.processes import build_worker

    add_rule(stask, identifier="slow", events=["finished"], url="http://127.0.0.1:9/")
    worker = build_worker(app, kind="simple")
    worker.maintenance_interval = 3600
    worker.run_maintenance_tasks()
    stask.resolve_worker("echo")
    count_queries.statements.clear()
    for _ in range(4):
        stask.create("echo", "say")
    worker.work(burst=True, logging_level="WARNING")
    assert count_queries.count == created_and_run(app, 4), count_queries.statements


def test_a_redelivery_sends_again_and_keeps_the_count(
    app: Flask, stask: Any, webhook_receiver: WebhookReceiver
) -> None:
    add_rule(stask, events=["finished"], url=webhook_receiver.url())
    stask.create("echo", "say")
    run_worker(app)
    [delivery] = deliveries(stask)
    first_job = delivery.job_task_id
    stask.service.deliveries.redeliver(delivery.id)
    run_worker(app)
    [again] = deliveries(stask)
    assert again.attempts == 2 and again.status == "delivered" and again.job_task_id != first_job
    assert len(webhook_receiver.wait_for(2)) == 2


def test_a_failing_receiver_is_retried_until_it_answers(app: Flask, stask: Any) -> None:
    from tests.support.receivers import Answer
    from tests.support.tasks import run_until_final

    with WebhookReceiver(Answer(500, b"down for maintenance"), Answer(200, b"thanks")) as receiver:
        add_rule(stask, events=["finished"], url=receiver.url())
        stask.create("echo", "say")
        run_worker(app)
        [delivery] = deliveries(stask)
        run_until_final(app, stask, delivery.job_task_id)
        [delivery] = deliveries(stask)
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 2, 200)
        assert delivery.response_excerpt == "thanks"
        assert fresh(stask, delivery.job_task_id).attempts == 2
        assert len(receiver.requests) == 2


@pytest.mark.app_config(STASK_WEBHOOK_ALLOW_PRIVATE=False)
def test_a_private_address_is_refused_once_without_retries(
    app: Flask, stask: Any, webhook_receiver: WebhookReceiver
) -> None:
    add_rule(stask, events=["finished"], url=webhook_receiver.url())
    stask.create("echo", "say")
    run_worker(app)
    [delivery] = deliveries(stask)
    assert delivery.status == "failed" and delivery.attempts == 1 and delivery.response_code is None
    assert fresh(stask, delivery.job_task_id).status == Status.FAILED
    assert webhook_receiver.requests == []


@pytest.mark.parametrize(
    "event", ["finished", "failed", "retrying", "cancelled", "stuck", "group_finished", "schedule_missed"]
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_send_test_sends_a_sample_of_the_rules_first_event(
    app: Flask, stask: Any, webhook_receiver: WebhookReceiver, event: str
) -> None:
    rule = add_rule(stask, events=[event], url=webhook_receiver.url(), format="slack" if event == "stuck" else "json")
    response = stask.service.deliveries.send_test(rule)
    assert response.code == 200
    [request] = webhook_receiver.wait_for(1)
    assert request.header("X-Stask-Event") == event
    assert deliveries(stask) == []  # a test is not a delivery
