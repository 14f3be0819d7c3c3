"""What notifications say: the webhook body's exact shape (JSON and Slack), the e-mail's default
texts in the rule's language, and admins' templates rendered in a sandbox that refuses Python's
internals with a message instead of crashing the notifier."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask

from stask.notify.render import (
    EVENTS,
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    check_template,
    email_message,
    webhook_body,
)

TASK: dict[str, Any] = {
    "id": 42,
    "identifier": "csv_export",
    "action": "export",
    "status": 100,
    "status_text": "failed",
    "message": None,
    "error": "disk <full> & more\nsecond line",
    "attempts": 3,
    "max_attempts": 3,
    "data": {"path": "naïve.csv"},
    "created_at": "2026-11-30T10:00:00Z",
    "started_at": "2026-11-30T10:00:01Z",
    "finished_at": "2026-11-30T10:00:05Z",
}
GROUP = {"id": 7, "name": "nightly", "status": "finished", "total": 3, "ended_at": "2026-11-30T11:00:00Z"}
SCHEDULE = {
    "id": 9,
    "name": "hourly report",
    "identifier": "csv_export",
    "action": "export",
    "last_skip_reason": "misfire",
    "next_run_at": "2026-11-30T12:00:00Z",
}
SENT_AT = datetime(2026, 11, 30, 10, 0, 6)


def render(template: str, **objects: Any) -> str:
    return email_message(
        "failed", objects or {"task": TASK}, language=None, subject_template=None, body_template=template
    )[1]


# -- webhook bodies ---------------------------------------------------------------------------------
def test_the_json_body_is_exactly_event_task_and_sent_at_compact_utf8() -> None:
    body = webhook_body("failed", {"task": TASK}, SENT_AT)

    expected = {"event": "failed", "task": TASK, "sent_at": "2026-11-30T10:00:06Z"}
    assert body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert list(json.loads(body)) == ["event", "task", "sent_at"]
    assert "naïve".encode() in body


def test_the_json_body_carries_the_group_or_the_schedule() -> None:
    grouped = json.loads(webhook_body("group_finished", {"task": TASK, "group": GROUP}, SENT_AT))
    assert grouped == {"event": "group_finished", "task": TASK, "group": GROUP, "sent_at": "2026-11-30T10:00:06Z"}
    missed = json.loads(webhook_body("schedule_missed", {"schedule": SCHEDULE}, SENT_AT))
    assert missed == {"event": "schedule_missed", "task": None, "schedule": SCHEDULE, "sent_at": "2026-11-30T10:00:06Z"}


def test_sent_at_is_written_in_utc() -> None:
    kyiv = timezone(timedelta(hours=2))
    body = json.loads(webhook_body("finished", {"task": TASK}, datetime(2026, 11, 30, 12, 0, 6, tzinfo=kyiv)))
    assert body["sent_at"] == "2026-11-30T10:00:06Z"


@pytest.mark.parametrize(
    ("event", "objects", "options", "reason"),
    [
        ("exploded", {"task": TASK}, {}, "unknown event"),
        ("failed", {"task": TASK, "user": {}}, {}, "unknown objects"),
        ("failed", {"task": TASK}, {"format": "xml"}, "unknown webhook format"),
    ],
)
def test_webhook_body_refuses_what_it_does_not_know(
    event: str, objects: dict[str, Any], options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        webhook_body(event, objects, SENT_AT, **options)


def test_the_slack_body_has_a_one_line_text_and_escaped_blocks() -> None:
    body = json.loads(webhook_body("failed", {"task": TASK}, SENT_AT, format="slack"))

    assert set(body) == {"text", "blocks"}
    assert body["text"] == "stask: Task #42 csv_export.export failed: disk <full> & more second line"
    assert "\n" not in body["text"]
    headline, detail = body["blocks"]
    assert headline == {"type": "section", "text": {"type": "mrkdwn", "text": "*Task #42 csv_export.export failed*"}}
    assert detail["text"]["text"] == "> disk &lt;full&gt; &amp; more\n> second line"


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_has_a_slack_text(event: str) -> None:
    objects = {"task": TASK, "group": GROUP} if event == "group_finished" else {"task": TASK}
    if event == "schedule_missed":
        objects = {"schedule": SCHEDULE}
    text = json.loads(webhook_body(event, objects, SENT_AT, format="slack"))["text"]
    assert text.startswith("stask: ") and "?" not in text


# -- e-mail defaults ----------------------------------------------------------------------------------
def test_the_default_email_in_english() -> None:
    subject, body = email_message("failed", {"task": TASK}, language=None, subject_template=None, body_template=None)

    assert subject == "[stask] Task #42 csv_export.export failed"
    assert body.startswith("Task #42 csv_export.export failed.\n\n")
    for line in ("Worker: csv_export", "Action: export", "Attempts: 3 of 3", "Ended at: 2026-11-30T10:00:05Z"):
        assert line in body.splitlines()
    assert "Error: disk <full> & more" in body  # plain text: nothing escaped


def test_the_default_email_of_a_missed_schedule() -> None:
    subject, body = email_message(
        "schedule_missed", {"schedule": SCHEDULE}, language=None, subject_template=None, body_template=None
    )
    assert subject == "[stask] Schedule #9 hourly report missed a run"
    assert "Reason: misfire" in body.splitlines() and "Worker: csv_export" in body.splitlines()


def test_the_default_email_in_ukrainian_without_an_app() -> None:
    subject, body = email_message("failed", {"task": TASK}, language="uk", subject_template=None, body_template=None)

    assert subject == "[stask] Завдання #42 csv_export.export завершилося невдачею"
    assert "Спроби: 3 з 3" in body.splitlines() and "Обробник: csv_export" in body.splitlines()


def test_the_default_email_follows_the_language_inside_an_app(make_app: Any) -> None:
    for config in ({}, {"STASK_WEB": False}):  # with Flask-Babel (the panel's), and a worker-only app without it
        app: Flask = make_app(**config)
        with app.app_context():
            uk = email_message("retrying", {"task": TASK}, language="uk", subject_template=None, body_template=None)
            de = email_message("retrying", {"task": TASK}, language="de", subject_template=None, body_template=None)
            en = email_message("retrying", {"task": TASK}, language=None, subject_template=None, body_template=None)
        assert uk[0] == "[stask] Завдання #42 csv_export.export завершилося невдачею і буде повторене", config
        assert de[0] == "[stask] Aufgabe #42 csv_export.export fehlgeschlagen, sie wird erneut versucht", config
        assert en[0] == "[stask] Task #42 csv_export.export failed and will be retried", config


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        email_message("failed", {"task": TASK}, language="xx-!!", subject_template=None, body_template=None)


# -- templates ----------------------------------------------------------------------------------------
def test_templates_see_the_event_and_its_objects_as_plain_text() -> None:
    subject, body = email_message(
        "failed",
        {"task": TASK},
        language="uk",
        subject_template="{{ event|upper }}: {{ task.identifier }}\r\n#{{ task.id }}",
        body_template="{{ event_text }} / {{ task.error }} / {{ task.message }} / {{ group.name }} / "
        "{{ task.data.path }}",
    )
    assert subject == "FAILED: csv_export #42"
    assert body == (
        "Завдання #42 csv_export.export завершилося невдачею / disk <full> & more\nsecond line /  /  / naïve.csv"
    )


def test_a_subject_template_that_renders_nothing_falls_back_to_the_default() -> None:
    subject, _ = email_message(
        "failed", {"task": TASK}, language=None, subject_template="{{ task.nothing }}\n ", body_template=None
    )
    assert subject == "[stask] Task #42 csv_export.export failed"


def test_a_long_subject_is_cut() -> None:
    subject, _ = email_message(
        "failed", {"task": TASK}, language=None, subject_template="{{ 'x' * 500 }}", body_template=None
    )
    assert subject == "x" * 200


@pytest.mark.parametrize(
    "template",
    [
        "{{ task.__class__ }}",
        "{{ task.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ event_text.__len__() }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ task.update({'id': 1}) }}",
        "{{ task.data.clear() }}",
    ],
)
def test_the_sandbox_refuses_internals_and_changes_with_a_message(template: str) -> None:
    with pytest.raises(ValueError, match=r"\Athe body template failed: .*not allowed"):
        render(template)
    assert TASK["id"] == 42 and TASK["data"] == {"path": "naïve.csv"}


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 1000000000 }}",
        "{{ 10 ** (10 ** 10) }}",
        "{{ 'a'|center(1000000000) }}",
        "{{ 'a'.ljust(1000000000) }}",
        "{{ '%999999999s' % 1 }}",
        "{{ '%999999999s'|format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{% for i in range(100000) %}{{ i }}{% endfor %}",
    ],
)
def test_huge_output_is_refused_quickly(template: str) -> None:
    started = time.monotonic()
    check_template(template)  # compiles (constants are not folded into a huge value)
    with pytest.raises(ValueError, match=r"\Athe body template (failed|wrote more than)"):
        render(template)
    assert time.monotonic() - started < 2


def test_a_template_error_at_render_is_a_message() -> None:
    with pytest.raises(ValueError, match="the body template failed: division by zero"):
        render("{{ 1 / 0 }}")
    with pytest.raises(ValueError, match="the subject template does not compile: line 1"):
        email_message("failed", {"task": TASK}, language=None, subject_template="{{ x", body_template=None)


def test_output_up_to_the_cap_renders() -> None:
    assert len(render(f"{{{{ 'x' * {MAX_OUTPUT_CHARS} }}}}")) == MAX_OUTPUT_CHARS


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Hello {{ task.id", r"\Aline 1: unexpected end of template"),
        ("ok\n{% if %}", r"\Aline 2: "),
        ("{% for x in y %}", r"\Aline 1: .*endfor"),
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "too long"),
        ("x" * (MAX_TEMPLATE_CHARS + 1), "too long"),
        (5, "must be text"),
    ],
)
def test_check_template_refusals(text: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        check_template(text)
    assert "\n" not in str(refused.value)  # one line, for a form or a CLI message


def test_check_template_reports_a_too_deep_template() -> None:
    with pytest.raises(ValueError, match="does not compile"):
        check_template("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}")


def test_check_template_accepts_a_good_template() -> None:
    text = "{{ event_text }}\n{% if task.error %}Error: {{ task.error }}{% endif %}"
    assert check_template(text) == text
