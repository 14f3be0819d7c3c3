"""The task list and a task's live fragments as HTML (no browser): one #task-table per answer,
the filter form keeping schedule_id and group_id, "scheduled" tasks and how often they are polled,
and progress counts shown once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.enums import Status
from stask.models import Task, utcnow
from stask.web.panel_format import REARM_MAX_SECONDS, poll_trigger, states_counts
from tests.support.api import ADMIN, create, login

HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin(api_app: Flask) -> FlaskClient:
    client = api_app.test_client()
    login(client)
    return client


def set_status(app: Flask, task_id: int, status: Status) -> None:
    with app.app_context():
        session = app.extensions["stask"].db.session
        session.execute(sa.update(Task).where(Task.id == task_id).values(status=int(status)))
        session.commit()
        session.remove()


def trigger_of(html: str, element_id: str) -> str | None:
    """The hx-trigger of the element with this id (None: it is not polled)."""
    tag = re.search(rf'<div[^>]*id="{element_id}"[^>]*>', html, re.S)
    assert tag, f"no #{element_id} in the answer"
    found = re.search(r'hx-trigger="([^"]*)"', tag.group(0))
    return found.group(1) if found else None


# -- one #task-table -------------------------------------------------------------------------------
def test_an_htmx_answer_is_one_task_table_and_the_kept_values_out_of_band(api_app: Flask, admin: FlaskClient) -> None:
    for _ in range(3):
        create(api_app)
    answer = admin.get("/stask/tasks?status=10&sort=identifier&order=asc&group_id=4", headers=HTMX)
    assert answer.status_code == 200
    html = answer.text
    assert html.lstrip().startswith('<div id="task-table" class="panel">')  # swapped whole (outerHTML)
    assert html.count('id="task-table"') == 1
    keep = html[html.index('id="task-filter-keep"') - 5 :]
    assert 'hx-swap-oob="true"' in keep.split(">", 1)[0]
    assert 'name="sort" value="identifier"' in keep and 'name="order" value="asc"' in keep
    assert 'name="group_id" value="4"' in keep


def test_every_request_aimed_at_the_table_replaces_it(api_app: Flask, admin: FlaskClient) -> None:
    """Filters, sort links, pages and chips all swap #task-table whole: never one inside another."""
    with api_app.app_context():
        ext = api_app.extensions["stask"]
        ext.create_many([{"identifier": "echo", "action": "say"} for _ in range(55)])
        ext.db.session.remove()
    for html in (admin.get("/stask/tasks?schedule_id=9").text, admin.get("/stask/tasks", headers=HTMX).text):
        aimed = re.findall(r'<(?:a|form)\b[^>]*hx-target="#task-table"[^>]*>', html, re.S)
        assert aimed
        for tag in aimed:
            assert 'hx-swap="outerHTML"' in tag, tag
    page = admin.get("/stask/tasks").text
    assert page.count('id="task-table"') == 1
    assert re.search(r'href="[^"]*page=2[^"]*"[^>]*hx-swap="outerHTML"', page)  # there is a second page


# -- the filter form keeps schedule_id and group_id ------------------------------------------------
def test_the_filter_form_keeps_schedule_and_group_as_removable_chips(admin: FlaskClient) -> None:
    html = admin.get("/stask/tasks?schedule_id=3&group_id=5&sort=status&order=asc&status=failed").text
    form = html[html.index('<form class="filters"') : html.index("</form>", html.index('<form class="filters"'))]
    for name, value in (("schedule_id", "3"), ("group_id", "5"), ("sort", "status"), ("order", "asc")):
        assert f'<input type="hidden" name="{name}" value="{value}">' in form
    chips = dict(re.findall(r'data-filter="(\w+)">.*?href="([^"]+)"', form, re.S))
    assert set(chips) == {"schedule_id", "group_id"}
    # Removing one chip keeps everything else, the other chip included.
    assert "schedule_id" not in chips["schedule_id"] and "group_id=5" in chips["schedule_id"]
    assert "group_id" not in chips["group_id"] and "schedule_id=3" in chips["group_id"]
    for link in chips.values():
        assert "sort=status" in link and "status=100" in link
    assert "Schedule #3" in form and "Group #5" in form


def test_without_schedule_or_group_there_is_no_chip(admin: FlaskClient) -> None:
    html = admin.get("/stask/tasks").text
    assert 'id="task-filter-keep"' in html and 'class="chip"' not in html
    assert 'name="schedule_id"' not in html and 'name="group_id"' not in html


def test_a_bad_group_id_is_refused_without_a_chip(admin: FlaskClient) -> None:
    answer = admin.get('/stask/tasks?group_id="><b>x</b>')
    assert answer.status_code == 400
    assert "group_id must be a whole number" in answer.text
    assert 'class="chip"' not in answer.text and "<b>x</b>" not in answer.text


# -- scheduled tasks -------------------------------------------------------------------------------
def test_a_task_due_later_reads_scheduled_with_its_time(api_app: Flask, admin: FlaskClient) -> None:
    later = utcnow().replace(microsecond=0) + timedelta(hours=2)
    scheduled = create(api_app, start_at=later)
    due = create(api_app)
    listing = admin.get("/stask/tasks").text
    row = {int(i): body for i, body in re.findall(r'name="ids" value="(\d+)"(.*?)</tr>', listing, re.S)}
    assert re.search(r'status-scheduled"[^>]*>scheduled<', row[scheduled])
    assert later.strftime("%Y-%m-%d %H:%M:%S") in row[scheduled]
    assert "status-scheduled" not in row[due] and 'status-queued">pending<' in row[due]
    page = admin.get(f"/stask/tasks/{scheduled}").text
    details = page[page.index("<dt>Status</dt>") : page.index("<dt>Worker</dt>")]
    assert "scheduled" in details and later.strftime("%Y-%m-%d %H:%M:%S") in details and "(10)" in details


def test_the_api_says_whether_a_task_is_scheduled(api_app: Flask, client: FlaskClient) -> None:
    scheduled = create(api_app, start_at=utcnow() + timedelta(minutes=5))
    due = create(api_app)
    soon = create(api_app, start_at=utcnow() + timedelta(milliseconds=300))  # within the margin: due now
    answers = {i: client.get(f"/stask/api/tasks/{i}", headers=ADMIN).get_json()["task"] for i in (scheduled, due, soon)}
    assert answers[scheduled]["scheduled"] is True and answers[scheduled]["status"] == int(Status.QUEUED)
    assert answers[due]["scheduled"] is False and answers[soon]["scheduled"] is False


def test_a_scheduled_task_is_polled_once_at_its_due_time(api_app: Flask, admin: FlaskClient) -> None:
    in_a_minute = create(api_app, start_at=utcnow() + timedelta(seconds=60))
    in_two_hours = create(api_app, start_at=utcnow() + timedelta(hours=2))
    due = create(api_app)
    for path in ("bar", "log"):
        element = "progress-{}" if path == "bar" else "task-log"
        soon = admin.get(f"/stask/tasks/{in_a_minute}/{path}", headers=HTMX)
        delay = re.fullmatch(r"load delay:(\d+)s", trigger_of(soon.text, element.format(in_a_minute)) or "")
        assert soon.status_code == 200 and delay and 58 <= int(delay.group(1)) <= 60
        # Far away: it wakes at least hourly (a page left open), never every second.
        far = admin.get(f"/stask/tasks/{in_two_hours}/{path}", headers=HTMX).text
        assert trigger_of(far, element.format(in_two_hours)) == f"load delay:{REARM_MAX_SECONDS}s"
        now = admin.get(f"/stask/tasks/{due}/{path}", headers=HTMX).text
        assert trigger_of(now, element.format(due)) == "every 1s"
    page = admin.get(f"/stask/tasks/{in_two_hours}").text
    assert "every 1s" not in page  # neither its progress nor its log
    dashboard = admin.get("/stask/").text
    assert trigger_of(dashboard, f"progress-{in_two_hours}") == f"load delay:{REARM_MAX_SECONDS}s"
    assert trigger_of(dashboard, f"progress-{due}") == "every 1s"


def test_poll_trigger_follows_the_state() -> None:
    now = utcnow()
    assert poll_trigger(Task(status=int(Status.FINISHED), start_at=None)) is None
    assert poll_trigger(Task(status=int(Status.RUNNING), start_at=now + timedelta(hours=1))) == "every 1s"
    assert poll_trigger(Task(status=int(Status.QUEUED), start_at=None)) == "every 1s"
    assert poll_trigger(Task(status=int(Status.QUEUED), start_at=now - timedelta(hours=1))) == "every 1s"
    assert poll_trigger(Task(status=int(Status.QUEUED), start_at=now + timedelta(seconds=10.2))) == "load delay:11s"
    assert poll_trigger(Task(status=int(Status.QUEUED), start_at=now + timedelta(days=40))) == "load delay:3600s"


# -- progress counts shown once --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "counts_shown"),
    [("10 of 49 rows", False), ("sleeping", True), ("step 10", True), ("110 of 490", True)],
)
def test_a_running_tasks_counts_are_said_once(
    api_app: Flask, admin: FlaskClient, message: str, counts_shown: bool
) -> None:
    """ "10 of 49" beside a message that already says "10 of 49 rows" would say it twice: left out."""
    task_id = create(api_app)
    set_status(api_app, task_id, Status.RUNNING)
    with api_app.app_context():
        live: Any = api_app.extensions["stask"].runtime.live
        live.publish(task_id, {"progress": 20, "message": message, "processed": 10, "total": 49})
    html = admin.get(f"/stask/tasks/{task_id}/bar?detail=1", headers=HTMX).text
    meta = html[html.index('class="progress-meta"') :]
    assert meta.count(message) == 1  # the message itself is always there
    assert ('class="progress-counts">10 of 49<' in meta) is counts_shown
    assert len(re.findall(r"(?<!\d)10 of 49(?!\d)", meta)) == 1


def test_states_counts() -> None:
    assert states_counts("10 of 49 rows", 10, 49)
    assert states_counts("Deleted 3/7", 3, 7)
    assert not states_counts("10 rows", 10, 49)
    assert not states_counts("110 of 490", 10, 49)
    assert not states_counts(None, 10, 49) and not states_counts("10 of 49", None, 49)
