"""Downloads and uploads never leave their folder; user text is escaped or sent verbatim as JSON."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stask.enums import Status
from tests.support.api import (
    ADMIN,
    create,
    error_code,
    login,
    set_row,
)


# -- downloads never leave the task's folder ------------------------------------------------------------------
@pytest.fixture
def secret_outside(api_app: Flask, tmp_path: Path) -> tuple[int, Path]:
    """A finished task with a result, and a secret file next to (outside) its result folder."""
    task_id = create(api_app)
    with api_app.app_context():
        storage = api_app.extensions["stask.runtime"].storage
    folder = storage.result_dir(task_id)
    folder.mkdir(parents=True)
    (folder / "report.csv").write_text("ok\n")
    secret = storage.root / "secret.txt"
    secret.write_text("TOP SECRET")
    set_row(api_app, task_id, status=int(Status.FINISHED), result="report.csv")
    return task_id, secret


@pytest.mark.parametrize(
    "query",
    [
        "file=../../secret.txt",
        "file=..%2F..%2Fsecret.txt",
        "file=%2e%2e/%2e%2e/secret.txt",
        "file=report.csv/../../../secret.txt",
        "file={secret}",
        "file=%00",
        "file=..",
        "file=.",
    ],
)
def test_download_refuses_paths_leaving_the_folder(
    client: FlaskClient, secret_outside: tuple[int, Path], query: str
) -> None:
    task_id, secret = secret_outside
    response = client.get(f"/stask/task/{task_id}/download?{query.format(secret=secret)}", headers=ADMIN)
    assert error_code(response, 400) == "unsafe_path"
    assert b"TOP SECRET" not in response.data


def test_download_refuses_a_symlink_pointing_outside(client: FlaskClient, secret_outside: tuple[int, Path]) -> None:
    task_id, secret = secret_outside
    folder = secret.parent / "results" / str(task_id)
    (folder / "link.csv").symlink_to(secret)
    for query in ("?file=link.csv", ""):
        if not query:
            set_row(client.application, task_id, result="link.csv")
        response = client.get(f"/stask/task/{task_id}/download{query}", headers=ADMIN)
        assert error_code(response, 400) == "unsafe_path"
    assert client.get(f"/stask/task/{task_id}/download?file=report.csv", headers=ADMIN).data == b"ok\n"


def test_download_refuses_a_stored_result_that_escapes(client: FlaskClient, secret_outside: tuple[int, Path]) -> None:
    task_id, secret = secret_outside
    for stored in ("../../secret.txt", str(secret)):
        set_row(client.application, task_id, result=stored)
        assert error_code(client.get(f"/stask/task/{task_id}/download", headers=ADMIN), 400) == "unsafe_path"


def test_encoded_slashes_in_the_path_do_not_route(client: FlaskClient, secret_outside: tuple[int, Path]) -> None:
    task_id, _ = secret_outside
    response = client.get(f"/stask/task/{task_id}/download/..%2F..%2Fsecret.txt", headers=ADMIN)
    assert error_code(response, 404) == "not_found"


def test_uploads_stay_in_their_folder(api_app: Flask, client: FlaskClient) -> None:
    for name in ("../../../escape.csv", "/etc/escape.csv", "..\\..\\escape.csv", ".hidden.csv"):
        data = {"file": (io.BytesIO(b"x"), name)}
        response = client.post("/stask/worker/importer/upload", data=data, headers=ADMIN)
        assert response.status_code == 201, name
    with api_app.app_context():
        storage = api_app.extensions["stask.runtime"].storage
    stored = {p.name for p in storage.worker_upload_dir("importer").iterdir()}
    assert stored == {"escape.csv", "etc_escape.csv", "escape-1.csv", "hidden.csv"}
    everything = [p for p in storage.root.rglob("*") if p.is_file()]
    assert all(storage.worker_upload_dir("importer") in p.parents for p in everything)


# -- escaping ------------------------------------------------------------------------------------------------
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_json_answers_carry_user_text_verbatim_as_json(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app, data={"text": XSS})
    set_row(api_app, task_id, message=XSS)
    response = client.get(f"/stask/api/tasks/{task_id}", headers=ADMIN)
    assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
    task = response.get_json()["task"]
    assert task["message"] == XSS and task["data"] == {"text": XSS}


def test_task_page_escapes_message_and_data(api_app: Flask, client: FlaskClient) -> None:
    task_id = create(api_app, data={"text": XSS})
    set_row(api_app, task_id, message=XSS, status=int(Status.FAILED), error=XSS)
    login(client)
    page = client.get(f"/stask/tasks/{task_id}").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_login_page_escapes_what_it_echoes(client: FlaskClient) -> None:
    page = client.get('/stask/login?next=/stask/"><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("name", ["report.csv\n", "report.csv\r", "\nreport.csv", "report\n.csv"])
def test_file_names_are_matched_in_full(name: str) -> None:
    """``$`` also matches before a final newline: a name ending in one must still be refused."""
    from stask.exceptions import UnsafePath
    from stask.storage import safe_name

    with pytest.raises(UnsafePath):
        safe_name(name)
    assert safe_name("report.csv") == "report.csv"
