"""The settings page: labels, help and constraints from the typed fields; errors in place."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import ADMIN, login

PAGE = "/stask/workers/csv_export/settings"


def field_html(page: str, key: str) -> str:
    """The markup of one setting's block."""
    match = re.search(rf'<div class="field[^"]*" id="s-{key}-field">(.*?)\n      </div>', page, re.S)
    assert match, key
    return match.group(1)


def test_page_shows_labels_help_and_constraints(client: FlaskClient) -> None:
    login(client)
    page = client.get(PAGE)
    assert page.status_code == 200
    batch = field_html(page.text, "batch_size")
    assert ">Batch size<" in batch and "Rows read from the database at a time" in batch
    assert 'min="1"' in batch and 'max="100000"' in batch and "required" in batch
    assert "Between 1 and 100000." in batch
    delimiter = field_html(page.text, "delimiter")
    assert ">Delimiter<" in delimiter and 'maxlength="1"' in delimiter and 'minlength="1"' in delimiter
    assert "Exactly 1 character." in delimiter


def test_out_of_range_value_is_an_error_in_place_and_nothing_is_stored(client: FlaskClient) -> None:
    csrf = login(client)
    response = client.post(PAGE, data={"csrf_token": csrf, "batch_size": "3000000000", "delimiter": ";"})
    assert response.status_code == 400
    batch = field_html(response.text, "batch_size")
    assert 'class="error"' in batch and "Must be at most 100000." in batch
    assert 'value="3000000000"' in batch  # the submitted values are kept
    assert 'value=";"' in field_html(response.text, "delimiter")
    assert 'class="error"' not in field_html(response.text, "delimiter")
    stored = client.get("/stask/api/workers/csv_export/settings", headers=ADMIN).get_json()["stored"]
    assert stored == {}
    for bad in ({"batch_size": "-3", "delimiter": ","}, {"batch_size": "10", "delimiter": ""}):
        assert client.post(PAGE, data={"csrf_token": csrf, **bad}).status_code == 400, bad
    saved = client.post(PAGE, data={"csrf_token": csrf, "batch_size": "250", "delimiter": ";"})
    assert saved.status_code == 303
    stored = client.get("/stask/api/workers/csv_export/settings", headers=ADMIN).get_json()["stored"]
    assert stored == {"batch_size": 250, "delimiter": ";"}


def test_run_form_uses_the_same_fields(api_app: Flask) -> None:
    client = api_app.test_client()
    csrf = login(client)
    page = client.get("/stask/workers").text
    assert 'max="60000"' in page  # throttle_ms's declared bound on the run form
    response = client.post(
        "/stask/workers/csv_export/run/export",
        data={"csrf_token": csrf, "source": "tasks", "days": "7", "throttle_ms": "99999999"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "Must be at most 60000." in response.text
