"""``notify=[...]`` of a single task: the shorthands (an address, a URL), rule objects without a name,
worker or action, refusals naming the item, and the rows stored in the caller's transaction."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from stask.exceptions import InvalidField
from stask.models import Notification
from tests.support.queries import Statements


def parse(app: Flask, value: Any) -> list[dict[str, Any]]:
    return app.extensions["stask"].service.notifications.parse_task_notify(value)  # type: ignore[no-any-return]


def test_shorthands_and_objects(sqlite_app: Flask) -> None:
    mail, hook, custom, explicit = parse(
        sqlite_app,
        [
            "ops@example.com",
            "https://hooks.example.com/t",
            {"url": "https://hooks.example.com/s", "events": ["stuck", "retrying"], "secret": "k", "format": "slack"},
            {"channel": "email", "to": ["a@example.com"], "subject": "{{ event }}", "language": "fr"},
        ],
    )
    assert (mail["channel"], mail["recipients"], mail["events"], mail["enabled"]) == (
        "email",
        ["ops@example.com"],
        ["finished", "failed"],
        True,
    )
    assert (hook["channel"], hook["url"], hook["format"], hook["secret"]) == (
        "webhook",
        "https://hooks.example.com/t",
        "json",
        None,
    )
    assert (custom["events"], custom["secret"], custom["format"]) == (["stuck", "retrying"], "k", "slack")
    assert (explicit["subject_template"], explicit["language"]) == ("{{ event }}", "fr")
    for rule in (mail, hook, custom, explicit):
        assert rule["name"] is None and rule["identifier"] is None and rule["action"] is None
    assert parse(sqlite_app, None) == [] and parse(sqlite_app, []) == []


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("ops@example.com", "notify must be a list"),
        ({"to": ["a@example.com"]}, "notify must be a list"),
        (["a@example.com"] * 11, "at most 10"),
        ([5], "notify[0]: give an e-mail address"),
        (["a@example.com", "nonsense"], "notify[1]: give an e-mail address"),
        (["not an@address"], "notify[0]: to: "),
        (["ftp://example.com/x"], "notify[0]: give an e-mail address"),
        (["http://127.0.0.1/hook"], "notify[0]: url: "),
        ([{"name": "mine", "to": ["a@example.com"]}], "notify[0]: name: unknown"),
        ([{"identifier": "echo", "to": ["a@example.com"]}], "notify[0]: identifier: unknown"),
        ([{"action": "say", "to": ["a@example.com"]}], "notify[0]: action: unknown"),
        ([{"to": ["a@example.com"], "events": ["group_finished"]}], "notify[0]: events: "),
        ([{"to": ["a@example.com"], "events": ["schedule_missed"]}], "notify[0]: events: "),
        ([{"to": ["a@example.com"], "url": "https://example.com/"}], "notify[0]: channel: "),
        ([{"to": ["a@example.com"], "secret": "x"}], "notify[0]: secret: only webhook rules"),
        ([{"channel": "webhook"}], "notify[0]: url: "),
        ([{"task_id": 3, "to": ["a@example.com"]}], "notify[0]: task_id: unknown"),
    ],
)
def test_refusals_name_the_item_and_the_field(sqlite_app: Flask, value: Any, needle: str) -> None:
    with pytest.raises(InvalidField) as refused:
        parse(sqlite_app, value)
    assert refused.value.field == "notify"
    assert needle in str(refused.value), str(refused.value)


def test_rules_are_inserted_in_the_callers_transaction(app: Flask) -> None:
    service = app.extensions["stask"].service.notifications
    db = app.extensions["stask"].db
    parsed = service.parse_task_notify(["a@example.com", "https://example.com/h", {"to": ["b@example.com"]}])
    db.session.commit()
    with Statements(app) as counted:
        service.insert_for_task(77, parsed, "api")
    assert counted.count == 1, counted.statements  # one INSERT, however many rules
    db.session.rollback()  # the caller's transaction fails: its rules go with it
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
    service.insert_for_task(77, parsed, "api")
    service.insert_for_task(78, parsed[:1], None)
    db.session.commit()
    rows = db.session.execute(
        sa.select(Notification.name, Notification.task_id, Notification.channel, Notification.created_by).order_by(
            Notification.id
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        ("task 77 #1", 77, "email", "api"),
        ("task 77 #2", 77, "webhook", "api"),
        ("task 77 #3", 77, "email", "api"),
        ("task 78 #1", 78, "email", None),
    ]
    service.insert_for_task(79, [], "api")  # nothing to store: no statement
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 4


def test_a_rule_name_of_the_tasks_form_is_kept_for_them(sqlite_app: Flask) -> None:
    service = sqlite_app.extensions["stask"].service.notifications
    rule = {"events": ["failed"], "channel": "email", "to": ["a@example.com"]}
    for name in ("task 1 #1", " task 12 #3 "):
        with pytest.raises(InvalidField) as refused:
            service.create({**rule, "name": name})
        assert refused.value.field == "name"
    assert service.create({**rule, "name": "task 1"}).name == "task 1"
