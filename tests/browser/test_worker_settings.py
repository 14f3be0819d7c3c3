"""The worker settings page in headless Chromium: labels, help, a field error in place, a stale value."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from stask.models import Worker
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def store_raw(app: Flask, identifier: str, settings: dict[str, object]) -> None:
    ext = app.extensions["stask"]
    ext.db.session.execute(sa.update(Worker).where(Worker.identifier == identifier).values(settings=settings))
    ext.db.session.commit()
    ext.runtime.workers.invalidate()


def test_settings_page_shows_labels_help_and_an_error_in_place(admin_page: Page, stask_app: Flask) -> None:
    store_raw(stask_app, "csv_export", {})
    page = admin_page
    page.goto("/stask/workers/csv_export/settings")
    expect(page.get_by_label("Batch size")).to_have_value("500")
    expect(page.locator("#s-batch_size-help")).to_contain_text("Rows read from the database at a time")
    expect(page.locator("#s-batch_size-help")).to_contain_text("Between 1 and 100000.")
    expect(page.get_by_label("Delimiter")).to_have_attribute("maxlength", "1")
    screenshot(page, "worker-settings")
    page.get_by_label("Batch size").fill("3000000000")
    page.get_by_label("Delimiter").fill(";")
    page.get_by_role("button", name="Save settings").click()
    error = page.locator("#s-batch_size-error")
    expect(error).to_have_text("Must be at most 100000.")
    expect(page.locator("#s-batch_size-field")).to_have_class("field has-error")
    expect(page.get_by_label("Batch size")).to_have_value("3000000000")  # what was typed is kept
    expect(page.get_by_label("Delimiter")).to_have_value(";")
    expect(page.locator("#s-delimiter-error")).to_have_count(0)
    screenshot(page, "worker-settings-error")
    page.get_by_label("Batch size").fill("250")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-success")).to_contain_text("Settings of csv_export saved.")
    expect(page.get_by_label("Batch size")).to_have_value("250")
    store_raw(stask_app, "csv_export", {})


def test_a_stale_value_is_shown_with_a_warning(admin_page: Page, stask_app: Flask) -> None:
    store_raw(stask_app, "maintenance", {"days": -5, "legacy": True})
    page = admin_page
    page.goto("/stask/workers/maintenance/settings")
    expect(page.locator("#s-days-stale")).to_contain_text("-5")
    expect(page.locator("#s-days-stale")).to_contain_text("Tasks use the default")
    expect(page.locator(".flash-warning")).to_contain_text("legacy")
    screenshot(page, "worker-settings-stale")
    store_raw(stask_app, "maintenance", {})
