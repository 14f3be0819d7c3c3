"""The workflows' JSON API: dependencies on task creation, groups, chains, waiting_reason, audit."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import ADMIN, READONLY, run_all

ECHO = {"identifier": "echo", "action": "noop"}


def error(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    return str(response.get_json()["error"]["message"])


def test_a_task_with_parents_waits_and_says_why(client: FlaskClient) -> None:
    parent = client.post("/stask/api/tasks", json=ECHO, headers=ADMIN).get_json()["id"]
    created = client.post(
        "/stask/api/tasks", json={**ECHO, "depends_on": [parent], "on_parent_failure": "run"}, headers=ADMIN
    )
    assert created.status_code == 201
    task = created.get_json()["task"]
    assert (task["waiting_parents"], task["on_parent_failure"]) == (1, "run")
    shown = client.get(f"/stask/api/tasks/{task['id']}", headers=READONLY).get_json()["task"]
    assert shown["waiting_reason"]["code"] == "parents" and shown["waiting_reason"]["parents"] == [parent]


def test_missing_parents_are_a_404_naming_them_and_nothing_is_stored(client: FlaskClient) -> None:
    # 404 like an unknown worker: the body is well formed (a 400 would refuse schema-valid input).
    message = error(client.post("/stask/api/tasks", json={**ECHO, "depends_on": [77, 78]}, headers=ADMIN), 404)
    assert "77, 78" in message
    for bad in ({"depends_on": "1"}, {"depends_on": [True]}, {"depends_on": [0]}, {"on_parent_failure": "x"}):
        error(client.post("/stask/api/tasks", json={**ECHO, **bad}, headers=ADMIN), 400)
    assert client.get("/stask/api/tasks", headers=ADMIN).get_json()["total"] == 0


def test_a_group_through_the_api(api_app: Flask, client: FlaskClient) -> None:
    body = {"name": "two", "tasks": [ECHO, ECHO], "on_complete": {"identifier": "echo", "action": "say"}}
    assert client.post("/stask/api/groups", json=body, headers=READONLY).status_code == 403
    created = client.post("/stask/api/groups", json=body, headers=ADMIN)
    assert created.status_code == 201
    group_id = created.get_json()["id"]
    group = created.get_json()["group"]
    assert (group["status"], group["total"], group["counts"]["queued"], group["progress"]) == ("running", 2, 2, 0)
    run_all(api_app)
    group = client.get(f"/stask/api/groups/{group_id}", headers=READONLY).get_json()["group"]
    assert (group["status"], group["progress"], group["counts"]["finished"]) == ("finished", 100, 2)
    assert group["on_complete_task_id"] and group["ended_at"] and group["started_at"]
    listed = client.get("/stask/api/groups", headers=READONLY).get_json()
    assert [g["id"] for g in listed["items"]] == [group_id] and listed["total"] == 1
    assert error(client.post(f"/stask/api/groups/{group_id}/retry-failed", headers=ADMIN), 409)
    assert client.get("/stask/api/groups/999", headers=ADMIN).status_code == 404
    audit = client.get("/stask/api/audit?action=group.create", headers=ADMIN).get_json()
    assert audit["items"][0]["target"] == f"group:{group_id}"


def test_cancel_and_retry_failed_in_a_group(client: FlaskClient) -> None:
    group_id = client.post("/stask/api/groups", json={"tasks": [ECHO, ECHO]}, headers=ADMIN).get_json()["id"]
    cancelled = client.post(f"/stask/api/groups/{group_id}/cancel", headers=ADMIN).get_json()
    assert len(cancelled["cancelled"]) == 2 and cancelled["group"]["status"] == "cancelled"
    retried = client.post(f"/stask/api/groups/{group_id}/retry-failed", headers=ADMIN).get_json()
    assert len(retried["retried"]) == 2 and retried["group"]["status"] == "running"
    actions = [e["action"] for e in client.get("/stask/api/audit", headers=ADMIN).get_json()["items"]]
    assert "group.cancel" in actions and "group.retry_failed" in actions


def test_bad_groups_and_chains_are_refused(client: FlaskClient) -> None:
    for body in (
        {"tasks": []},
        {"tasks": [ECHO], "name": " "},
        {"tasks": [{**ECHO, "depends_on": [1]}]},
        {"tasks": [{"identifier": "echo"}]},
        {"tasks": [ECHO], "on_complete": {"action": "noop"}},
        {"tasks": [ECHO], "extra": 1},
    ):
        error(client.post("/stask/api/groups", json=body, headers=ADMIN), 400)
    error(client.post("/stask/api/chains", json={"tasks": "x"}, headers=ADMIN), 400)
    assert client.get("/stask/api/tasks", headers=ADMIN).get_json()["total"] == 0


def test_a_chain_through_the_api(api_app: Flask, client: FlaskClient) -> None:
    created = client.post("/stask/api/chains", json={"tasks": [ECHO, ECHO, ECHO]}, headers=ADMIN)
    assert created.status_code == 201
    ids = created.get_json()["ids"]
    assert len(ids) == 3
    last = client.get(f"/stask/api/tasks/{ids[2]}", headers=ADMIN).get_json()["task"]
    assert last["waiting_reason"]["parents"] == [ids[1]]
    run_all(api_app)
    assert client.get(f"/stask/api/tasks/{ids[2]}", headers=ADMIN).get_json()["task"]["status"] == 80
