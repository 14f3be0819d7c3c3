"""schemathesis with every check against the live app: what the document says is what the server does.

A fixed seed and few examples per operation (``make fuzz`` runs the long version). Every
operation of the served document is exercised, the ones added later included: the list comes
from the document itself, and nothing is left out (see ``tests.support.fuzzing.EXCLUDED``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.support import fuzzing
from tests.support.api import ADMIN_TOKEN, READONLY_TOKEN

#: Fixed, so a failure reproduces; examples per operation and phase (examples and coverage add their own).
SEED = 20261130
ADMIN_EXAMPLES = 12
READONLY_EXAMPLES = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzzed_app(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Flask:
    app = make_app(request.param, discover=True, **fuzzing.FUZZ_CONFIG)
    fuzzing.seed(app)
    return app


@pytest.mark.parametrize(("token", "examples"), [(ADMIN_TOKEN, ADMIN_EXAMPLES), (READONLY_TOKEN, READONLY_EXAMPLES)])
def test_schemathesis_finds_nothing(fuzzed_app: Flask, token: str, examples: int) -> None:
    """No server error, no undocumented status, body or header, no valid input refused and no
    invalid input accepted, on every documented operation."""
    report = fuzzing.run(
        fuzzed_app, seed=SEED, examples=examples, token=token, reset=lambda: fuzzing.restore(fuzzed_app)
    )
    print(f"\nschemathesis, seed {SEED}: {report.summary()}")
    assert not report.failures and not report.errors, report.summary()
    document = fuzzed_app.test_client().get(fuzzing.DOCUMENT, headers={"Authorization": f"Bearer {token}"})
    assert sorted(report.operations) == sorted(fuzzing.operations(document.get_json()))
    assert len(report.operations) >= 28
    succeeded = {label for label, codes in report.statuses.items() if any(200 <= code < 300 for code in codes)}
    if token == ADMIN_TOKEN:  # the run reached real work, not only error paths
        for label in (
            "POST /stask/worker/{identifier}/run/{action}",
            "POST /stask/api/tasks",
            "POST /stask/api/tasks/bulk",
            "GET /stask/task/{task_id}/progress",
            "GET /stask/task/{task_id}/download",
            "GET /stask/api/tasks",
            "GET /stask/api/tasks/{task_id}",
            "GET /stask/api/workers/{identifier}",
            "GET /stask/api/schedules",
            "GET /stask/api/schedules/{schedule_id}",
            "POST /stask/api/schedules",
            "PUT /stask/api/schedules/{schedule_id}",
            "POST /stask/api/schedules/{schedule_id}/pause",
            "POST /stask/api/schedules/{schedule_id}/run",
            "DELETE /stask/api/schedules/{schedule_id}",
            "GET /stask/api/triggers",
            "GET /stask/api/triggers/{trigger_id}",
            "PUT /stask/api/triggers/{trigger_id}",
            "POST /stask/api/triggers/{trigger_id}/rotate",
            "DELETE /stask/api/triggers/{trigger_id}",
            "GET /stask/api/notifications",
            "GET /stask/api/notifications/{notification_id}",
            "POST /stask/api/notifications",
            "PUT /stask/api/notifications/{notification_id}",
            "POST /stask/api/notifications/{notification_id}/test",
            "GET /stask/api/notifications/{notification_id}/deliveries",
            "GET /stask/api/deliveries",
            "POST /stask/api/deliveries/{delivery_id}/redeliver",
            "DELETE /stask/api/notifications/{notification_id}",
        ):
            assert label in succeeded, (label, report.statuses.get(label))
    else:
        assert 403 in report.statuses["POST /stask/api/tasks"]


def test_checks_switched_off_name_documented_operations(api_app: Flask) -> None:
    """An entry of NOT_CHECKED whose operation left the document must go (it would hide nothing, silently)."""
    document = api_app.test_client().get(fuzzing.DOCUMENT, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    labels = set(fuzzing.operations(document.get_json()))
    assert set(fuzzing.NOT_CHECKED) <= labels
    assert set(fuzzing.EXCLUDED) <= labels
