"""How the Performance and Workers pages read at 1280 and 390 px, in English and Ukrainian.

Nice ticks, labels that stay readable on a phone, figures that never wrap, an empty card that
stays small, a per-worker table that fits (or says it scrolls), worker cards of equal height.
Only ended, successful tasks are seeded: no alert fires, so the Alerts card is empty.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from stask.models import Task, utcnow
from tests.support.browser import DESKTOP, PHONE
from tests.support.monitoring import import_history

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(stask_app: Flask) -> None:
    """Two hours of finished tasks, slow enough that p95 reads in seconds (5575 ms at most)."""
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
            "created_at": now - timedelta(minutes=4 * i + 1),
            "finished_at": now - timedelta(minutes=4 * i),
            "run_ms": 1500 + 135 * i,
            "wait_ms": 30 + i,
            "peak_memory_kb": 80_000 + 1000 * i,
        }
        for i in range(31)
    ]
    session = stask_app.extensions["stask"].db.session
    session.execute(sa.delete(Task))
    session.commit()
    import_history(stask_app, rows)


def tick_values(page: Page, chart: str) -> list[float]:
    texts = page.locator(f".chart-{chart} .chart-y text").all_text_contents()
    return [float(t.replace(",", "").replace("\u00a0", "")) for t in texts]


def is_nice(step: float) -> bool:
    exponent = math.floor(math.log10(step) + 1e-9)
    return any(math.isclose(step, m * 10.0**exponent, rel_tol=1e-6) for m in (1, 2, 5))


def box(page: Page, selector: str) -> dict[str, Any]:
    return page.eval_on_selector(
        selector,
        """el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
                   return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height,
                           fontSize: parseFloat(s.fontSize), lineHeight: parseFloat(s.lineHeight)}; }""",
    )


def test_axis_ticks_are_1_2_5_steps_and_labels_stay_readable_on_a_phone(admin_page: Page, seeded: None) -> None:
    admin_page.goto("/stask/performance?hours=6")
    expect(admin_page.locator(".chart-p95 figcaption")).to_contain_text("(sec,")  # 5575 ms read in seconds
    for chart in ("throughput", "failure", "p95"):
        ticks = tick_values(admin_page, chart)
        steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
        assert ticks[0] == 0 and len(steps) == 1 and is_nice(steps.pop()), (chart, ticks)
    assert tick_values(admin_page, "p95") == [0, 2, 4, 6]
    for size, smallest, largest in ((PHONE, 10, 16), (DESKTOP, 10, 16)):
        admin_page.set_viewport_size(size)
        admin_page.wait_for_timeout(100)
        for label in admin_page.locator(".chart-y text, .chart-x text:not(.minor)").all()[:12]:
            rect = label.evaluate("el => el.getBoundingClientRect().height")
            font = label.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
            assert smallest <= font <= largest and rect >= smallest, (size, font, rect)  # not ~5 px, not ~20 px


def test_figures_keep_to_one_line_in_their_cards(admin_page: Page, seeded: None) -> None:
    admin_page.goto("/stask/performance?hours=6")
    expect(admin_page.locator("#perf-charts .counter-value").nth(5)).to_have_text(re.compile(r"^\d\.\d\u00a0sec$"))
    expect(admin_page.locator("#perf-charts .counter").nth(7)).to_contain_text("MB")
    for size in (DESKTOP, {"width": 1100, "height": 800}, PHONE):
        admin_page.set_viewport_size(size)
        admin_page.wait_for_timeout(100)
        for index in range(admin_page.locator(".counter-value").count()):
            value = box(admin_page, f"#perf-charts .counter:nth-child({index + 1}) .counter-value")
            assert value["height"] <= value["lineHeight"] + 1, (size, index, value)


def test_an_empty_alerts_card_stays_small_next_to_a_tall_neighbour(admin_page: Page, seeded: None) -> None:
    admin_page.goto("/stask/performance?hours=6")
    expect(admin_page.locator("#perf-alerts .empty")).to_have_text("No alerts")
    alerts = box(admin_page, "#perf-alerts")
    neighbour = box(admin_page, "#perf-cache")  # health and cache, stacked, in the next column
    assert neighbour["bottom"] - alerts["top"] > 300  # the neighbour is tall ...
    assert alerts["height"] < 140, alerts  # ... and the empty card does not stretch to it


def test_the_per_worker_table_fits_at_1280_in_ukrainian(admin_page: Page, seeded: None) -> None:
    admin_page.goto("/stask/performance?hours=6&lang=uk")
    expect(admin_page.locator("h1")).to_have_text("Продуктивність")
    region = box(admin_page, "#perf-workers .scroll-x")
    last = box(admin_page, "#perf-workers thead th:last-child")
    assert last["right"] <= region["right"] + 1, (last, region)
    assert admin_page.eval_on_selector("#perf-workers .scroll-x", "el => el.scrollWidth <= el.clientWidth")


def test_the_per_worker_table_scrolls_on_a_phone_and_says_so(admin_page: Page, seeded: None) -> None:
    admin_page.set_viewport_size(PHONE)
    admin_page.goto("/stask/performance?hours=6")
    region = admin_page.locator("#perf-workers .scroll-x")
    expect(region).to_have_attribute("data-overflowing", re.compile(".*"))  # stask.js shows "scroll →"
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")  # it does scroll, inside its box ...
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # ... not the page
    assert region.get_attribute("tabindex") == "0"  # reachable by keyboard


def test_worker_cards_in_a_row_share_its_height_with_links_at_the_bottom(admin_page: Page) -> None:
    admin_page.goto("/stask/workers")
    cards = admin_page.locator("article.card.worker")
    expect(cards.first).to_be_visible()
    rows: dict[int, list[dict[str, Any]]] = {}
    for index in range(cards.count()):
        card = box(admin_page, f"article.card.worker:nth-of-type({index + 1})")
        foot = box(admin_page, f"article.card.worker:nth-of-type({index + 1}) > .card-foot")
        rows.setdefault(round(card["top"]), []).append(
            {"height": card["height"], "gap": card["bottom"] - foot["bottom"]}
        )
    shared = [row for row in rows.values() if len(row) > 1]
    assert shared, rows  # at 1280 px a row holds several cards
    assert all(len({round(c["height"]) for c in row}) == 1 for row in shared), rows
    assert all(len({round(c["gap"]) for c in row}) == 1 for row in shared), rows


def test_the_dashboard_cards_keep_their_own_height(admin_page: Page) -> None:
    admin_page.goto("/stask/")
    panels = admin_page.locator("#overview .grid-2 > .panel")
    expect(panels).to_have_count(2)
    heights = [p.evaluate("el => el.getBoundingClientRect().height") for p in panels.all()]
    contents = [
        p.evaluate("el => [...el.children].reduce((sum, c) => sum + c.getBoundingClientRect().height, 0)")
        for p in panels.all()
    ]
    for height, content in zip(heights, contents, strict=True):
        assert height < content + 80, (heights, contents)  # padding and gaps, never a stretched void
    assert re.search(r"\d", admin_page.locator(".counter-value").first.inner_text())
