"""The task list and task states as a person sees them, in Chromium against a live server.

One ``#task-table`` after every filter, sort, page change and history step; filter fields on one
line at 1280 px and in a tidy grid at 390 px; a list that fits a desktop with long data; wide
tables that say they scroll on a phone; scheduled tasks that read "scheduled" and are not polled
before they are due; a running task's counts said once.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, Request, expect

from stask.enums import Status
from stask.exceptions import StaskError
from stask.models import Task, utcnow
from tests.support.browser import DESKTOP, PHONE, screenshot
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser


def seed(app: Flask, count: int, status: Status = Status.FINISHED, **values: Any) -> None:
    """Ended rows inserted directly (nothing for the worker to run); ``values`` override columns."""
    now = utcnow()
    rows = [
        {
            "identifier": "echo",
            "action": "say",
            "status": int(status),
            "priority": "normal",
            "progress": 100,
            "message": f"seeded row {i}",
            "attempts": 1,
            "max_attempts": 1,
            "created_at": now - timedelta(seconds=i),
            "finished_at": now,
            **values,
        }
        for i in range(count)
    ]
    session = app.extensions["stask"].db.session
    session.execute(sa.insert(Task), rows)
    session.commit()


def status_of(app: Flask, task_id: int) -> int:
    session = app.extensions["stask"].db.session
    status = session.scalar(sa.select(Task.status).where(Task.id == task_id))
    session.commit()
    return int(status)


def assert_one_table(page: Page) -> None:
    """Exactly one #task-table, no panel inside it, and its last column inside the page."""
    assert page.locator("#task-table").count() == 1
    assert page.locator("#task-table .panel").count() == 0
    assert page.locator(".panel .panel").count() == 0
    created = page.locator("#task-table thead th").last.bounding_box()
    table = page.locator("#task-table").bounding_box()
    assert created and table and created["x"] + created["width"] <= table["x"] + table["width"] + 1


@contextlib.contextmanager
def requests_to(page: Page, pattern: str) -> Iterator[list[str]]:
    """The URLs of the requests the page makes while the block runs that match ``pattern``."""
    seen: list[str] = []

    def listen(request: Request) -> None:
        if re.search(pattern, request.url):
            seen.append(request.url)

    page.on("request", listen)
    try:
        yield seen
    finally:
        page.remove_listener("request", listen)


def no_page_overflow(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


# -- one #task-table -------------------------------------------------------------------------------
def test_one_task_table_after_filter_sort_page_change_and_history(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    seed(stask_app, 60, Status.FINISHED)
    seed(stask_app, 2, Status.CANCELLED)
    page.goto("/stask/tasks")
    page.evaluate("window.__staskMarker = 'same-page'")
    assert_one_table(page)

    page.select_option("#f-status", str(int(Status.FINISHED)))  # filter
    expect(page).to_have_url(re.compile(r"status=80"))
    expect(page.locator("#task-table tbody .badge.status-cancelled")).to_have_count(0)
    assert_one_table(page)

    page.locator("#task-table th a.sort", has_text="Worker").click()  # sort
    expect(page.locator("#task-table th a.sorted-desc")).to_have_text("Worker")
    expect(page).to_have_url(re.compile(r"sort=identifier"))
    assert "status=80" in page.url  # the filter stays
    assert_one_table(page)

    page.select_option("#f-priority", "normal")  # another filter: the sort stays (kept out of band)
    expect(page).to_have_url(re.compile(r"priority=normal"))
    assert "sort=identifier" in page.url and "status=80" in page.url
    expect(page.locator("#task-table th a.sorted-desc")).to_have_text("Worker")
    assert_one_table(page)

    page.locator("#task-table .pagination a", has_text="2").first.click()  # page change
    expect(page.locator("#task-table .pagination .current")).to_have_text("2")
    expect(page).to_have_url(re.compile(r"page=2"))
    assert_one_table(page)
    assert page.evaluate("window.__staskMarker") == "same-page"  # all of it in place

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"page=2"))
    expect(page.locator("#task-table .pagination .current")).to_have_text("1")
    assert_one_table(page)
    page.go_forward()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator("#task-table .pagination .current")).to_have_text("2")
    assert_one_table(page)
    # The swapped table's times are shown in the reader's time zone, as on a full page.
    assert page.locator("#task-table time[data-local]").count() > 0


def test_schedule_and_group_filters_survive_other_filters_until_removed(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    seed(stask_app, 3, Status.FAILED, group_id=77, schedule_id=88, message="member")
    seed(stask_app, 2, Status.FINISHED, group_id=77, schedule_id=88)
    seed(stask_app, 4, Status.FAILED)
    page.goto("/stask/tasks?group_id=77&schedule_id=88")
    expect(page.locator(".filter-keep .chip")).to_have_count(2)
    expect(page.locator(".chip[data-filter=group_id]")).to_contain_text("Group #77")
    expect(page.locator(".chip[data-filter=schedule_id]")).to_contain_text("Schedule #88")
    expect(page.locator("#task-table tbody tr")).to_have_count(5)

    page.select_option("#f-status", str(int(Status.FAILED)))
    expect(page).to_have_url(re.compile(r"status=100"))
    assert "group_id=77" in page.url and "schedule_id=88" in page.url
    expect(page.locator("#task-table tbody tr")).to_have_count(3)
    assert_one_table(page)

    page.locator(".chip[data-filter=group_id] .chip-remove").click()
    expect(page).not_to_have_url(re.compile(r"group_id="))
    assert "schedule_id=88" in page.url and "status=100" in page.url
    expect(page.locator(".filter-keep .chip")).to_have_count(1)
    expect(page.locator("#task-filter-keep input[name=group_id]")).to_have_count(0)
    assert_one_table(page)

    page.fill("#f-q", "member")  # the next filter change does not bring the group back
    expect(page).to_have_url(re.compile(r"q=member"))
    assert "group_id" not in page.url and "schedule_id=88" in page.url
    expect(page.locator("#task-table tbody tr")).to_have_count(3)
    screenshot(page, "task-list-chips")


# -- layout ----------------------------------------------------------------------------------------
def controls(page: Page) -> list[dict[str, float]]:
    boxes = []
    for locator in page.locator(
        ".filter-fields input:not([type=hidden]), .filter-fields select, .filter-fields .button"
    ).all():
        box = locator.bounding_box()
        assert box is not None
        boxes.append(box)
    return boxes


def test_filter_fields_line_up(admin_page: Page) -> None:
    page = admin_page
    page.goto("/stask/tasks")
    boxes = controls(page)
    assert len(boxes) == 9  # seven fields, two buttons
    assert max(b["y"] for b in boxes) - min(b["y"] for b in boxes) <= 1, "one row at 1280 px"
    assert max(b["height"] for b in boxes) - min(b["height"] for b in boxes) <= 1, "one height"
    labels = [box["y"] for box in (lbl.bounding_box() for lbl in page.locator(".filter-fields label").all()) if box]
    assert max(labels) - min(labels) <= 1
    form = page.locator("form.filters").bounding_box()
    assert form and max(b["x"] + b["width"] for b in boxes) <= form["x"] + form["width"]

    page.set_viewport_size(PHONE)
    boxes = controls(page)
    assert no_page_overflow(page)
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"] for b in boxes)
    lefts = sorted({round(b["x"]) for b in boxes})
    assert len(lefts) == 2, f"two columns on a phone, got lefts {lefts}"
    rows: dict[int, list[dict[str, float]]] = {}
    for box in boxes:
        rows.setdefault(round(box["y"]), []).append(box)
    assert all(len(row) <= 2 for row in rows.values())
    search = page.locator("#f-q").bounding_box()
    assert search and search["width"] > PHONE["width"] * 0.7  # the search spans the form
    screenshot(page, "task-list-filters")
    page.set_viewport_size(DESKTOP)


def test_the_task_list_fits_a_desktop_with_long_data(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    seed(stask_app, 3, Status.FAILED, identifier="w" * 64, action="a" * 64, message="x" * 1000)
    seed(stask_app, 3, Status.FAILED, identifier="long_worker", action="act", message="word " * 200)
    stask_app.extensions["stask"].create("echo", "say", {"text": "later"}, start_at=utcnow() + timedelta(hours=3))
    page.goto("/stask/tasks")
    expect(page.locator("#task-table tbody tr").first).to_be_visible()
    assert no_page_overflow(page)
    fits = page.evaluate(
        "(() => { const b = document.querySelector('#task-table .scroll-x');"
        " return b.scrollWidth <= b.clientWidth + 1 && !b.hasAttribute('data-overflowing'); })()"
    )
    assert fits, "the task table scrolls sideways at 1280 px"
    assert_one_table(page)
    screenshot(page, "task-list-long-data")
    page.goto("/stask/tasks?lang=uk")  # longer labels (the top bar's included) still fit
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    assert no_page_overflow(page)
    page.goto("/stask/tasks?lang=en")


def test_a_wide_table_says_it_scrolls_on_a_phone(admin_page: Page, stask_app: Flask) -> None:
    """The schedules table (the built-in nightly cleanup is always there) is wider than a phone."""
    page = admin_page
    seed(stask_app, 1)
    page.set_viewport_size(PHONE)
    page.goto("/stask/schedules")
    box = page.locator(".scroll-x").first
    expect(box).to_have_attribute("data-overflowing", "true")
    assert no_page_overflow(page)  # the table scrolls in its own box, not the page
    hint = "(b) => { const s = getComputedStyle(b, '::before'); return [s.content, s.visibility, s.height]; }"
    content, visibility, height = box.evaluate(hint)
    assert "scroll" in content and visibility == "visible" and float(height.rstrip("px")) > 8
    shadow = box.evaluate("(b) => getComputedStyle(b).backgroundImage")
    assert shadow.count("gradient") == 4
    screenshot(page, "schedules-scroll-hint")
    page.set_viewport_size(PHONE)
    box.evaluate("(b) => { b.scrollLeft = b.scrollWidth; }")
    expect(box).to_have_attribute("data-overflowing", "end")  # nothing more to see: the note goes
    assert box.evaluate(hint)[1] == "hidden"
    page.set_viewport_size(DESKTOP)
    page.goto("/stask/tasks")  # a table that fits has no note
    expect(page.locator("#task-table tbody tr").first).to_be_visible()
    assert page.locator("#task-table .scroll-x").evaluate("(b) => b.hasAttribute('data-overflowing')") is False


# -- states ----------------------------------------------------------------------------------------
def test_a_scheduled_task_reads_scheduled_and_is_not_polled(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    ext = stask_app.extensions["stask"]
    later = ext.create("echo", "say", {"text": "later"}, start_at=utcnow() + timedelta(hours=2))
    running = ext.create("slow", "sleep", {"seconds": 8})
    wait_for(lambda: status_of(stask_app, running.id) == Status.RUNNING, what="the slow task to start")
    try:
        page.goto("/stask/tasks")
        row = page.locator("#task-table tbody tr", has=page.locator(f"a[href$='/tasks/{later.id}']"))
        expect(row.locator(".badge.status-scheduled")).to_have_text("scheduled")
        expect(row.locator(".due time")).to_be_visible()

        with requests_to(page, rf"/tasks/{later.id}/(bar|log)") as polled:
            page.goto(f"/stask/tasks/{later.id}")
            expect(page.locator(f"#progress-{later.id} .badge.status-scheduled")).to_have_text("scheduled")
            page.wait_for_timeout(2500)
        assert polled == [], "a task due in two hours is polled"
        assert page.locator(f"#progress-{later.id}").get_attribute("hx-trigger") == "load delay:3600s"

        # The same page for a running task does poll (so the count above can see requests).
        with requests_to(page, rf"/tasks/{running.id}/bar") as polled:
            page.goto(f"/stask/tasks/{running.id}")
            page.wait_for_timeout(2500)
        assert len(polled) >= 2

        # The dashboard polls the running row, not the scheduled one.
        with requests_to(page, r"/tasks/\d+/bar") as polled:
            page.goto("/stask/")
            expect(page.locator(f"#progress-{later.id} .badge.status-scheduled")).to_be_visible()
            page.wait_for_timeout(2500)
        assert not [url for url in polled if f"/tasks/{later.id}/" in url]
        assert [url for url in polled if f"/tasks/{running.id}/" in url]
    finally:
        for task in (later, running):
            with contextlib.suppress(StaskError):
                ext.cancel(task.id)


def test_a_scheduled_task_wakes_at_its_due_time(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    task = stask_app.extensions["stask"].create(
        "echo", "say", {"text": "soon"}, start_at=utcnow() + timedelta(seconds=5)
    )
    with requests_to(page, rf"/tasks/{task.id}/bar") as polled:
        page.goto(f"/stask/tasks/{task.id}")
        expect(page.locator(f"#progress-{task.id}")).to_have_attribute("data-scheduled", "true")
        page.wait_for_timeout(2000)
        assert polled == []
        # At its due time the fragment asks again, then follows the run to its end without a reload.
        expect(page.locator(f"#progress-{task.id}")).to_have_attribute("data-status", "finished", timeout=20_000)
    assert polled
    assert status_of(stask_app, task.id) == Status.FINISHED


def test_a_running_tasks_counts_are_shown_once(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    ext = stask_app.extensions["stask"]
    task = ext.create("slow", "sleep", {"seconds": 6, "counted": True})
    try:
        page.goto(f"/stask/tasks/{task.id}")
        meta = page.locator(f"#progress-{task.id} .progress-meta")
        expect(meta.locator(".progress-message")).to_contain_text(re.compile(r"\d+ of \d+ naps"), timeout=15_000)
        text = meta.inner_text()
        assert len(re.findall(r"\d+ of \d+", text)) == 1, text
        screenshot(page, "task-running-counts")
    finally:
        with contextlib.suppress(StaskError):
            ext.cancel(task.id)
