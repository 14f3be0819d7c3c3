"""The Schedules page over HTTP: rendering and escaping, roles, the form's errors in place, the
switch, run now, delete, the preview fragment (words and next runs), the worker cards, and the
statement count of the list."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.models import AuditEntry, StoredSchedule, Task
from tests.support.queries import Statements

XSS = "<script>alert('x')</script>"
NEW = "/stask/schedules/new"


@pytest.fixture
def panel_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app("sqlite", discover=True, STASK_ADMIN_PASSWORD="admin-pw", STASK_READONLY_PASSWORD="ro-pw")


@contextlib.contextmanager
def service(app: Flask) -> Iterator[Any]:
    with app.app_context():
        yield app.extensions["stask"]
        app.extensions["stask"].db.session.remove()


def sign_in(app: Flask, password: str = "admin-pw") -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/stask/login").text).group(1)  # type: ignore[union-attr]
    assert client.post("/stask/login", data={"csrf_token": token, "password": password}).status_code == 303
    page = client.get("/stask/schedules").text
    return client, re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)  # type: ignore[union-attr]


def add(app: Flask, **fields: Any) -> int:
    with service(app) as ext:
        body = {"identifier": "echo", "action": "say", "cron": "*/5 * * * *", **fields}
        return int(ext.service.schedules.create(body).id)


def form(token: str, **fields: str) -> dict[str, str]:
    base = {
        "csrf_token": token,
        "name": "",
        "identifier": "echo",
        "action": "say",
        "data": "{}",
        "priority": "normal",
        "kind": "cron",
        "cron": "0 3 * * *",
        "interval": "",
        "timezone": "Europe/Kyiv",
        "misfire": "run_once",
        "overlap": "skip",
        "jitter": "0",
        "start_date": "",
        "end_date": "",
        "enabled": "1",
    }
    return {**base, **fields}


def field_html(page: str, name: str) -> str:
    match = re.search(rf'<div class="field[^"]*">\s*<label for="sf-{name}">.*?</div>', page, re.S)
    assert match, name
    return match.group(0)


def audit_actions(app: Flask) -> list[tuple[str, str | None]]:
    with service(app) as ext:
        rows = ext.db.session.execute(sa.select(AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)).all()
    return [(row.action, row.target) for row in rows]


def test_list_renders_each_schedule_and_escapes_names(panel_app: Flask) -> None:
    schedule_id = add(panel_app, name=f"nightly {XSS}", timezone="Europe/Kyiv")
    client, _ = sign_in(panel_app)
    page = client.get("/stask/schedules")
    assert page.status_code == 200
    assert XSS not in page.text and "nightly &lt;script&gt;" in page.text
    row = re.search(rf'<tr id="schedule-{schedule_id}".*?</tr>', page.text, re.S).group(0)  # type: ignore[union-attr]
    assert "<code>echo.say</code>" in row and "<code>*/5 * * * *</code>" in row and "Europe/Kyiv" in row
    assert "Every 5 minutes" in row
    assert re.search(r"in \d+ minutes?|in \d+ seconds?", row), row
    assert '<time datetime="' in row
    assert f"/stask/tasks?schedule_id={schedule_id}" in row
    assert f"/stask/schedules/{schedule_id}/run" in row and f"/stask/schedules/{schedule_id}/delete" in row
    assert "never" in row


def test_code_schedules_offer_no_delete(panel_app: Flask) -> None:
    with service(panel_app) as ext:
        code = ext.db.session.scalars(sa.select(StoredSchedule).where(StoredSchedule.source == "code")).first()
    assert code is not None  # the maintenance worker's nightly cleanup
    client, token = sign_in(panel_app)
    row = re.search(rf'<tr id="schedule-{code.id}".*?</tr>', client.get("/stask/schedules").text, re.S).group(0)  # type: ignore[union-attr]
    assert "/delete" not in row and "/enabled" in row and ">code<" in row
    refused = client.post(f"/stask/schedules/{code.id}/delete", data={"csrf_token": token})
    assert refused.status_code == 303
    with service(panel_app) as ext:
        assert ext.db.session.get(StoredSchedule, code.id) is not None


def test_read_only_sees_everything_but_no_write_controls(panel_app: Flask) -> None:
    schedule_id = add(panel_app, name="visible")
    client, token = sign_in(panel_app, "ro-pw")
    page = client.get("/stask/schedules").text
    assert "visible" in page and f"/stask/tasks?schedule_id={schedule_id}" in page
    for control in ("/run", "/delete", "/enabled", "New schedule", 'name="csrf_token"'):
        assert control not in page, control
    edit = client.get(f"/stask/schedules/{schedule_id}/edit").text
    assert "Save schedule" not in edit and "disabled" in edit
    headers = {"X-CSRF-Token": token}
    for url, data in (
        (NEW, form(token)),
        (f"/stask/schedules/{schedule_id}/edit", form(token)),
        (f"/stask/schedules/{schedule_id}/enabled", {"enabled": "0"}),
        (f"/stask/schedules/{schedule_id}/run", {}),
        (f"/stask/schedules/{schedule_id}/delete", {}),
    ):
        assert client.post(url, data=data, headers=headers).status_code == 403, url
    with service(panel_app) as ext:
        row = ext.service.schedules.get(schedule_id)
        assert row.enabled and row.last_task_id is None
        assert ext.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_create_with_field_errors_in_place_then_saved_and_audited(panel_app: Flask) -> None:
    client, token = sign_in(panel_app)
    bad = client.post(NEW, data=form(token, name=XSS, cron="61 * * * *"))
    assert bad.status_code == 400
    cron = field_html(bad.text, "cron")
    assert 'class="error"' in cron and 'value="61 * * * *"' in cron  # the error beside its input, the text kept
    assert 'class="error"' not in field_html(bad.text, "timezone")
    assert 'value="Europe/Kyiv"' in bad.text and XSS not in bad.text
    zone = client.post(NEW, data=form(token, timezone="Mars/Olympus"))
    assert zone.status_code == 400 and 'class="error"' in field_html(zone.text, "timezone")
    data = client.post(NEW, data=form(token, data="[1, 2"))
    assert data.status_code == 400 and "Enter a JSON object" in field_html(data.text, "data")
    interval = client.post(NEW, data=form(token, kind="interval", interval="0"))
    assert interval.status_code == 400 and 'class="error"' in field_html(interval.text, "interval")
    with service(panel_app) as ext:
        assert (
            ext.db.session.scalar(
                sa.select(sa.func.count()).select_from(StoredSchedule).where(StoredSchedule.source == "panel")
            )
            == 0
        )
    saved = client.post(NEW, data=form(token, name="kyiv night"))
    assert saved.status_code == 303
    with service(panel_app) as ext:
        row = ext.db.session.scalars(sa.select(StoredSchedule).where(StoredSchedule.name == "kyiv night")).one()
        assert (row.cron, row.timezone, row.identifier, row.action, row.enabled) == (
            "0 3 * * *",
            "Europe/Kyiv",
            "echo",
            "say",
            True,
        )
        assert row.created_by and row.created_by.startswith("session:")
    assert ("schedule.create", f"schedule:{row.id}") in audit_actions(panel_app)
    assert "Schedule kyiv night created." in client.get("/stask/schedules").text
    changed = client.post(
        f"/stask/schedules/{row.id}/edit", data=form(token, name="kyiv night", kind="interval", interval="600")
    )
    assert changed.status_code == 303
    with service(panel_app) as ext:
        row = ext.service.schedules.get(row.id)
        assert (row.cron, row.interval) == (None, 600)
    assert ("schedule.update", f"schedule:{row.id}") in audit_actions(panel_app)


def test_switch_pauses_and_resumes_with_htmx_and_without(panel_app: Flask) -> None:
    schedule_id = add(panel_app)
    client, token = sign_in(panel_app)
    paused = client.post(
        f"/stask/schedules/{schedule_id}/enabled",
        data={"enabled": "0"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert (
        paused.status_code == 200 and paused.text.lstrip().startswith("<tr") and 'aria-checked="false"' in paused.text
    )
    with service(panel_app) as ext:
        row = ext.service.schedules.get(schedule_id)
        assert not row.enabled and row.next_run_at is None
    resumed = client.post(f"/stask/schedules/{schedule_id}/enabled", data={"enabled": "1", "csrf_token": token})
    assert resumed.status_code == 303
    with service(panel_app) as ext:
        row = ext.service.schedules.get(schedule_id)
        assert row.enabled and row.next_run_at is not None
    target = f"schedule:{schedule_id}"
    assert [a for a in audit_actions(panel_app) if a[1] == target] == [
        ("schedule.pause", target),
        ("schedule.resume", target),
    ]


def test_run_now_creates_a_task_and_links_it(panel_app: Flask) -> None:
    schedule_id = add(panel_app, name=f"run {XSS}")
    client, token = sign_in(panel_app)
    response = client.post(f"/stask/schedules/{schedule_id}/run", data={"csrf_token": token})
    assert response.status_code == 303
    with service(panel_app) as ext:
        task = ext.db.session.scalars(sa.select(Task).where(Task.schedule_id == schedule_id)).one()
    page = client.get("/stask/schedules").text
    assert f'<a href="/stask/tasks/{task.id}">#{task.id}</a>' in page  # the flash links the new task
    assert "run &lt;script&gt;" in page and XSS not in page
    row = re.search(rf'<tr id="schedule-{schedule_id}".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert 'class="mark status-queued"' in row and f"/stask/tasks/{task.id}" in row
    assert 'class="badge status-queued"' in row  # the last run's status
    listed = client.get(f"/stask/tasks?schedule_id={schedule_id}").text
    assert f"/stask/tasks/{task.id}" in listed
    assert ("schedule.run", f"schedule:{schedule_id}") in audit_actions(panel_app)
    task_page = client.get(f"/stask/tasks/{task.id}").text  # the task names its schedule, one click away
    assert f'<a href="/stask/schedules/{schedule_id}/edit">#{schedule_id}</a>' in task_page
    assert f'href="/stask/tasks?schedule_id={schedule_id}"' in task_page


def test_delete_removes_a_panel_schedule(panel_app: Flask) -> None:
    schedule_id = add(panel_app, name="to go")
    client, token = sign_in(panel_app)
    assert client.post(f"/stask/schedules/{schedule_id}/delete", data={"csrf_token": token}).status_code == 303
    with service(panel_app) as ext:
        assert ext.db.session.get(StoredSchedule, schedule_id) is None
    assert ("schedule.delete", f"schedule:{schedule_id}") in audit_actions(panel_app)


def test_preview_shows_words_and_the_next_five_runs_in_the_zone(panel_app: Flask) -> None:
    client, _ = sign_in(panel_app)
    page = client.get(
        "/stask/schedules/preview", query_string={"kind": "cron", "cron": "30 3 * * *", "timezone": "Europe/Kyiv"}
    )
    assert page.status_code == 200
    assert "At 03:30" in page.text
    runs = re.findall(r'<span class="local">([^<]+)</span> <span class="muted">· ([^<]+) UTC</span>', page.text)
    assert len(runs) == 5
    for local, utc in runs:
        assert local[11:16] == "03:30" and local.endswith(("EET", "EEST"))
        assert utc[11:16] in ("00:30", "01:30")  # 03:30 Kyiv is UTC+2 in winter, UTC+3 in summer
    utc_page = client.get(
        "/stask/schedules/preview", query_string={"kind": "cron", "cron": "30 3 * * *", "timezone": "UTC"}
    )
    assert re.findall(r"· \S+ (\d\d:\d\d):\d\d UTC", utc_page.text)[0] == "03:30"
    interval = client.get("/stask/schedules/preview", query_string={"kind": "interval", "interval": "5400"}).text
    assert "Every 1 hour 30 minutes" in interval and interval.count('<span class="local">') == 5


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"kind": "cron", "cron": "61 * * * *", "timezone": "UTC"}, "cron"),
        ({"kind": "cron", "cron": "* * *", "timezone": "UTC"}, "cron"),
        ({"kind": "cron", "cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"kind": "interval", "interval": "0"}, "interval"),
    ],
)
def test_preview_of_bad_input_names_the_field(panel_app: Flask, args: dict[str, str], field: str) -> None:
    client, _ = sign_in(panel_app)
    page = client.get("/stask/schedules/preview", query_string=args)
    assert page.status_code == 200
    assert f'data-field="{field}"' in page.text and 'class="local"' not in page.text


def test_words_are_translated(panel_app: Flask) -> None:
    client, _ = sign_in(panel_app)
    args = {"kind": "cron", "cron": "0 3 * * 1-5", "timezone": "UTC"}
    english = client.get("/stask/schedules/preview", query_string={**args, "lang": "en"}).text
    assert "At 03:00, Monday through Friday" in english
    ukrainian = client.get("/stask/schedules/preview", query_string={**args, "lang": "uk"}).text
    assert "О 03:00" in ukrainian and "понеділок" in ukrainian  # cron-descriptor's words, babel's day names
    assert "At " not in ukrainian and "Monday" not in ukrainian
    assert "Наступні запуски" in ukrainian
    interval = client.get(
        "/stask/schedules/preview", query_string={"kind": "interval", "interval": "300", "lang": "uk"}
    ).text
    assert "5 хвилин" in interval


def test_worker_cards_list_their_schedules(panel_app: Flask) -> None:
    schedule_id = add(panel_app, name="echo every five")
    client, _ = sign_in(panel_app)
    page = client.get("/stask/workers").text
    card = re.search(r'<article class="card worker[^"]*" id="worker-echo">.*?</article>', page, re.S).group(0)  # type: ignore[union-attr]
    assert f"/stask/schedules/{schedule_id}/edit" in card and "echo every five" in card
    assert "/stask/schedules?identifier=echo" in card


def count_statements(app: Flask, client: FlaskClient, url: str) -> int:
    with Statements(app) as counted:
        assert client.get(url).status_code == 200
    return counted.count


def test_list_and_cards_cost_a_fixed_number_of_statements(panel_app: Flask) -> None:
    client, token = sign_in(panel_app)
    first = add(panel_app)
    client.post(f"/stask/schedules/{first}/run", data={"csrf_token": token})
    count_statements(panel_app, client, "/stask/workers")  # warms the worker cache
    few = count_statements(panel_app, client, "/stask/schedules")
    assert few <= 4  # session, a page of schedules, their count, their runs
    few_cards = count_statements(panel_app, client, "/stask/workers")
    for n in range(12):
        schedule_id = add(
            panel_app, name=f"s{n}", identifier="echo" if n % 2 else "flaky", action="say" if n % 2 else "run"
        )
        client.post(f"/stask/schedules/{schedule_id}/run", data={"csrf_token": token})
    assert count_statements(panel_app, client, "/stask/schedules") == few
    assert count_statements(panel_app, client, "/stask/workers") == few_cards


def test_recent_runs_and_worker_schedules_on_every_database(app: Flask, stask: Any) -> None:
    """The window queries behind the page and the cards (ROW_NUMBER per schedule / per worker)."""
    schedules = stask.service.schedules
    ids = [
        schedules.create({"identifier": "echo", "action": "say", "interval": 60 + n, "name": f"e{n}"}).id
        for n in range(3)
    ]
    made = {schedule_id: [schedules.run_now(schedule_id).id for _ in range(3)] for schedule_id in ids[:2]}
    page, runs = schedules.page_with_runs("echo", 1, 50, per_schedule=2)
    assert [row.id for row in page.items] == ids and page.total == 3
    assert {key: [run.id for run in value] for key, value in runs.items()} == {
        ids[0]: made[ids[0]][:0:-1],
        ids[1]: made[ids[1]][:0:-1],
        ids[2]: [],
    }
    cards = schedules.by_worker(per_worker=2)
    shown, total = cards["echo"]
    assert total == 3 and [row.name for row in shown] == ["e0", "e1"]
