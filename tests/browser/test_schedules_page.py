"""The Schedules page in headless Chromium: create a schedule, see the words and the preview
change as the cron expression is typed, save it, run it now, and follow to its task."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def test_create_preview_run_now_and_see_its_task(admin_page: Page) -> None:
    page = admin_page
    page.goto("/stask/schedules")
    page.get_by_role("link", name="New schedule").click()
    expect(page).to_have_url(re.compile(r"/stask/schedules/new$"))
    page.get_by_label("Name").fill("browser greeting")
    page.get_by_label("Worker").select_option("echo")
    page.locator("#sf-action").select_option("say")
    page.get_by_label("Data (JSON)").fill('{"text": "from a schedule"}')
    preview = page.locator("#schedule-preview")

    cron = page.locator("#sf-cron")
    cron.fill("61 * * * *")
    expect(preview.locator(".error")).to_have_attribute("data-field", "cron")
    cron.fill("30 3 * * 1-5")
    expect(preview.locator(".words")).to_have_text("At 03:30, Monday through Friday")
    page.locator("#sf-timezone").fill("Europe/Kyiv")
    expect(preview).to_contain_text("Next runs, in Europe/Kyiv and UTC:")
    expect(preview.locator(".next-runs li")).to_have_count(5)
    expect(preview.locator(".next-runs li").first).to_contain_text(re.compile(r"03:30:00 EES?T"))
    screenshot(page, "schedule-form")

    page.get_by_role("button", name="Save schedule").click()
    expect(page.locator(".flash-success")).to_contain_text("Schedule browser greeting created.")
    row = page.locator("tr.schedule", has_text="browser greeting")
    expect(row).to_contain_text("At 03:30, Monday through Friday")
    expect(row.locator(".schedule-next .relative")).to_contain_text(re.compile(r"^in "))
    row.get_by_role("button", name="Run now").click()
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text("created by schedule browser greeting")
    row = page.locator("tr.schedule", has_text="browser greeting")
    expect(row.locator(".run-marks .mark")).to_have_count(1)
    screenshot(page, "schedules")

    flash.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/stask/tasks/\d+$"))
    expect(page.locator("main")).to_contain_text("say")
    expect(page.locator("main")).to_contain_text(re.compile("finished|running|pending"))
    page.goto("/stask/schedules")
    page.locator("tr.schedule", has_text="browser greeting").get_by_role("link", name="Tasks").click()
    expect(page).to_have_url(re.compile(r"/stask/tasks\?schedule_id=\d+$"))
    expect(page.locator("#task-table tbody tr")).to_have_count(1)


def test_the_switch_pauses_in_place(admin_page: Page) -> None:
    page = admin_page
    page.goto("/stask/schedules")
    row = page.locator("tr.schedule").first
    switch = row.get_by_role("switch")
    before = switch.get_attribute("aria-checked")
    switch.click()
    expect(page.locator("tr.schedule").first.get_by_role("switch")).not_to_have_attribute("aria-checked", before or "")
    page.locator("tr.schedule").first.get_by_role("switch").click()
    expect(page.locator("tr.schedule").first.get_by_role("switch")).to_have_attribute("aria-checked", before or "")
