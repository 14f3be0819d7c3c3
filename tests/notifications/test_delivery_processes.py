"""Deliveries through real channels and real worker processes: exactly one per event whatever
the number of processes, e-mail to a real SMTP server, and the development outbox."""

from __future__ import annotations

import json
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from stask import Status
from tests.notifications.events import add_rule, deliveries
from tests.support.apps import run_worker
from tests.support.receivers import SmtpReceiver, WebhookReceiver
from tests.support.tasks import task_status
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop

TASKS = 40


def test_exactly_one_delivery_per_event_under_four_worker_processes(
    app: Flask, stask: Any, webhook_receiver: WebhookReceiver
) -> None:
    add_rule(stask, identifier="echo", events=["finished"], url=webhook_receiver.url(), secret="k")
    created = stask.create_many([{"identifier": "echo", "action": "say"} for _ in range(TASKS)])
    processes = [spawn_worker(app, env={"STASK_WEBHOOK_ALLOW_PRIVATE": "true"}) for _ in range(4)]
    try:
        wait_for(
            lambda: len([d for d in deliveries(stask) if d.status == "delivered"]) == TASKS,
            timeout=90,
            interval=0.3,
            what=f"{TASKS} deliveries",
        )
        wait_for(lambda: len(webhook_receiver.requests) >= TASKS, timeout=10, what="the last requests")
    finally:
        for process in processes:
            stop(process)
    told = sorted(json.loads(r.body)["task"]["id"] for r in webhook_receiver.requests)
    assert told == sorted(task.id for task in created)  # each task once: none lost, none twice
    assert len(deliveries(stask)) == TASKS


@pytest.fixture
def mailing_app(make_app: Any, smtp_receiver: SmtpReceiver) -> Any:
    application = make_app(
        "sqlite",
        STASK_ALERT_SMTP_HOST="127.0.0.1",
        STASK_ALERT_SMTP_PORT=smtp_receiver.port,
        STASK_ALERT_EMAIL_FROM="stask@example.com",
    )
    with application.app_context():
        application.extensions["stask"].discover_workers()
        yield application


def test_an_email_rule_mails_the_event_in_its_language(mailing_app: Flask, smtp_receiver: SmtpReceiver) -> None:
    stask = mailing_app.extensions["stask"]
    add_rule(stask, channel="email", recipients=["ops@example.com"], events=["failed"], language="uk")
    task = stask.create("flaky", "give-up")
    run_worker(mailing_app)
    [delivery] = deliveries(stask)
    assert delivery.status == "delivered", delivery.error
    [received] = smtp_receiver.messages
    message = received.message
    assert message["To"] == "ops@example.com" and message["From"] == "stask@example.com"
    text = message.get_content()
    assert str(task.id) in message["Subject"] and "flaky" in text
    assert message["Subject"].isascii() is False  # Ukrainian, not the English default


def test_the_files_backend_writes_the_mail_to_the_outbox(make_app: Any) -> None:
    application = make_app("sqlite", STASK_EMAIL_BACKEND="files")
    with application.app_context():
        stask = application.extensions["stask"]
        stask.discover_workers()
        add_rule(stask, channel="email", recipients=["ops@example.com"], events=["finished"])
        stask.create("echo", "say")
        run_worker(application)
        [delivery] = deliveries(stask)
        assert delivery.status == "delivered", delivery.error
        [written] = list((Path(application.config["STASK_STORAGE"]) / "outbox").glob("*.eml"))
        message = message_from_bytes(written.read_bytes())
        assert message["To"] == "ops@example.com" and delivery.response_excerpt == str(written)


def test_a_rule_added_while_a_worker_process_runs_applies_within_a_second(
    app: Flask, stask: Any, webhook_receiver: WebhookReceiver
) -> None:
    process = spawn_worker(app, env={"STASK_WEBHOOK_ALLOW_PRIVATE": "true"})
    try:
        before = stask.create("echo", "say")
        wait_for(lambda: task_status(stask, before.id) == Status.FINISHED, timeout=30, what="the worker to serve")
        add_rule(stask, identifier="echo", events=["finished"], url=webhook_receiver.url())
        time.sleep(1.2)  # the process reads the rules' version key at most once a second
        after = stask.create("echo", "say")
        [request] = webhook_receiver.wait_for(1, timeout=30)
    finally:
        stop(process)
    assert json.loads(request.body)["task"]["id"] == after.id
