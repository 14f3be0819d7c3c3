"""The OpenAPI document: valid, complete, and what the live app really answers (schemathesis)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from stask.enums import Status
from stask.web.monitoring import OPENAPI_PATHS
from stask.web.openapi import build_document
from tests.support.api import ADMIN, READONLY, create, run_all, set_row

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
#: Examples per operation: enough to find 5xx and schema drift, few enough to stay well under 30 s.
POSITIVE_EXAMPLES = 15
NEGATIVE_EXAMPLES = 8
READONLY_EXAMPLES = 3


def flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule)


def test_document_is_valid_openapi(api_app: Flask) -> None:
    response = api_app.test_client().get("/stask/api/openapi.json", headers=READONLY)
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    schemathesis.openapi.from_dict(document).validate()


def test_every_json_route_is_documented(api_app: Flask) -> None:
    document = api_app.test_client().get("/stask/api/openapi.json", headers=READONLY).get_json()
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    routes = set()
    for rule in api_app.url_map.iter_rules():
        if rule.endpoint.startswith("stask_api."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((flask_to_openapi(rule.rule), method.lower()))
    assert routes - documented == set()
    per_worker = {(p, m) for p, m in documented if re.fullmatch(r"/stask/api/workers/[a-z0-9_.-]+/settings", p)}
    assert (
        documented - routes - per_worker - {("/stask" + p, m) for p, item in OPENAPI_PATHS.items() for m in item}
        == set()
    )
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:
                continue  # public (health)
            codes = set(operation["responses"])
            assert "401" in codes, (path, method)
            if method != "get":
                assert "403" in codes, (path, method)


def test_monitoring_paths_are_merged_under_the_prefix() -> None:
    document = build_document("/admin/tasks")
    assert "/admin/tasks/api/tasks" in document["paths"]
    for path in OPENAPI_PATHS:
        assert "/admin/tasks" + path in document["paths"]
    assert not [p for p in document["paths"] if not p.startswith("/admin/tasks/")]


def test_document_follows_a_custom_prefix(make_api_app: Any) -> None:
    app = make_api_app(STASK_URL_PREFIX="/admin/jobs")
    client = app.test_client()
    document = client.get("/admin/jobs/api/openapi.json", headers=ADMIN).get_json()
    assert "/admin/jobs/worker/{identifier}/run/{action}" in document["paths"]
    assert client.post("/admin/jobs/worker/echo/run/noop", headers=ADMIN).status_code == 201


@pytest.fixture
def seeded_app(api_app: Flask) -> Flask:
    """Tasks in every state (small ids, which hypothesis tries first) and a downloadable result."""
    written = create(api_app, "echo", "write_file", data={"text": "a,b\n"})
    run_all(api_app)
    failed, cancelled, running = create(api_app), create(api_app), create(api_app)
    create(api_app, "importer", "load")
    set_row(api_app, failed, status=int(Status.FAILED), attempts=1, error="boom")
    set_row(api_app, cancelled, status=int(Status.CANCELLED))
    set_row(api_app, running, status=int(Status.RUNNING), attempts=1)
    assert written == 1
    return api_app


def _destructive_last(operation: Any) -> int:
    """Reads first, deletions last: the seeded tasks stay there for every other operation."""
    if operation.method.upper() == "GET":
        return 0
    return 2 if operation.method.upper() == "DELETE" or operation.path.endswith("/bulk") else 1


def _activate_all(app: Flask) -> None:
    with app.app_context():
        ext = app.extensions["stask"]
        for worker in ext.get_workers():
            if not worker.active:
                ext.activate_worker(worker.identifier)
        ext.db.session.remove()


def _exercise(
    strategy: Any,
    operation: Any,
    mode: GenerationMode,
    examples: int,
    headers: dict[str, str],
    seen: dict[str, set[int]],
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        seen[operation.label].add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE  # nothing to make invalid (no parameters, no body)


def test_live_api_conforms_to_its_document(seeded_app: Flask) -> None:
    """Generated requests (valid and invalid) against the live app: no 5xx, every answer as documented."""
    schema = schemathesis.openapi.from_wsgi("/stask/api/openapi.json", seeded_app, headers=ADMIN)
    seen: dict[str, set[int]] = defaultdict(set)
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_destructive_last)
    assert len(operations) >= 25
    positive, negative = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
    for operation in operations:
        for strategy in schema.get_strategies_from_examples(operation):  # the documented examples
            _exercise(strategy, operation, positive, 2, ADMIN, seen)
        _exercise(operation.as_strategy(generation_mode=positive), operation, positive, POSITIVE_EXAMPLES, ADMIN, seen)
        _exercise(operation.as_strategy(generation_mode=negative), operation, negative, NEGATIVE_EXAMPLES, ADMIN, seen)
        _exercise(operation.as_strategy(), operation, positive, READONLY_EXAMPLES, READONLY, seen)
        _activate_all(seeded_app)  # a generated "deactivate" must not hide the other operations' success paths
    # The run reached real work, not only error paths.
    succeeded = {label for label, codes in seen.items() if any(200 <= code < 300 for code in codes)}
    for label in (
        "POST /stask/worker/{identifier}/run/{action}",
        "GET /stask/task/{task_id}/progress",
        "GET /stask/task/{task_id}/download",
        "GET /stask/api/tasks",
        "GET /stask/api/tasks/{task_id}",
        "GET /stask/stats",
        "GET /stask/api/workers",
    ):
        assert label in succeeded, (label, seen[label])
    assert all(code < 500 for codes in seen.values() for code in codes)
    assert any(403 in codes for codes in seen.values())  # the read-only pass was refused somewhere
