"""Workflows in headless Chromium: a group page's one bar moves and reaches 100 % without a reload
while a real worker process runs its members; a task with parents shows its dependency graph."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from stask.service.listing import TaskQuery, parse_task_query
from tests.support.apps import Resources, build_app, close_app, redis_of
from tests.support.blocking_plugins import BLOCKING_WORKERS, release
from tests.support.browser import PASSWORD, screenshot

pytestmark = pytest.mark.browser


def members_query(group_id: int) -> TaskQuery:
    return parse_task_query({"group_id": str(group_id), "sort": "id", "order": "asc"})


@pytest.fixture(scope="module")
def live_app(resources: Resources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The browser suite's app with the blocking worker too: members run only when released."""
    tmp = tmp_path_factory.mktemp("browser-workflows")
    app = build_app(resources, "sqlite", tmp, STASK_ADMIN_PASSWORD=PASSWORD, STASK_WORKERS=BLOCKING_WORKERS)
    with app.app_context():
        app.extensions["stask"].discover_workers()
        app.extensions["stask"].db.session.remove()
    yield app
    close_app(app)


def test_the_group_bar_reaches_100_without_a_reload_and_a_task_shows_its_graph(
    admin_page: Page, stask_app: Flask
) -> None:
    page = admin_page
    ext: Any = stask_app.extensions["stask"]
    group = ext.group([{"identifier": "blocking", "action": "hold"} for _ in range(3)], name="nightly <import>")
    group_id = int(group.id)
    members = [t.id for t in ext.service.tasks.page(members_query(group_id)).items]
    ext.db.session.remove()

    page.goto("/stask/groups")
    page.get_by_role("link", name=f"#{group_id}").click()
    expect(page).to_have_url(re.compile(rf"/stask/groups/{group_id}$"))
    expect(page.locator("h1")).to_contain_text("nightly <import>")
    page.evaluate("window.__notReloaded = true")
    bar = page.locator(f"#group-progress-{group_id}")
    expect(bar).to_have_attribute("data-status", "running")
    # the first member runs and reports 1 of 4 steps: the bar moves above 0 and below 100
    page.wait_for_function(
        "(id) => { const p = +document.getElementById('group-progress-' + id).dataset.progress;"
        " return p > 0 && p < 100; }",
        arg=group_id,
    )
    expect(page.locator('[data-count="running"] strong')).to_have_text("1")
    screenshot(page, "group-running")
    connection = redis_of(stask_app)
    for task_id in members:
        release(connection, task_id)
    expect(bar).to_have_attribute("data-progress", "100", timeout=20_000)
    expect(bar).to_have_attribute("data-status", "finished")
    expect(bar.locator("progress")).to_have_attribute("value", "100")
    expect(page.locator('[data-count="finished"] strong')).to_have_text("3")
    for task_id in members:  # the members and the buttons follow the end without a reload
        expect(page.locator(f"#member-{task_id}")).to_have_attribute("data-status", "finished")
    expect(page.get_by_role("button", name="Cancel group")).to_be_disabled()
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "group-finished")

    child = int(ext.create("echo", "say", {"text": "after"}, depends_on=members[:2]).id)
    grandchild = int(ext.create("echo", "say", {"text": "last"}, depends_on=[child]).id)
    ext.db.session.remove()
    page.goto(f"/stask/tasks/{child}")
    graph = page.locator("svg.dep-graph")
    expect(graph).to_be_visible()
    expect(graph.locator("a")).to_have_count(3)  # two parents above, one child below
    expect(graph.locator(f'a[data-task="{members[0]}"]')).to_have_class(re.compile("status-finished"))
    expect(graph.locator(f'[data-task="{child}"]')).to_have_class(re.compile("current"))
    expect(graph.locator("line")).to_have_count(3)
    expect(page.locator("#task-children")).to_contain_text(f"#{grandchild}")
    screenshot(page, "task-graph")
    graph.locator(f'a[data-task="{grandchild}"]').click()
    expect(page).to_have_url(re.compile(rf"/stask/tasks/{grandchild}$"))
    expect(page.locator("svg.dep-graph")).to_be_visible()
