"""The CSV importer end to end in Chromium: choose a file in the run form (it uploads in chunks),
start, watch the task finish, read its summary and download the error report."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.support.apps import Resources, build_app, close_app
from tests.support.browser import DESKTOP, PASSWORD, PHONE, SCREENSHOTS

pytestmark = pytest.mark.browser

#: The app's request limit here: the test file is several times larger, so it must go in chunks.
REQUEST_LIMIT = 48 * 1024
SECTION = "#run-csv_import-import"


@pytest.fixture(scope="module")
def live_app(resources: Resources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The browser tests' app with a small request limit (this module only)."""
    app = build_app(
        resources,
        "sqlite",
        tmp_path_factory.mktemp("browser-import"),
        STASK_ADMIN_PASSWORD=PASSWORD,
        MAX_CONTENT_LENGTH=REQUEST_LIMIT,
    )
    with app.app_context():
        app.extensions["stask"].discover_workers()
        app.extensions["stask"].update_worker_settings(
            "csv_import", {"required_columns": "id, email", "column_types": "id:int, email:email, joined:date"}
        )
        app.extensions["stask"].db.session.remove()
    yield app
    close_app(app)


def people(path: Path, rows: int) -> Path:
    """A CSV of ``rows`` people; rows 100 and 2000 are bad (lines 101 and 2001 with the header)."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "email", "joined"])
        for n in range(1, rows + 1):
            email = "nobody-at-example.org" if n == 100 else f"person{n}@example.org"
            joined = "2026-13-01" if n == 2000 else "2024-05-17"
            writer.writerow([n, f"Person number {n}", email, joined])
    return path


def shots(page: Page, name: str, target: Any | None = None) -> None:
    """Screenshots at 1280 and 390 px wide (the part of the page ``target`` covers, when given) into
    test-artifacts. ``caret="initial"``: hiding the caret leaves ``style=""`` on every input, which
    htmx's next swap copies back (``attributesToSettle``), an inline style the CSP refuses."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(150)
        clip = target.bounding_box() if target is not None else None  # page coordinates at the top
        path = str(SCREENSHOTS / f"{name}-{label}.png")
        page.screenshot(path=path, full_page=True, caret="initial", clip=clip)
    page.set_viewport_size(DESKTOP)


def test_upload_start_and_download_the_error_report(admin_page: Page, tmp_path: Path) -> None:
    page = admin_page
    source = people(tmp_path / "people.csv", 2500)
    assert source.stat().st_size > 2 * REQUEST_LIMIT
    ranges: list[str] = []
    page.on(
        "request",
        lambda request: (
            ranges.append(request.headers.get("content-range", "whole"))
            if request.url.endswith("/worker/csv_import/upload")
            else None
        ),
    )
    page.goto("/stask/workers")
    section = page.locator(SECTION)
    section.locator("summary").click()
    upload = section.locator("input[type=file]")
    expect(upload).to_be_visible()
    expect(upload).to_have_attribute("accept", ".csv,.txt")
    expect(page.locator("#worker-csv_import form.upload-form")).to_have_count(0)  # the control is in the form
    shots(page, "csv-import-run-form", page.locator("#worker-csv_import"))

    upload.set_input_files(str(source))
    expect(section.locator(".upload-status.ok")).to_have_text("Uploaded people.csv.", timeout=20_000)
    expect(section.locator("select[name=file]")).to_have_value("people.csv")
    assert len(ranges) >= 3 and all(r.startswith("bytes ") for r in ranges), ranges
    assert ranges[-1].endswith(f"/{source.stat().st_size}")
    shots(page, "csv-import-uploaded", page.locator("#worker-csv_import"))

    section.locator("button.primary").click()
    started = page.locator(f"{SECTION} .started")
    expect(started).to_contain_text("Task started:")
    expect(started.locator(".progress-cell")).to_have_attribute("data-status", "finished", timeout=30_000)
    started.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/stask/tasks/\d+$"))
    expect(page.locator("dd.message")).to_have_text("2,500 rows: 2,498 valid, 2 invalid")
    shots(page, "csv-import-finished-task")

    with page.expect_download() as download_info:
        page.locator("a", has_text=re.compile(r"^errors-\d+\.csv$")).click()
    report = Path(download_info.value.path()).read_text(encoding="utf-8").splitlines()
    assert report == [
        "line,column,value,reason",
        "101,email,nobody-at-example.org,must be an e-mail address",
        "2001,joined,2026-13-01,is not a date in the calendar",
    ]
    with page.expect_download() as valid_info:
        page.locator("a", has_text=re.compile(r"^valid-\d+\.csv$")).click()
    valid = Path(valid_info.value.path()).read_text(encoding="utf-8").splitlines()
    assert valid[:2] == ["id,name,email,joined", "1,Person number 1,person1@example.org,2024-05-17"]
    assert len(valid) == 1 + 2498


def test_a_refused_file_says_why_and_starts_nothing(admin_page: Page, tmp_path: Path) -> None:
    page = admin_page
    bad = tmp_path / "notes.json"
    bad.write_text('{"not": "csv"}')
    page.goto("/stask/workers")
    section = page.locator(SECTION)
    section.locator("summary").click()
    section.locator("input[type=file]").set_input_files(str(bad))
    expect(section.locator(".upload-status.error")).to_contain_text("files of type .json are not accepted here")
    expect(section.locator("button.primary")).to_be_enabled()
    section.locator("button.primary").click()
    expect(section.locator(".error").first).to_have_text("This field is required.")
