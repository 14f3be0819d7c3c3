"""The Performance page in headless Chromium: charts, workers, alerts, health, cache clear over htmx."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from stask.models import utcnow
from tests.support.browser import screenshot
from tests.support.monitoring import import_history

pytestmark = pytest.mark.browser


def seed(app: Flask) -> None:
    now = utcnow()
    rows = [
        {
            "identifier": "echo",
            "action": "say",
            "status": 80,
            "priority": "normal",
            "progress": 100,
            "attempts": 1,
            "max_attempts": 1,
            "created_at": now - timedelta(minutes=i, seconds=5),
            "finished_at": now - timedelta(minutes=i),
            "run_ms": 100 + 10 * i,
            "wait_ms": 20,
        }
        for i in range(1, 60, 3)
    ]
    rows += [
        {
            "identifier": "flaky",
            "action": "run",
            "status": 100,
            "priority": "high",
            "progress": 0,
            "attempts": 3,
            "max_attempts": 3,
            "created_at": now - timedelta(minutes=i, seconds=5),
            "error": "RuntimeError: planned",
            "finished_at": now - timedelta(minutes=i),
            "run_ms": 400,
            "wait_ms": 5,
        }
        for i in range(1, 10)
    ]
    import_history(app, rows)


def test_performance_page(admin_page: Page, stask_app: Flask) -> None:
    seed(stask_app)
    problems: list[str] = []
    admin_page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    admin_page.on("pageerror", lambda error: problems.append(str(error)))

    admin_page.click("nav >> text=Performance")
    expect(admin_page).to_have_url(re.compile(r"/stask/performance"))
    expect(admin_page.locator("h1")).to_have_text("Performance")
    expect(admin_page.locator("svg.chart-svg")).to_have_count(3)
    expect(admin_page.locator("svg.chart-svg path.chart-line")).to_have_count(3)
    expect(admin_page.locator('tr.worker-row[data-identifier="flaky"]')).to_contain_text("100%")
    expect(admin_page.locator("#perf-charts")).to_contain_text("RuntimeError: planned")
    expect(admin_page.locator('#perf-alerts li[data-type="failure_rate"]')).to_be_visible()
    expect(admin_page.locator('#perf-health tr[data-check="workers"]')).to_contain_text("1 live worker")

    admin_page.click("#perf-cache button[type=submit]")  # htmx POST with the CSRF header from base.html
    expect(admin_page.locator("#perf-cache")).to_contain_text("Cache cleared.")

    admin_page.select_option("#perf-hours", "168")
    admin_page.click(".window-form button[type=submit]")
    expect(admin_page).to_have_url(re.compile(r"hours=168"))
    expect(admin_page.locator("#perf-charts h2")).to_have_text("Last 168 hours")
    screenshot(admin_page, "performance")
    assert problems == []  # no CSP violation, no script error
