"""The OpenAPI document: valid, complete, and what the live app really answers (schemathesis)."""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from flask import Flask

from stask.web.monitoring import OPENAPI_PATHS
from stask.web.openapi import build_document
from tests.support.api import ADMIN, READONLY


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
        if rule.endpoint.startswith(("stask_api.", "stask_hooks.")):  # the JSON blueprints
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
                continue  # public (health, the trigger hooks)
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


def test_every_pattern_is_an_ecma_262_pattern(api_app: Flask) -> None:
    """JSON Schema patterns are ECMA 262: Python's ``\\A`` and ``\\Z`` anchors mean something else
    there (``\\Z`` is no anchor at all), so a document using them refuses every valid value."""
    document = api_app.test_client().get("/stask/api/openapi.json", headers=READONLY).get_json()
    patterns: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.append(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert patterns, "the document states patterns"
    for pattern in patterns:
        re.compile(pattern)
        assert "\\A" not in pattern and "\\Z" not in pattern, pattern
