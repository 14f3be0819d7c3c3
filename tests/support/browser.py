"""Browser test helpers: where Chromium is, the password, signing in, screenshots."""

from __future__ import annotations

import os
import re

from playwright.sync_api import Page, expect

from tests.support.environment import ROOT

#: The Debian package's binary (``make chromium``); ``STASK_TEST_CHROMIUM`` names another.
CHROMIUM = os.environ.get("STASK_TEST_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "browser-test-password"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def login(page: Page, lang: str | None = None) -> None:
    suffix = f"?lang={lang}" if lang else ""
    page.goto(f"/stask/{suffix}")
    expect(page).to_have_url(re.compile(r"/stask/login"))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/stask/(\?.*)?$"))


def screenshot(page: Page, name: str) -> None:
    """Full-page screenshots at desktop and phone widths into test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
