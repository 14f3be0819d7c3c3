"""Worker settings over the API: typed, bounded, all or nothing; stale values and secrets."""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from stask import Status
from stask.models import Worker
from tests.support.api import ADMIN, AUTH_CONFIG, READONLY, error_code, login, run_all
from tests.support.settings_plugins import SECRET, VAULT_WORKERS
from tests.support.tasks import fresh

URL = "/stask/api/workers/csv_export/settings"


def put(client: FlaskClient, body: Any, url: str = URL) -> Any:
    return client.put(url, data=json.dumps(body), content_type="application/json", headers=ADMIN)


def store_raw(app: Flask, identifier: str, settings: dict[str, Any]) -> None:
    """Write a worker's settings straight into its row, as an older plugin version left them."""
    with app.app_context():
        ext = app.extensions["stask"]
        ext.db.session.execute(sa.update(Worker).where(Worker.identifier == identifier).values(settings=settings))
        ext.db.session.commit()
        ext.runtime.workers.invalidate()
        ext.db.session.remove()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"batch_size": 3_000_000_000}, "setting 'batch_size' must be at most 100000"),
        ({"batch_size": -3}, "setting 'batch_size' must be at least 1"),
        ({"batch_size": 0}, "setting 'batch_size' must be at least 1"),
        ({"batch_size": "500"}, "setting 'batch_size' must be a whole number"),
        ({"batch_size": True}, "setting 'batch_size' must be a whole number"),
        ({"delimiter": ""}, "setting 'delimiter' must be at least 1"),
        ({"delimiter": ";;"}, "setting 'delimiter' must be at most 1"),
        ({"delimiter": "\x00"}, "setting 'delimiter' must not contain control characters"),
        ({"delimiter": "\ud800"}, "setting 'delimiter' must not contain lone surrogates"),
        ({"colour": "red"}, "unknown setting 'colour'"),
    ],
)
def test_bad_settings_are_400_naming_the_setting_and_nothing_is_stored(
    any_client: FlaskClient, body: dict[str, Any], named: str
) -> None:
    before = any_client.get(URL, headers=ADMIN).get_json()
    response = put(any_client, {"delimiter": ";", **body} if "delimiter" not in body else {"batch_size": 9, **body})
    assert error_code(response, 400) == "invalid_input"
    assert named in response.get_json()["error"]["message"]
    assert any_client.get(URL, headers=ADMIN).get_json() == before  # all or nothing: the valid one is not stored


def test_good_settings_are_stored_and_reach_task_code(api_app_any: Flask) -> None:
    client = api_app_any.test_client()
    body = put(client, {"batch_size": 100_000, "delimiter": "\t"}).get_json()
    assert body["settings"] == {"batch_size": 100_000, "delimiter": "\t"} and body["invalid"] == {}
    assert body["fields"]["batch_size"]["min"] == 1 and body["fields"]["batch_size"]["max"] == 100_000
    assert body["fields"]["batch_size"]["label"] == "Batch size"
    task_id = client.post("/stask/api/tasks", json={"identifier": "csv_export", "action": "export"}, headers=ADMIN)
    run_all(api_app_any)
    with api_app_any.app_context():
        ext = api_app_any.extensions["stask"]
        row = fresh(ext, task_id.get_json()["id"])
        assert row.status == Status.FINISHED, row.error
        header = ext.runtime.storage.result_file(row.id, row.result).read_text().splitlines()[0]
    assert header.startswith("id\tidentifier\t")
    reset = put(client, {"delimiter": None}).get_json()  # null: back to the default
    assert reset["stored"] == {"batch_size": 100_000} and reset["settings"]["delimiter"] == ","


def test_stale_stored_values_warn_and_never_crash(api_app_any: Flask, backend: str) -> None:
    """Values a plugin upgrade made invalid: the API reports them, the page warns, the task uses defaults."""
    # finding 4 stored a lone surrogate; MariaDB's JSON check refuses one, so there an empty delimiter
    stale = {"batch_size": 3_000_000_000, "delimiter": "" if backend == "mariadb" else "\ud800", "format": "xlsx"}
    store_raw(api_app_any, "csv_export", stale)
    client = api_app_any.test_client()
    body = client.get(URL, headers=READONLY)
    assert body.status_code == 200
    view = body.get_json()
    assert view["settings"] == {"batch_size": 500, "delimiter": ","}
    assert set(view["invalid"]) == {"batch_size", "delimiter", "format"}
    assert "must be at most 100000" in view["invalid"]["batch_size"]
    assert client.get("/stask/api/workers/csv_export", headers=READONLY).status_code == 200
    assert client.get("/stask/api/openapi.json", headers=READONLY).status_code == 200
    login(client)
    page = client.get("/stask/workers/csv_export/settings")
    assert page.status_code == 200
    assert 'class="stale"' in page.text and "3000000000" in page.text and "format" in page.text
    created = client.post("/stask/api/tasks", json={"identifier": "csv_export", "action": "export"}, headers=ADMIN)
    run_all(api_app_any)
    with api_app_any.app_context():
        ext = api_app_any.extensions["stask"]
        row = fresh(ext, created.get_json()["id"])
        assert row.status == Status.FINISHED, row.error
        with ext.runtime.storage.result_file(row.id, row.result).open() as handle:
            assert next(csv.reader(handle))[:2] == ["id", "identifier"]  # the default delimiter
    fixed = put(client, {"batch_size": 250}).get_json()  # saving drops the removed key, keeps reporting the rest
    assert fixed["stored"]["batch_size"] == 250 and "format" not in fixed["stored"]
    assert set(fixed["invalid"]) == {"delimiter"}


def test_secrets_are_never_echoed(make_app: Any) -> None:
    app = make_app("sqlite", discover=True, **{**AUTH_CONFIG, "STASK_WORKERS": VAULT_WORKERS})
    client = app.test_client()
    url = "/stask/api/workers/vault/settings"
    answers = [put(client, {"password": SECRET, "mode": "fast"}, url)]
    assert answers[0].status_code == 200
    answers += [
        client.get(url, headers=ADMIN),
        client.get(url, headers=READONLY),
        client.get("/stask/api/workers", headers=ADMIN),
        client.get("/stask/api/workers/vault", headers=ADMIN),
        put(client, {"mode": "safe"}, url),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert SECRET not in answer.get_data(as_text=True)
    view = answers[1].get_json()
    assert view["settings"]["password"] is None and view["secrets_set"] == ["password"]
    assert view["fields"]["password"]["secret"] is True
    csrf = login(client)
    for page in ("/stask/workers/vault/settings", "/stask/workers"):
        html = client.get(page).text
        assert SECRET not in html, page
    # An empty password input keeps the secret; the clear box removes it.
    form = {"csrf_token": csrf, "password": "", "mode": "fast", "ratio": "0.5", "notes": "", "tags": '["a"]'}
    assert client.post("/stask/workers/vault/settings", data=form).status_code == 303
    task = client.post("/stask/api/tasks", json={"identifier": "vault", "action": "open"}, headers=ADMIN)
    run_all(app)
    assert client.get(f"/stask/api/tasks/{task.get_json()['id']}", headers=ADMIN).get_json()["task"]["message"] == (
        "password set: True, mode fast"
    )
    assert client.post("/stask/workers/vault/settings", data={**form, "password__clear": "1"}).status_code == 303
    assert client.get(url, headers=ADMIN).get_json()["secrets_set"] == []
    put(client, {"password": SECRET}, url)
    assert put(client, {"password": None}, url).get_json()["secrets_set"] == []


def test_openapi_publishes_each_workers_settings(client: FlaskClient) -> None:
    document = client.get("/stask/api/openapi.json", headers=READONLY).get_json()
    schema = document["components"]["schemas"]["WorkerSettings_csv_export"]
    assert schema["additionalProperties"] is False
    batch = schema["properties"]["batch_size"]
    assert (batch["type"], batch["minimum"], batch["maximum"]) == ("integer", 1, 100_000)
    delimiter = schema["properties"]["delimiter"]
    assert (delimiter["minLength"], delimiter["maxLength"]) == (1, 1)
    steps = document["components"]["schemas"]["WorkerSettings_echo"]["properties"]["steps"]
    assert steps["type"] == "integer" and steps["maximum"] == 2**53 - 1  # derived: bounded all the same
    put_op = document["paths"]["/stask/api/workers/csv_export/settings"]["put"]
    assert put_op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WorkerSettings_csv_export"
    }
    assert "invalid" in document["components"]["schemas"]["Settings"]["properties"]
