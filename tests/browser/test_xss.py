"""User text is inert in a real browser: no payload runs on any page that shows it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page

from stask.enums import Status
from stask.models import Task

pytestmark = pytest.mark.browser
PAYLOAD = '"><script>window.__xss=1</script><img src=x onerror="window.__xss=2"><svg onload="window.__xss=3">'


def test_payloads_in_message_data_error_and_log_do_not_run(admin_page: Page, stask_app: Flask) -> None:
    ext = stask_app.extensions["stask"]
    task = ext.create("echo", "say", data={"text": PAYLOAD})
    ext.db.session.execute(
        sa.update(Task)
        .where(Task.id == task.id)
        .values(status=int(Status.FAILED), message=PAYLOAD, error=PAYLOAD, attempts=1)
    )
    ext.db.session.commit()
    ext.runtime.storage.append_log(task.id, PAYLOAD)
    dialogs: list[str] = []
    admin_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for path in (f"/stask/tasks/{task.id}", "/stask/tasks?q=script", "/stask/"):
        admin_page.goto(path)
        admin_page.wait_for_load_state("networkidle")
        assert admin_page.evaluate("window.__xss") is None, path
        assert admin_page.locator("img[src=x], svg[onload]").count() == 0, path
    admin_page.goto(f"/stask/tasks/{task.id}")
    assert PAYLOAD in admin_page.inner_text("main")  # shown as text, not markup
    assert dialogs == []
