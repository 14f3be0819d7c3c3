"""The workflows' panel pages over HTTP: a group's page (counts, one live bar, members, escaping,
roles, cancel and retry failed with their audit rows), the groups list, a task's parents,
children, dependency graph and waiting reason, and the task list's filter by group (panel and API)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask.enums import Status
from stask.models import AuditEntry, Task
from tests.support.api import ADMIN, ADMIN_PASSWORD, AUTH_CONFIG, READONLY_PASSWORD
from tests.support.apps import run_worker
from tests.workflows.plugins import FLOW_WORKERS

XSS = "<script>alert('x')</script>"


@pytest.fixture
def panel_app(backend: str, make_app: Callable[..., Flask]) -> Flask:
    return make_app(backend, discover=True, **{**AUTH_CONFIG, "STASK_WORKERS": FLOW_WORKERS})


@contextlib.contextmanager
def service(app: Flask) -> Iterator[Any]:
    with app.app_context():
        yield app.extensions["stask"]
        app.extensions["stask"].db.session.remove()


def sign_in(app: Flask, password: str = ADMIN_PASSWORD) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/stask/login").text).group(1)  # type: ignore[union-attr]
    assert client.post("/stask/login", data={"csrf_token": token, "password": password}).status_code == 303
    page = client.get("/stask/groups").text
    return client, re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)  # type: ignore[union-attr]


def steps(*labels: str) -> list[dict[str, Any]]:
    return [{"identifier": "flow", "action": "step", "data": {"label": label}} for label in labels]


def make_group(app: Flask, specs: list[dict[str, Any]], name: str = "batch") -> int:
    with service(app) as ext:
        return int(ext.group(specs, name=name).id)


def run(app: Flask) -> None:
    with app.app_context():
        run_worker(app)


def audit(app: Flask) -> list[tuple[str, str | None]]:
    with service(app) as ext:
        rows = ext.db.session.execute(sa.select(AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)).all()
        return [(row.action, row.target) for row in rows if row.action.startswith("group.")]


def member_ids(app: Flask, group_id: int) -> list[int]:
    with service(app) as ext:
        return list(ext.db.session.scalars(sa.select(Task.id).where(Task.group_id == group_id).order_by(Task.id)))


def test_the_group_page_shows_counts_one_bar_and_members_and_escapes_the_name(panel_app: Flask) -> None:
    group_id = make_group(panel_app, [*steps("a", "b"), {"identifier": "flow", "action": "fail"}], name=XSS)
    client, _token = sign_in(panel_app)
    page = client.get(f"/stask/groups/{group_id}").text
    assert XSS not in page and "&lt;script&gt;" in page
    assert page.count("<progress") == 1 and 'data-progress="0"' in page
    assert f'hx-get="/stask/groups/{group_id}/bar"' in page and 'hx-trigger="every 1s"' in page
    assert re.search(r'data-count="queued">\s*<span[^>]*>[^<]*</span> <strong>3</strong>', page)
    for task_id in member_ids(panel_app, group_id):
        assert f'href="/stask/tasks/{task_id}"' in page
    assert f'href="/stask/tasks?group_id={group_id}"' in page
    assert "Retry failed in this group" in page and "Cancel group" in page
    bar = client.get(f"/stask/groups/{group_id}/bar", headers={"HX-Request": "true"})
    assert bar.status_code == 200 and 'hx-trigger="every 1s"' in bar.text  # running: keeps polling
    run(panel_app)
    bar = client.get(f"/stask/groups/{group_id}/bar", headers={"HX-Request": "true"})
    assert bar.status_code == 286 and "hx-trigger" not in bar.text  # ended: polling stops
    assert 'data-progress="100"' in bar.text and 'data-status="failed"' in bar.text
    assert 'id="group-body" hx-swap-oob="true"' in bar.text and 'id="group-actions" hx-swap-oob="true"' in bar.text
    assert re.search(r'data-count="finished">\s*<span[^>]*>[^<]*</span> <strong>2</strong>', bar.text)
    listing = client.get("/stask/groups").text
    assert f'href="/stask/groups/{group_id}"' in listing and XSS not in listing and "100%" in listing
    assert 'href="/stask/groups"' in client.get("/stask/").text  # the nav link


def test_read_only_sees_no_controls_and_its_posts_are_refused(panel_app: Flask) -> None:
    group_id = make_group(panel_app, steps("a"))
    client, token = sign_in(panel_app, READONLY_PASSWORD)
    page = client.get(f"/stask/groups/{group_id}").text
    assert "Retry failed in this group" not in page and "Cancel group" not in page
    for op in ("cancel", "retry-failed"):
        assert client.post(f"/stask/groups/{group_id}/{op}", data={"csrf_token": token}).status_code == 403
    assert member_ids(panel_app, group_id)
    with service(panel_app) as ext:
        assert ext.get_group(group_id).counts["queued"] == 1
    assert audit(panel_app) == []


def test_cancel_and_retry_failed_work_and_are_audited(panel_app: Flask) -> None:
    group_id = make_group(panel_app, steps("a", "b"))
    client, token = sign_in(panel_app)
    response = client.post(f"/stask/groups/{group_id}/cancel", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/stask/groups/{group_id}")
    with service(panel_app) as ext:
        view = ext.get_group(group_id)
        assert view.group.status == "cancelled" and view.counts["cancelled"] == 2
    page = client.get(f"/stask/groups/{group_id}").text
    assert "2 cancelled, 0 stopping." in page
    response = client.post(f"/stask/groups/{group_id}/retry-failed", data={"csrf_token": token})
    assert response.status_code == 303
    assert "2 tasks queued again." in client.get(f"/stask/groups/{group_id}").text
    with service(panel_app) as ext:
        assert ext.get_group(group_id).group.status == "running"
    assert audit(panel_app) == [("group.cancel", f"group:{group_id}"), ("group.retry_failed", f"group:{group_id}")]
    run(panel_app)
    with service(panel_app) as ext:
        assert ext.get_group(group_id).group.status == "finished"
    assert client.post(f"/stask/groups/{group_id}/cancel").status_code == 403  # no CSRF token


def test_the_task_list_filters_by_group_in_the_panel_and_the_api(panel_app: Flask) -> None:
    first = make_group(panel_app, steps("a", "b"))
    second = make_group(panel_app, steps("c"))
    with service(panel_app) as ext:
        loose = int(ext.create("flow", "step", {"label": "loose"}).id)
    mine = member_ids(panel_app, first)
    client, _token = sign_in(panel_app)
    page = client.get(f"/stask/tasks?group_id={first}").text
    shown = {int(n) for n in re.findall(r'href="/stask/tasks/(\d+)"', page)}
    assert shown == set(mine)
    api = panel_app.test_client()
    body = api.get(f"/stask/api/tasks?group_id={second}", headers=ADMIN).get_json()
    assert [item["id"] for item in body["items"]] == member_ids(panel_app, second)
    assert loose not in [
        item["id"] for item in api.get(f"/stask/api/tasks?group_id={first}", headers=ADMIN).get_json()["items"]
    ]
    bad = api.get("/stask/api/tasks?group_id=x", headers=ADMIN)
    assert bad.status_code == 400 and "group_id" in bad.get_json()["error"]["message"]
    document = api.get("/stask/api/openapi.json", headers=ADMIN).get_json()
    names = [p.get("name") for p in document["paths"]["/stask/api/tasks"]["get"]["parameters"]]
    assert "group_id" in names


def test_the_task_page_shows_parents_children_graph_and_waiting_reason(panel_app: Flask) -> None:
    with service(panel_app) as ext:
        parents = [int(ext.create("flow", "step", {"label": f"p{n}"}).id) for n in range(14)]
        middle = int(ext.create("flow", "step", {"label": "m"}, depends_on=parents).id)
        child = int(ext.create("flow", "step", {"label": XSS}, depends_on=[middle]).id)
    client, _token = sign_in(panel_app)
    page = client.get(f"/stask/tasks/{middle}").text
    graph = re.search(r'<svg class="dep-graph".*?</svg>', page, re.S)
    assert graph, "no dependency graph"
    svg = graph.group(0)
    drawn = [int(n) for n in re.findall(r'<a href="/stask/tasks/(\d+)"', svg)]
    assert drawn == [*parents[:12], child]  # capped at 12 a side
    assert svg.count("<line") == 13 and "+2 more" in svg
    assert f'data-task="{middle}"' in svg and "status-queued" in svg
    parents_list = re.search(r'id="task-parents".*?</div>', page, re.S).group(0)  # type: ignore[union-attr]
    assert f'href="/stask/tasks/{parents[0]}"' in parents_list and "(14)" in parents_list
    assert parents_list.count("<li") == 12 and "+2 more" in parents_list  # the list is capped too
    children_list = re.search(r'id="task-children".*?</div>', page, re.S).group(0)  # type: ignore[union-attr]
    assert f'href="/stask/tasks/{child}"' in children_list
    waiting = re.search(r'id="waiting-reason" data-code="(\w+)".*?</section>', page, re.S)
    assert waiting and waiting.group(1) == "parents"
    assert f'href="/stask/tasks/{parents[13]}"' in waiting.group(0)
    plain = client.get(f"/stask/tasks/{parents[0]}").text
    assert 'id="waiting-reason" data-code="no_worker"' in plain or 'data-code="queue"' in plain
    run(panel_app)
    ended = client.get(f"/stask/tasks/{middle}").text
    assert "waiting-reason" not in ended and "dep-graph" in ended and "status-finished" in ended
    lone = client.get(f"/stask/tasks/{child}").text  # the child's page: its parent above it
    assert XSS not in lone


def test_a_member_links_to_its_group_and_a_lone_task_has_no_graph(panel_app: Flask) -> None:
    group_id = make_group(panel_app, steps("a"))
    member = member_ids(panel_app, group_id)[0]
    with service(panel_app) as ext:
        lone = int(ext.create("flow", "step", {"label": "x"}).id)
        assert ext.db.session.get(Task, lone).status == Status.QUEUED
    client, _token = sign_in(panel_app)
    page = client.get(f"/stask/tasks/{member}").text
    assert f'id="task-group-link" href="/stask/groups/{group_id}"' in page and "dep-graph" not in page
    assert "dependencies" not in client.get(f"/stask/tasks/{lone}").text
