"""The guarded statements that decide, among processes, who releases a dependent and who ends a group."""

from __future__ import annotations

from typing import Any

import pytest

from stask.models import utcnow
from stask.service import workflow_store
from tests.support.tasks import fresh
from tests.workflows.plugins import FLOW_WORKERS

pytestmark = pytest.mark.app_config(STASK_WORKERS=FLOW_WORKERS)


def test_only_the_last_parents_count_down_releases(stask: Any) -> None:
    a = stask.create("flow", "step")
    b = stask.create("flow", "step")
    child = stask.create("flow", "step", depends_on=[a.id, b.id])
    session = stask.db.session
    # A stale hint (another process moved the counter) tries the releasing form first: its guard refuses.
    assert workflow_store.count_down(session, child.id, 1, hint=1, now=utcnow()) is False
    session.commit()
    assert fresh(stask, child.id).waiting_parents == 1
    assert workflow_store.count_down(session, child.id, 1, hint=2, now=utcnow()) is True
    session.commit()
    assert fresh(stask, child.id).waiting_parents == 0
    assert workflow_store.count_down(session, child.id, 1, hint=1, now=utcnow()) is None  # nothing left to count
    session.commit()


def test_a_group_ends_only_when_its_last_member_ended(stask: Any) -> None:
    specs = [{"identifier": "flow", "action": "step", "data": {"label": str(i)}} for i in range(2)]
    group = stask.group(specs, on_failure={"identifier": "flow", "action": "step", "data": {"label": "oops"}})
    first, second = workflow_store.member_ids(stask.db.session, group.id)
    stask.cancel(first)
    view = stask.get_group(group.id)
    assert view.group.status == "running" and view.group.on_failure_task_id is None
    assert view.progress == 50
    assert workflow_store.end_group(stask.db.session, group.id, utcnow()) is False
    stask.db.session.commit()
    stask.cancel(second)
    view = stask.get_group(group.id)
    assert view.group.status == "cancelled" and view.group.on_failure_task_id is not None
