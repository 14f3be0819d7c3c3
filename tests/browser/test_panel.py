"""The panel as a person uses it, in headless Chromium against a live server and a real worker."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from stask.enums import Status
from stask.exceptions import StaskError
from stask.models import Task, utcnow
from tests.support.browser import SCREENSHOTS, screenshot
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser


def seed(app: Flask, count: int, status: Status = Status.FINISHED, **values: Any) -> None:
    """Ended task rows inserted directly (nothing for the worker to run)."""
    now = utcnow()
    rows = [
        {
            "identifier": values.get("identifier", "echo"),
            "action": values.get("action", "say"),
            "status": int(status),
            "priority": values.get("priority", "normal"),
            "progress": 100 if status == Status.FINISHED else 40,
            "message": values.get("message", f"seeded row {i}"),
            "data": {"n": i},
            "attempts": 1,
            "max_attempts": 1,
            "created_at": now - timedelta(minutes=i),
            "finished_at": now,
            "run_ms": 120 + i,
            "wait_ms": 15,
        }
        for i in range(count)
    ]
    session = app.extensions["stask"].db.session
    session.execute(sa.insert(Task), rows)
    session.commit()


def task_status(app: Flask, task_id: int) -> int:
    session = app.extensions["stask"].db.session
    status = session.scalar(sa.select(Task.status).where(Task.id == task_id))
    session.commit()
    return int(status)


def test_login_is_required_and_works(page: Page, live_server: str) -> None:
    page.goto("/stask/tasks")
    expect(page).to_have_url(re.compile(r"/stask/login\?next="))
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".flash-error")).to_be_visible()
    page.fill("#password", "browser-test-password")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/stask/tasks$"))
    expect(page.locator("h1")).to_have_text("Tasks")


def test_run_csv_export_from_card_progress_reaches_100_without_reload(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    seed(stask_app, 1000)
    stask_app.extensions["stask"].update_worker_settings("csv_export", {"batch_size": 100})
    page.goto("/stask/workers")
    page.evaluate(
        "window.__staskMarker = 'same-page'; window.__swaps = [];"
        "document.body.addEventListener('htmx:afterSwap', function (e) {"
        "  var bar = document.querySelector('#run-csv_export-export .progress-cell');"
        "  if (bar) { window.__swaps.push(bar.dataset.progress); } });"
    )
    section = page.locator("#run-csv_export-export")
    section.locator("summary").click()
    section.locator("input[name=throttle_ms]").fill("150")
    section.get_by_role("button", name="Start").click()  # not "Save as preset", the form's other submit

    bar = page.locator("#run-csv_export-export .progress-cell")
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("data-status", "finished", timeout=20_000)
    expect(bar).to_have_attribute("data-progress", "100")
    expect(bar.locator("progress")).to_have_attribute("value", "100")
    # Same document all along (no reload), the bar was swapped by polling, and polling has stopped.
    assert page.evaluate("window.__staskMarker") == "same-page"
    swaps = page.evaluate("window.__swaps")
    assert len(swaps) >= 2 and swaps[-1] == "100", swaps
    assert bar.get_attribute("hx-trigger") is None

    # Download the CSV from the task page.
    page.locator("#run-csv_export-export .started a").click()
    expect(page.locator("h1")).to_contain_text("Task #")
    with page.expect_download() as info:
        page.locator("#task-actions a", has_text="Download result").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    content = open(download.path(), encoding="utf-8").read().splitlines()
    assert content[0].startswith("id,identifier,action,status")
    assert len(content) >= 1001
    screenshot(page, "task-finished")


def test_failed_task_shows_traceback_and_retries_from_task_page(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    ext = stask_app.extensions["stask"]
    task = ext.create("flaky", "run", {"fail_times": 1}, max_attempts=1)
    task_id = task.id
    wait_for(lambda: task_status(stask_app, task_id) == Status.FAILED, what="the flaky task to fail")

    page.goto(f"/stask/tasks/{task_id}")
    error = page.locator(".error-box")
    expect(error).to_contain_text("planned failure on attempt 1")
    expect(error.locator("pre")).to_contain_text("Traceback (most recent call last)")
    expect(error.locator("pre")).to_contain_text("RuntimeError")
    screenshot(page, "task-failed")

    page.locator("#task-actions button", has_text="Retry").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Task #{task_id} is queued again")
    bar = page.locator(f"#progress-{task_id}")
    expect(bar).to_have_attribute("data-status", "finished", timeout=15_000)
    # The buttons follow the final state (sent out of band): no Retry for a finished task.
    expect(page.locator("#task-actions button", has_text="Retry")).to_have_count(0)
    assert task_status(stask_app, task_id) == Status.FINISHED


def test_filter_search_and_sort_the_task_list(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    seed(stask_app, 3, Status.FAILED, identifier="flaky", action="run", message="boom in needle-7")
    seed(stask_app, 4, Status.CANCELLED, identifier="slow", action="sleep", message="stopped")
    page.goto("/stask/tasks")
    page.evaluate("window.__staskMarker = 'same-page'")

    page.select_option("#f-status", str(int(Status.CANCELLED)))
    expect(page).to_have_url(re.compile(r"status=90"))
    rows = page.locator("#task-table tbody tr")
    expect(rows.first.locator(".badge.status-cancelled")).to_be_visible()
    assert rows.count() >= 4
    assert page.locator("#task-table tbody .badge.status-cancelled").count() == rows.count()

    page.select_option("#f-status", "")
    page.fill("#f-q", "needle-7")
    expect(page).to_have_url(re.compile(r"q=needle-7"))
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("flaky")
    assert page.evaluate("window.__staskMarker") == "same-page"  # filtered in place

    # The pushed URL renders the same table as a full page (works without JavaScript).
    page.reload()
    expect(page.locator("#f-q")).to_have_value("needle-7")
    expect(page.locator("#task-table tbody tr")).to_have_count(3)

    page.goto("/stask/tasks?created_from=not-a-date")
    expect(page.locator("#task-table .flash-error")).to_contain_text("created_from")


def test_panel_in_ukrainian(admin_page: Page) -> None:
    page = admin_page
    page.goto("/stask/")
    page.locator(".lang summary").click()
    page.locator(".lang a[hreflang=uk]").click()
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("h1")).to_have_text("Панель")
    expect(page.locator("nav.nav")).to_contain_text("Завдання")
    expect(page.locator("nav.nav")).to_contain_text("Обробники")
    expect(page.locator(".counters")).to_contain_text("Очікують")
    # The choice is remembered (cookie) on the next pages.
    page.goto("/stask/tasks")
    expect(page.locator("h1")).to_have_text("Завдання")
    expect(page.locator("label[for=f-q]")).to_have_text("Пошук")
    page.goto("/stask/workers")
    expect(page.locator("h1")).to_have_text("Обробники")
    expect(page.locator("#run-csv_export-export summary")).to_contain_text("Запустити")
    screenshot(page, "workers-uk")
    page.goto("/stask/?lang=en")
    expect(page.locator("h1")).to_have_text("Dashboard")


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_every_page_at_desktop_and_phone_width(admin_page: Page, stask_app: Flask, browser: Any) -> None:
    """Screenshots for a person to look at, plus the one check a machine can make: nothing overflows."""
    page = admin_page
    ext = stask_app.extensions["stask"]
    seed(stask_app, 2, Status.FAILED, identifier="flaky", action="run", message="<b>not bold</b> planned failure")
    running = ext.create("slow", "sleep", {"seconds": 6})
    wait_for(lambda: task_status(stask_app, running.id) == Status.RUNNING, what="the slow task to start")
    pages = {
        "dashboard": "/stask/",
        "tasks": "/stask/tasks",
        "task-running": f"/stask/tasks/{running.id}",
        "workers": "/stask/workers",
        "worker-settings": "/stask/workers/csv_export/settings",
        "performance": "/stask/performance",
        "not-found": "/stask/tasks/987654",
    }
    for name, url in pages.items():
        page.goto(url)
        expect(page.locator("h1").first).to_be_visible()
        screenshot(page, name)
        page.set_viewport_size({"width": 390, "height": 844})
        assert no_horizontal_scroll(page), f"{name} scrolls sideways on a phone"
        page.set_viewport_size({"width": 1280, "height": 800})
    # User text is shown as text, never as markup.
    page.goto("/stask/tasks?status=100")
    expect(page.locator("#task-table")).to_contain_text("<b>not bold</b>")
    assert page.locator("#task-table b").count() == 0

    # A settings error is shown next to its field.
    page.goto("/stask/workers/csv_export/settings")
    page.fill("#s-batch_size", "1.5")
    page.locator(".settings-form button[type=submit]").click()
    expect(page.locator(".field.has-error .error")).to_contain_text("whole number")
    screenshot(page, "worker-settings-error")

    # The phone menu opens.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/stask/")
    page.locator(".nav-toggle-label").click()
    expect(page.locator("nav.nav a", has_text="Workers")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "menu-phone.png"))
    page.set_viewport_size({"width": 1280, "height": 800})

    # The login page, signed out.
    context = browser.new_context(base_url=page.url.split("/stask/")[0], viewport={"width": 1280, "height": 800})
    anonymous = context.new_page()
    anonymous.goto("/stask/login")
    expect(anonymous.locator("#password")).to_be_visible()
    screenshot(anonymous, "login")
    context.close()
    with contextlib.suppress(StaskError):  # it may have ended already
        ext.cancel(running.id)
