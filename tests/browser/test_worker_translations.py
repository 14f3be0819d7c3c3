"""The workers page in Ukrainian, as a person sees it: the built-in workers speak it too."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def test_workers_page_in_ukrainian_at_desktop_and_phone_width(admin_page: Page) -> None:
    page = admin_page
    page.goto("/stask/workers?lang=uk")
    expect(page.locator("h1")).to_have_text("Обробники")
    csv_card = page.locator("#worker-csv_export")
    expect(csv_card.locator("h2")).to_have_text("Експорт у CSV")
    expect(csv_card.locator(".description")).to_contain_text("Вивантажує історію завдань")
    expect(page.locator("#worker-maintenance h2")).to_have_text("Обслуговування")
    expect(page.locator("#worker-notifier h2")).to_have_text("Сповіщення")
    csv_card.locator("summary").first.click()
    expect(csv_card.locator("label[for='run-csv_export-export-source']")).to_have_text("Джерело")
    expect(csv_card.locator("#run-csv_export-export-source option[value=workers]")).to_have_text("Список обробників")
    screenshot(page, "workers-uk")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "scrolls sideways"
    page.set_viewport_size({"width": 1280, "height": 800})
