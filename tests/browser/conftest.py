"""Browser fixtures: the real app behind a real HTTP server, a real worker process, Chromium.

Chromium is the Debian package (``make chromium``); Playwright never downloads a browser. Without
it the browser tests skip when run by hand and fail under ``CI=true``.
One server and one worker serve each test module (starting them costs more than the tests);
both end with the module, so no stray worker takes jobs of the tests that follow.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rq
from flask import Flask
from playwright.sync_api import Page
from werkzeug.serving import make_server

from tests.support.apps import Resources, build_app, close_app, redis_of
from tests.support.browser import CHROMIUM, DESKTOP, PASSWORD, login
from tests.support.environment import IN_CI
from tests.support.waiting import wait_for
from tests.support.workers import spawn_worker, stop


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: run `make chromium`"
        if IN_CI:  # like a server that is down: CI must never pass by skipping
            pytest.fail(f"{reason} (CI=true: the browser tests must run)")
        pytest.skip(reason)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="module")
def live_app(resources: Resources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app on SQLite with the test workers discovered and a password login; closed with the module."""
    tmp = tmp_path_factory.mktemp("browser")
    app = build_app(resources, "sqlite", tmp, STASK_ADMIN_PASSWORD=PASSWORD)
    with app.app_context():
        app.extensions["stask"].discover_workers()
        app.extensions["stask"].db.session.remove()
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def live_server(live_app: Flask) -> Iterator[str]:
    """werkzeug's threaded server on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def worker_process(live_app: Flask) -> Iterator[Any]:
    """One real ``flask stask worker`` (SimpleWorker), registered in RQ before any test uses it."""
    process = spawn_worker(live_app, "simple")
    connection = redis_of(live_app)
    wait_for(lambda: rq.Worker.all(connection=connection) or process.poll() is not None, what="the worker to start")
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else "worker exited"
    yield process
    stop(process)


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server: str) -> dict[str, Any]:
    """Pages resolve ``page.goto("/stask/")`` against the live server; downloads are allowed."""
    return {**browser_context_args, "base_url": live_server, "accept_downloads": True, "viewport": DESKTOP}


@pytest.fixture
def stask_app(live_app: Flask) -> Iterator[Flask]:
    """An app context for tests that prepare rows directly."""
    with live_app.app_context():
        yield live_app
        live_app.extensions["stask"].db.session.remove()


@pytest.fixture
def admin_page(page: Page, live_server: str, worker_process: Any) -> Iterator[Page]:
    """A signed-in admin page (the worker process is running); fails on CSP violations or JS errors."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and ("Content Security Policy" in message.text or "Refused" in message.text)
            else None
        ),
    )
    page.set_default_timeout(10_000)
    login(page)
    yield page
    assert not problems, problems
