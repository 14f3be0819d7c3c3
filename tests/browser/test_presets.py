"""Presets in headless Chromium: save a run form as a preset, run it from the worker card, see the task."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from stask.models import Preset
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def test_save_a_run_form_as_a_preset_and_run_it_from_the_card(admin_page: Page, stask_app: Flask) -> None:
    page = admin_page
    page.goto("/stask/workers")
    card = page.locator("#worker-echo")
    section = card.locator("#run-echo-say")
    section.locator("summary").click()
    section.get_by_label("Priority").select_option("high")
    section.get_by_role("button", name="Save as preset").click()
    expect(section.locator("small.error")).to_have_text("Give the preset a name.")  # in place, nothing stored
    section = page.locator("#run-echo-say")
    section.get_by_label("Preset name").fill("Say it <loud>")
    section.get_by_role("button", name="Save as preset").click()
    expect(page.locator("#run-echo-say [role=status]")).to_contain_text("Preset “Say it <loud>” saved.")
    db = stask_app.extensions["stask"].db
    preset = db.session.scalars(sa.select(Preset).where(Preset.name == "Say it <loud>")).one()
    db.session.commit()
    assert (preset.identifier, preset.action, preset.priority) == ("echo", "say", "high")

    page.goto("/stask/workers")
    card = page.locator("#worker-echo")
    expect(card.locator(".card-presets")).to_contain_text("Say it <loud>")
    screenshot(page, "presets-worker-card")
    card.get_by_role("button", name="Run", exact=True).first.click()
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text("started from preset “Say it <loud>”")
    flash.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/stask/tasks/\d+$"))
    expect(page.locator("h1")).to_contain_text("echo · say")
    expect(page.locator(".badge.priority-high")).to_be_visible()
    expect(page.locator("dd .badge").first).to_have_text("finished", timeout=15_000)

    page.goto("/stask/presets")
    expect(page.locator("table.presets")).to_contain_text("Say it <loud>")
    screenshot(page, "presets-list")

    page.goto("/stask/workers")  # the run form with its second button (a screenshot before htmx swaps)
    page.locator("#run-echo-say summary").click()
    screenshot(page, "presets-run-form")
