"""Each rule the server enforces is in the OpenAPI document, and each declared rule is enforced.

schemathesis (``test_fuzzing.py``) finds disagreements by chance; these pin the ones issue 9
found, one request each.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stask.validation import MAX_ID
from tests.support.api import ADMIN, READONLY, create, error_code


def _document(client: FlaskClient) -> dict[str, Any]:
    return client.get("/stask/api/openapi.json", headers=READONLY).get_json()  # type: ignore[no-any-return]


def _parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for parameter in document["paths"][path][method]["parameters"]:
        if parameter["name"] == name:
            return parameter  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {path} has no parameter {name}")


def _body(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]["properties"]  # type: ignore[no-any-return]


def test_the_document_states_identifier_action_status_and_date_rules(client: FlaskClient) -> None:
    document = _document(client)
    run = "/stask/worker/{identifier}/run/{action}"
    identifier = _parameter(document, run, "post", "identifier")["schema"]
    action = _parameter(document, run, "post", "action")["schema"]
    assert re.fullmatch(identifier["pattern"], "csv_export") and not re.fullmatch(identifier["pattern"], "CSV")
    assert re.fullmatch(action["pattern"], "export") and not re.fullmatch(action["pattern"], "a b")
    status = _parameter(document, "/stask/api/tasks", "get", "status")
    assert re.fullmatch(status["schema"]["pattern"], "failed,10") and not re.fullmatch(status["schema"]["pattern"], "x")
    assert status["allowEmptyValue"] is True  # the panel's filter form sends empty fields
    start_at = _body(document, "RunRequest")["start_at"]["pattern"]
    assert re.fullmatch(start_at, "2030-01-31T12:00:00Z") and not re.fullmatch(start_at, "1999-12-31T00:00:00Z")
    assert not re.fullmatch(start_at, "2026-02-29T00:00") and re.fullmatch(start_at, "2028-02-29T00:00")
    assert _body(document, "BulkRequest")["ids"]["items"]["maximum"] == MAX_ID
    assert _parameter(document, "/stask/api/tasks/{task_id}", "get", "task_id")["schema"]["maximum"] == MAX_ID
    hours = _parameter(document, "/stask/performance/summary", "get", "hours")
    assert "allowEmptyValue" not in hours  # so an empty hours= is invalid, and refused


def test_every_authenticated_operation_declares_the_guards_answers(client: FlaskClient) -> None:
    """401, 403, 413 and 429 can come from the guard before any view runs, on every operation."""
    for path, item in _document(client)["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            if operation.get("security") == []:
                assert "413" in codes, (method, path)
                continue
            assert {"401", "403", "413", "429"} <= codes, (method, path)


@pytest.mark.parametrize(
    "url",
    [
        "/stask/performance/summary?hours=",
        "/stask/performance/workers?hours=",
        "/stask/performance/workers?identifier=",
        "/stask/task/1/progress?lines=",
        "/stask/task/1/download?file=",
    ],
)
def test_an_empty_value_the_document_does_not_allow_is_refused(api_app: Flask, client: FlaskClient, url: str) -> None:
    create(api_app)
    assert error_code(client.get(url, headers=READONLY), 400) == "invalid_input"


def test_an_empty_list_filter_means_not_given(api_app: Flask, client: FlaskClient) -> None:
    create(api_app)
    query = "status=&identifier=&action=&priority=&created_from=&created_to=&q=&sort=&order=&page=&per_page="
    body = client.get(f"/stask/api/tasks?{query}", headers=READONLY).get_json()
    assert body["total"] == 1


@pytest.mark.parametrize(
    "query",
    ["status=FAILED", "status=failed,", "status=%20failed", "order=DESC", "priority=HIGH", "identifier=echo%0A"],
)
def test_list_filters_match_exactly(api_app: Flask, client: FlaskClient, query: str) -> None:
    """No trimming, no case folding: exactly what the patterns and enums say."""
    assert error_code(client.get(f"/stask/api/tasks?{query}", headers=READONLY), 400) == "invalid_input"


def test_created_from_after_created_to_is_an_empty_list(api_app: Flask, client: FlaskClient) -> None:
    """Not an error: a JSON Schema cannot compare two parameters, so the document could not say it."""
    create(api_app)
    response = client.get("/stask/api/tasks?created_from=2026-02-01&created_to=2026-01-01", headers=READONLY)
    assert response.status_code == 200 and response.get_json()["items"] == []


def test_bulk_ids_beyond_64_bits_are_bad_input(client: FlaskClient) -> None:
    response = client.post("/stask/api/tasks/bulk", json={"action": "retry", "ids": [2**63]}, headers=ADMIN)
    assert error_code(response, 400) == "invalid_input"


@pytest.mark.parametrize("task_id", ["0", str(2**63), "\u0663"])  # "٣" is a Unicode decimal digit
def test_a_path_id_the_document_refuses_names_no_task(api_app: Flask, client: FlaskClient, task_id: str) -> None:
    for _ in range(3):
        create(api_app)
    assert client.get(f"/stask/api/tasks/{task_id}", headers=READONLY).status_code == 404
    assert client.delete(f"/stask/api/tasks/{task_id}", headers=ADMIN).status_code == 404  # not 405


def test_options_on_discover_lists_only_post(client: FlaskClient) -> None:
    response = client.options("/stask/api/workers/discover", headers=ADMIN)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    assert error_code(client.get("/stask/api/workers/discover", headers=ADMIN), 405) == "method_not_allowed"
    assert client.get("/stask/api/workers/echo", headers=ADMIN).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"start_at": ""},
        {"start_at": "2030-01-31 12:00:00"},
        {"start_at": "2030-01-31T12:00:00+0100"},
        {"start_at": "9001-01-01T00:00:00Z"},
        {"priority": "HIGH"},
        {"priority": None},
        {"max_attempts": "5"},
        {"max_attempts": 1.0},
    ],
)
def test_run_fields_are_as_strict_as_the_document(client: FlaskClient, body: dict[str, Any]) -> None:
    assert error_code(client.post("/stask/worker/echo/run/say", json=body, headers=ADMIN), 400) == "invalid_input"


def test_start_at_years_are_those_written(client: FlaskClient) -> None:
    """2000-01-01T00:30+01:00 is 1999 in UTC, yet inside the declared range: it is taken."""
    body = {"start_at": "2000-01-01T00:30:00+01:00"}
    response = client.post("/stask/worker/echo/run/say", json=body, headers=ADMIN)
    assert response.status_code == 201
    assert response.get_json()["task"]["start_at"] == "1999-12-31T23:30:00Z"


@pytest.mark.parametrize("path", ["/stask/api/workers/echo/settings", "/stask/api/tasks/bulk", "/stask/api/tasks"])
def test_a_required_body_cannot_be_left_out(client: FlaskClient, path: str) -> None:
    method = "put" if path.endswith("/settings") else "post"
    assert error_code(getattr(client, method)(path, headers=ADMIN), 400) == "invalid_input"


def test_the_schedule_list_follows_the_list_rules(api_app: Flask, client: FlaskClient) -> None:
    """Empty means "not given"; anything else must match exactly (no trimming), as on the task list."""
    everything = client.get("/stask/api/schedules?identifier=&page=&per_page=", headers=READONLY)
    assert everything.status_code == 200 and everything.get_json()["per_page"] == 50
    for query in ("identifier=echo%0A", "identifier=%20echo", "page=%201", "per_page=201", "page=\u0661"):
        assert error_code(client.get(f"/stask/api/schedules?{query}", headers=READONLY), 400) == "invalid_input"


@pytest.mark.parametrize("schedule_id", ["0", str(2**63), "\u0663"])
def test_a_path_id_the_document_refuses_names_no_schedule(client: FlaskClient, schedule_id: str) -> None:
    assert client.get(f"/stask/api/schedules/{schedule_id}", headers=READONLY).status_code == 404
    assert client.delete(f"/stask/api/schedules/{schedule_id}", headers=ADMIN).status_code == 404  # not 405


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": None},
        {"name": "tab\there"},
        {"name": "x" * 120 + " "},
        {"timezone": ""},
        {"timezone": "../etc/passwd"},
        {"misfire": None},
        {"priority": "HIGH"},
        {"jitter": False},
        {"start_date": "2030-01-31 12:00:00"},
    ],
)
def test_schedule_fields_are_as_strict_as_the_document(client: FlaskClient, body: dict[str, Any]) -> None:
    full = {"identifier": "echo", "action": "say", "interval": 3600, **body}
    assert error_code(client.post("/stask/api/schedules", json=full, headers=ADMIN), 400) == "invalid_input"
