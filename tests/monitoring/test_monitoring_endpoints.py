"""The monitoring endpoints over HTTP: figures, validation, roles, CSRF, cache, alerts and the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stask.models import utcnow
from stask.monitoring.metrics import summary
from stask.web.monitoring import OPENAPI_PATHS
from tests.support.monitoring import Recorder, add_rows
from tests.support.queries import Statements

ADMIN = {"Authorization": "Bearer admin-token"}
READER = {"Authorization": "Bearer reader-token"}
AUTH = {"STASK_API_TOKEN": "admin-token", "STASK_READONLY_TOKEN": "reader-token", "STASK_ADMIN_PASSWORD": "pw"}


@pytest.fixture
def web_app(backend: str, make_app: Callable[..., Flask]) -> Flask:
    """The app on each database. Requests run outside any app context of the test: an outer context
    would be shared by every request of the test client (and with it ``flask.g``)."""
    return make_app(backend, discover=True, **AUTH)


@pytest.fixture
def client(web_app: Flask) -> FlaskClient:
    return web_app.test_client()


def conforms(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """Check a response against the OpenAPI 3.0 subset OPENAPI_PATHS uses (type, nullable, enum,
    properties, required, items) — the API's schemathesis run checks the merged document."""
    if value is None:
        assert schema.get("nullable"), f"{where} is null but not nullable"
        return
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind in checks:
        assert isinstance(value, checks[kind]), f"{where}: {value!r} is not {kind}"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not integer"
    elif kind == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r} is not number"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if kind == "object":
        for name in schema.get("required", []):
            assert name in value, f"{where}.{name} is missing"
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                conforms(value[name], sub, f"{where}.{name}")
    if kind == "array":
        for index, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{index}]")


def documented(path: str, method: str, status: int) -> dict[str, Any]:
    return OPENAPI_PATHS[path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


def crafted(stask: Any) -> None:
    now = utcnow()
    add_rows(
        stask,
        [
            {"status": 80, "run_ms": ms, "wait_ms": ms * 2, "finished_at": now - timedelta(minutes=ms)}
            for ms in range(1, 21)
        ],
    )
    add_rows(
        stask,
        [
            {
                "identifier": "flaky",
                "action": "run",
                "status": 100,
                "run_ms": 50,
                "wait_ms": 1,
                "error": "RuntimeError: boom",
                "finished_at": now - timedelta(minutes=2),
            }
            for _ in range(5)
        ],
    )


def test_summary_and_workers_match_the_data(web_app: Flask, client: FlaskClient) -> None:
    stask = web_app.extensions["stask"]
    with web_app.app_context():
        crafted(stask)
    body = client.get("/stask/performance/summary?hours=2", headers=ADMIN).get_json()
    conforms(body, documented("/performance/summary", "get", 200))
    figures = body["summary"]
    assert figures["totals"]["finished"] == 20 and figures["totals"]["failed"] == 5
    assert figures["run_ms"] == {"count": 25, "avg": round((210 + 250) / 25, 1), "p50": 13, "p95": 50, "max": 50}
    with web_app.app_context():
        expected = summary(stask.db.session, 2)
    moving = ("window", "series")  # both end at "now", which moved between the two reads
    assert {k: v for k, v in figures.items() if k not in moving} == {
        k: v for k, v in expected.items() if k not in moving
    }
    assert [p["finished"] for p in figures["series"]] == [p["finished"] for p in expected["series"]]

    workers = client.get("/stask/performance/workers?hours=2", headers=READER).get_json()
    conforms(workers, documented("/performance/workers", "get", 200))
    by_id = {w["identifier"]: w for w in workers["workers"]}
    assert by_id["echo"]["run_ms"]["p95"] == 19 and by_id["flaky"]["error_rate"] == 1.0
    only = client.get("/stask/performance/workers?identifier=flaky", headers=READER).get_json()
    assert [w["identifier"] for w in only["workers"]] == ["flaky"]
    assert only["workers"][0]["actions"][0]["action"] == "run"


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/stask/performance/summary?hours=0", 400, "invalid_input"),
        ("/stask/performance/summary?hours=abc", 400, "invalid_input"),
        ("/stask/performance/summary?hours=-3", 400, "invalid_input"),
        ("/stask/performance/summary?hours=100000", 400, "invalid_input"),
        ("/stask/performance/workers?hours=1.5", 400, "invalid_input"),
        ("/stask/performance/workers?identifier=../x", 400, "invalid_input"),
        ("/stask/performance/workers?identifier=nobody", 404, "unknown_worker"),
        ("/stask/performance/fragments/nope", 404, "not_found"),
    ],
)
def test_bad_input_gives_the_error_shape(make_app: Callable[..., Flask], url: str, status: int, code: str) -> None:
    app = make_app(discover=True, **AUTH)
    response = app.test_client().get(url, headers={**ADMIN, "Accept": "application/json"})
    assert response.status_code == status
    assert response.get_json() == {
        "success": False,
        "error": {"code": code, "message": response.get_json()["error"]["message"]},
    }
    assert response.get_json()["error"]["message"]


def test_everything_but_health_needs_credentials(client: FlaskClient) -> None:
    for url in (
        "/stask/performance/summary",
        "/stask/performance/workers",
        "/stask/performance/alerts",
        "/stask/cache/stats",
        "/stask/metrics",
    ):
        response = client.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 401, url
        assert response.get_json()["success"] is False
    assert client.get("/stask/health").status_code == 200
    assert client.post("/stask/cache/clear", headers={"Accept": "application/json"}).status_code == 401
    assert client.post("/stask/cache/clear", headers=READER).status_code == 403
    metrics = client.get("/stask/metrics", headers=READER)
    assert metrics.status_code == 200 and metrics.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_cache_statistics_move_as_tasks_are_created(web_app: Flask, client: FlaskClient) -> None:
    stask = web_app.extensions["stask"]
    client.post("/stask/cache/clear", headers=ADMIN)
    with web_app.app_context():
        stask.runtime.workers.reset_stats()
        for _ in range(3):
            stask.create("echo", "say")  # the first resolves from the database, the next two from L1
    cache = client.get("/stask/cache/stats", headers=READER).get_json()
    conforms(cache, documented("/cache/stats", "get", 200))
    stats = cache["cache"]
    assert (stats["misses"], stats["l1_hits"], stats["l2_hits"]) == (1, 2, 0)
    assert stats["hit_rate"] == round(2 / 3, 4) and stats["l1_size"] == 1 and stats["l2_size"] == 1

    cleared = client.post("/stask/cache/clear", headers=ADMIN).get_json()["cache"]
    assert (cleared["l1_size"], cleared["l2_size"], cleared["evictions"]) == (0, 0, 1)
    with web_app.app_context():
        stask.create("echo", "say")
    assert client.get("/stask/cache/stats", headers=READER).get_json()["cache"]["misses"] == 2


def test_alerts_endpoint_fires_clears_and_delivers(make_app: Callable[..., Flask]) -> None:
    hook = Recorder()
    try:
        app = make_app(STASK_ALERT_WEBHOOK_URL=hook.url, **AUTH)
        client = app.test_client()
        idle = client.get("/stask/performance/alerts", headers=READER).get_json()
        assert idle == {"success": True, "count": 0, "alerts": []} and hook.received == []
        with app.app_context():
            add_rows(app.extensions["stask"], [{"status": 100, "error": "boom", "finished_at": utcnow()}] * 5)
        firing = client.get("/stask/performance/alerts", headers=READER).get_json()
        conforms(firing, documented("/performance/alerts", "get", 200))
        assert [a["type"] for a in firing["alerts"]] == ["failure_rate"]
        assert len(hook.received) == 1  # reading the endpoint delivered it ...
        client.get("/stask/performance/alerts", headers=READER)
        assert len(hook.received) == 1  # ... once per cool-down
    finally:
        hook.close()


def test_health_document(client: FlaskClient) -> None:
    body = client.get("/stask/health").get_json()
    conforms(body, documented("/health", "get", 200))


def test_performance_page_and_fragments(web_app: Flask, client: FlaskClient) -> None:
    with web_app.app_context():
        crafted(web_app.extensions["stask"])
    page = client.get("/stask/performance?hours=6", headers=ADMIN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('<svg class="chart-svg"') == 3 and "chart-line" in html
    assert 'data-identifier="flaky"' in html and "RuntimeError: boom" in html
    assert 'data-type="failure_rate"' in html and "5 of 19 tasks failed" in html  # 15-minute window
    assert 'id="perf-health"' in html and 'id="perf-cache"' in html and "Clear cache" in html
    assert "<script>" not in html and " style=" not in html and "onclick" not in html
    assert re.search(r'hx-get="/stask/performance/fragments/charts\?hours=6"', html)
    for name in ("charts", "workers", "alerts", "cache", "health"):
        fragment = client.get(f"/stask/performance/fragments/{name}?hours=6", headers={**ADMIN, "HX-Request": "true"})
        assert fragment.status_code == 200 and f'id="perf-{name}"' in fragment.get_data(as_text=True)
    assert client.get("/stask/performance?hours=0", headers=ADMIN).status_code == 400
    readonly = client.get("/stask/performance", headers=READER).get_data(as_text=True)
    assert "Clear cache" not in readonly


def test_cache_clear_from_the_page_needs_csrf(web_app: Flask, client: FlaskClient) -> None:
    login_page = client.get("/stask/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    client.post("/stask/login", data={"password": "pw", "csrf_token": token})
    page = client.get("/stask/performance").get_data(as_text=True)
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page).group(1)
    htmx = {"HX-Request": "true"}
    assert client.post("/stask/cache/clear", headers=htmx).status_code == 403
    response = client.post("/stask/cache/clear", headers={**htmx, "X-CSRF-Token": csrf})
    assert response.status_code == 200 and 'id="perf-cache"' in response.get_data(as_text=True)
    assert "Cache cleared." in response.get_data(as_text=True)
    form = client.post("/stask/cache/clear", data={"csrf_token": csrf})
    assert form.status_code == 303 and form.headers["Location"].endswith("/stask/performance")


def test_the_performance_page_reads_its_window_once(web_app: Flask, client: FlaskClient) -> None:
    """The page shows the summary and the per-worker table of one window: one read of its rollups
    and one scan of its ends serve both (the alert rules' 15 minutes are a second window), and its
    statements are a fixed number, however many rows and workers there are."""
    with web_app.app_context():
        crafted(web_app.extensions["stask"])
    client.get("/stask/performance?hours=720", headers=ADMIN)  # rolls up the closed hours first
    with Statements(web_app) as counted:
        assert client.get("/stask/performance?hours=720", headers=ADMIN).status_code == 200
    rollup_reads = [s for s in counted.statements if "s_stats_" in s and "run_hist" in s]
    outcome_scans = [s for s in counted.statements if "s_tasks" in s and "GROUP BY" in s and "peak_memory_kb" in s]
    # One of each for the page's window, one for the alerts' (whose 15 minutes may hold no rollup).
    assert len(outcome_scans) == 2 and len(rollup_reads) <= 2, counted.statements
    # 28 when each part read the window itself; the stuck rule takes its running workers from
    # the per-worker table's counts instead of reading s_task_counts again.
    assert counted.count <= 20, counted.statements
    with web_app.app_context():
        add_rows(web_app.extensions["stask"], [{"status": 80, "finished_at": utcnow(), "run_ms": 5}] * 50)
    with Statements(web_app) as again:
        client.get("/stask/performance?hours=720", headers=ADMIN)
    assert again.count == counted.count


def test_figures_read_twice_are_the_same(web_app: Flask) -> None:
    """Parsed rollup rows are kept between reads: merging a window into them must not change them
    (one ``now`` for every read: the clock must not move a slice from the rows to a rollup)."""
    from stask.monitoring.metrics import performance, worker_stats

    now = utcnow()
    with web_app.app_context():
        stask = web_app.extensions["stask"]
        crafted(stask)
        add_rows(
            stask,
            [
                {
                    "status": 100 if i % 3 else 80,
                    "run_ms": 40 + i,
                    "wait_ms": i,
                    "error": f"E{i % 2}",
                    "finished_at": now - timedelta(hours=2 + i % 4, minutes=i),
                }
                for i in range(30)
            ],
        )
        session = stask.db.session
        reads = [
            (summary(session, 24, now=now), worker_stats(session, 24, now=now), performance(session, 24, now=now))
            for _ in range(3)
        ]
    assert reads[0] == reads[1] == reads[2]
    assert reads[0][2] == (reads[0][0], reads[0][1])  # the page's one read gives what each part gives
