"""The audit page in headless Chromium: a retry and a settings change show up, the filters work."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from stask.enums import Status
from tests.support.api import set_row
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def test_audit_page_shows_a_retry_and_a_settings_change(admin_page: Page, stask_app: Flask, live_app: Flask) -> None:
    page = admin_page
    task = stask_app.extensions["stask"].create("echo", "say", {"text": "audited"})
    stask_app.extensions["stask"].db.session.remove()
    set_row(live_app, task.id, status=int(Status.FAILED), attempts=1, error="boom")

    page.goto(f"/stask/tasks/{task.id}")
    page.get_by_role("button", name="Retry").first.click()
    expect(page.locator(".flash-success")).to_contain_text(f"Task #{task.id} is queued again.")
    page.goto("/stask/workers/echo/settings")
    page.fill("input[name=greeting]", "hello from the browser")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-success")).to_be_visible()

    page.get_by_role("link", name="Audit", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/stask/audit$"))
    expect(page.locator("h1")).to_have_text("Audit log")
    rows = page.locator("#audit-table tbody tr")
    expect(rows.first).to_contain_text("worker.settings")
    expect(rows.first).to_contain_text("worker:echo")
    expect(rows.first).to_contain_text('"keys": ["greeting"]')
    expect(page.locator("#audit-table")).to_contain_text("task.retry")
    expect(page.locator("#audit-table")).to_contain_text(f"task:{task.id}")
    expect(page.locator("#audit-table")).not_to_contain_text("hello from the browser")  # names, never values
    screenshot(page, "audit")

    page.select_option("#a-action", "task.retry")  # htmx swaps the table on change
    expect(page).to_have_url(re.compile(r"action=task\.retry"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("task.retry")
    expect(page.locator("#audit-count")).to_have_text("1 entry")
    rows.first.get_by_role("link", name=f"task:{task.id}").click()
    expect(page).to_have_url(re.compile(rf"/stask/tasks/{task.id}$"))
    page.get_by_role("link", name="Changes to this task").click()
    expect(page).to_have_url(re.compile(rf"/stask/audit\?target=task(:|%3A){task.id}$"))
    expect(rows).to_have_count(1)
    screenshot(page, "audit-filtered")
