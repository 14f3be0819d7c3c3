"""``flask stask notifications …`` and ``flask stask deliveries …``: output, ``--json``, one-line
refusals with nothing stored, the secret never printed, audit rows. On every database."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask.models import AuditEntry, Notification
from tests.notifications.rules_support import (
    DELIVERY_FIELDS,
    add_delivery,
    count,
    task_rules,
)
from tests.support.receivers import Answer, WebhookReceiver

SECRET = "cli-secret-value"


@pytest.fixture
def cli(app: Flask) -> Any:
    runner = app.test_cli_runner()

    def invoke(*args: str) -> Any:
        return runner.invoke(args=["stask", *args])

    return invoke


def actions(app: Flask) -> list[str]:
    db = app.extensions["stask"].db
    db.session.commit()  # a fresh snapshot: the audit rows are written on connections of their own
    found = list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    db.session.commit()
    return found


def assert_refused(result: Any, needle: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.output
    assert "Traceback" not in result.output


def test_create_list_and_delete(cli: Any, app: Flask) -> None:
    mail = cli("notifications", "create", "--name", "mail", "--channel", "email", "--event", "failed")
    assert_refused(mail, "to: ")  # an e-mail rule needs recipients
    mail = cli(
        "notifications", "create", "--name", "mail", "--channel", "email", "--event", "failed", "--event", "stuck",
        "--to", "a@example.com", "--to", "b@example.com", "--identifier", "echo", "--language", "de",
    )  # fmt: skip
    assert mail.exit_code == 0, mail.output
    mail_id = int(mail.output.strip())
    hook = cli(
        "notifications", "create", "--name", "hook", "--channel", "webhook", "--event", "finished",
        "--url", "https://example.com/h", "--secret", SECRET, "--header", "X-Team: ops", "--format", "slack",
        "--disabled", "--json",
    )  # fmt: skip
    assert hook.exit_code == 0, hook.output
    stored = json.loads(hook.output)
    assert (stored["secret"], stored["secret_set"], stored["headers"], stored["enabled"]) == (
        None,
        True,
        {"X-Team": "ops"},
        False,
    )
    assert stored["created_by"] == "cli" and SECRET not in hook.output
    listing = cli("notifications", "list")
    assert listing.exit_code == 0 and SECRET not in listing.output
    lines = listing.output.splitlines()
    assert lines[0].split()[:3] == ["id", "name", "worker.action"]
    assert "hook" in lines[1] and "slack https://example.com/h" in lines[1] and " off " in lines[1]
    assert "mail" in lines[2] and "echo.*" in lines[2] and "a@example.com, b@example.com" in lines[2]
    as_json = json.loads(cli("notifications", "list", "--channel", "email", "--json").output)
    assert [rule["id"] for rule in as_json] == [mail_id] and SECRET not in str(as_json)
    assert json.loads(cli("notifications", "list", "--identifier", "echo", "--json").output)[0]["id"] == mail_id
    deleted = cli("notifications", "delete", str(mail_id))
    assert deleted.output.strip() == f"notification rule {mail_id} deleted"
    assert count(app, Notification) == 1
    assert actions(app) == ["notification.create", "notification.create", "notification.delete"]


def test_a_tasks_rules_are_listed_by_task(cli: Any, app: Flask) -> None:
    task_rules(app, 31, ["someone@example.com"])
    assert json.loads(cli("notifications", "list", "--json").output) == []
    [rule] = json.loads(cli("notifications", "list", "--task-id", "31", "--json").output)
    assert (rule["name"], rule["task_id"]) == ("task 31 #1", 31)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--channel", "email", "--event", "failed", "--to", "nobody"), "to: "),
        (("--channel", "email", "--event", "exploded", "--to", "a@example.com"), "events: "),
        (("--channel", "email", "--event", "failed", "--to", "a@example.com", "--identifier", "ghost"), "identifier"),
        (("--channel", "email", "--event", "failed", "--to", "a@example.com", "--url", "https://x.example"), "url: "),
        (("--channel", "webhook", "--event", "failed", "--url", "http://127.0.0.1/"), "url: "),
        (("--channel", "webhook", "--event", "failed", "--url", "https://x.example", "--header", "nocolon"), "header"),
        (("--channel", "webhook", "--event", "failed", "--url", "https://x.example", "--header", "Host: x"), "headers"),
        (("--channel", "fax", "--event", "failed"), "channel"),
    ],
)
def test_bad_options_are_one_line_refusals_and_store_nothing(
    cli: Any, app: Flask, args: tuple[str, ...], needle: str
) -> None:
    result = cli("notifications", "create", "--name", "bad", *args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert needle in result.output, result.output
    assert count(app, Notification) == 0 and actions(app) == []


def test_unknown_ids_and_bad_filters(cli: Any) -> None:
    assert_refused(cli("notifications", "delete", "999"), "no notification rule 999")
    assert_refused(cli("notifications", "test", "999"), "no notification rule 999")
    assert_refused(cli("deliveries", "redeliver", "999"), "no delivery 999")
    assert_refused(cli("notifications", "list", "--task-id", "0"), "task_id")
    assert_refused(cli("notifications", "list", "--identifier", "Not Valid"), "identifier")
    assert_refused(cli("deliveries", "list", "--notification-id", "-3"), "notification_id")


def test_the_delivery_log(cli: Any, app: Flask) -> None:
    rule = cli(
        "notifications", "create", "--name", "hook", "--channel", "webhook", "--event", "failed",
        "--url", "https://example.com/h",
    )  # fmt: skip
    rule_id = int(rule.output.strip())
    old = add_delivery(app, rule_id, minutes_ago=9, status="failed", response_code=503, error="receiver down")
    new = add_delivery(app, rule_id, minutes_ago=1, task_id=12)
    # The commands run in this test's app context: end its read, so that rows written beside it are
    # seen (MariaDB's repeatable read keeps the snapshot of a transaction's first read).
    app.extensions["stask"].db.session.commit()
    listing = cli("deliveries", "list")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[1].split()[0] == str(new) and lines[2].split()[0] == str(old)
    assert "failed" in lines[2] and "503" in lines[2] and "receiver down" in lines[2]
    failed = json.loads(cli("deliveries", "list", "--status", "failed", "--json").output)
    assert [item["id"] for item in failed] == [old] and set(failed[0]) == DELIVERY_FIELDS
    assert [d["id"] for d in json.loads(cli("deliveries", "list", "--task-id", "12", "--json").output)] == [new]
    assert [d["id"] for d in json.loads(cli("deliveries", "list", "--limit", "1", "--json").output)] == [new]


def test_send_a_test(make_app: Any, backend: str) -> None:
    app = make_app(backend, discover=True, STASK_WEBHOOK_ALLOW_PRIVATE=True)
    runner = app.test_cli_runner()
    with WebhookReceiver(Answer(200, b"fine"), Answer(500, b"broken")) as receiver:
        created = runner.invoke(
            args=["stask", "notifications", "create", "--name", "h", "--channel", "webhook", "--event", "failed",
                  "--url", receiver.url(), "--secret", SECRET]
        )  # fmt: skip
        rule_id = created.output.strip()
        good = runner.invoke(args=["stask", "notifications", "test", rule_id])
        assert good.exit_code == 0 and good.output.strip() == "ok 200: fine", good.output
        bad = runner.invoke(args=["stask", "notifications", "test", rule_id])
        assert_refused(bad, "test failed (500)")
        assert "broken" in bad.output and SECRET not in bad.output


def test_redeliver(cli: Any, app: Flask) -> None:
    rule = cli(
        "notifications", "create", "--name", "hook", "--channel", "webhook", "--event", "failed",
        "--url", "https://example.com/h",
    )  # fmt: skip
    delivery_id = add_delivery(app, int(rule.output.strip()), status="failed")
    app.extensions["stask"].db.session.commit()  # see test_the_delivery_log
    result = cli("deliveries", "redeliver", str(delivery_id))
    assert result.exit_code == 0 and result.output.startswith(f"delivery {delivery_id} queued again"), result.output
    assert actions(app)[-1] == "delivery.redeliver"
