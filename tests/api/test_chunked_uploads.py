"""Chunked uploads to the CSV importer: files larger than one request, order, resuming, limits,
names that cannot leave the uploads folder, the error shape, and who may upload."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stask import Status
from tests.support.api import ADMIN, READONLY, error_code, login, run_all
from tests.support.tasks import fresh

URL = "/stask/worker/csv_import/upload"
#: The request limit of these tests' app: a file larger than this must come in chunks.
REQUEST_LIMIT = 32 * 1024


@pytest.fixture
def app(make_api_app: Any) -> Flask:
    return make_api_app(MAX_CONTENT_LENGTH=REQUEST_LIMIT)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def send(
    client: FlaskClient,
    body: bytes,
    name: str = "big.csv",
    content_range: str | None = None,
    upload_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    data: dict[str, Any] = {"file": (io.BytesIO(body), name)}
    if upload_id:
        data["upload_id"] = upload_id
    sent = dict(ADMIN if headers is None else headers)
    if content_range:
        sent["Content-Range"] = content_range
    return client.post(URL, data=data, content_type="multipart/form-data", headers=sent)


def upload_in_chunks(client: FlaskClient, content: bytes, size: int, name: str = "big.csv") -> Any:
    upload_id = None
    for first in range(0, len(content), size):
        piece = content[first : first + size]
        answer = send(client, piece, name, f"bytes {first}-{first + len(piece) - 1}/{len(content)}", upload_id)
        upload_id = (answer.get_json() or {}).get("upload_id")
    return answer


def stored(app: Flask) -> dict[str, bytes]:
    with app.app_context():
        folder = app.extensions["stask.runtime"].storage.worker_upload_dir("csv_import")
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def big_csv(rows: int) -> bytes:
    return ("id,email\n" + "".join(f"{n},user{n}@example.org\n" for n in range(rows))).encode()


def test_a_file_larger_than_a_request_arrives_in_chunks_and_imports(app: Flask, client: FlaskClient) -> None:
    content = big_csv(5000) + b"oops,not-an-email\n"  # about 120 KB: four times the request limit
    assert len(content) > 3 * REQUEST_LIMIT
    whole = send(client, content)
    assert error_code(whole, 413) == "too_large"
    assert "send bigger files in chunks" in whole.get_json()["error"]["message"]
    done = upload_in_chunks(client, content, 20_000)
    assert done.status_code == 201, done.get_data(as_text=True)
    assert done.get_json()["file"] == {"name": "big.csv", "size": len(content), "owner": "worker-csv_import"}
    assert stored(app) == {"big.csv": content}
    with app.app_context():
        stask = app.extensions["stask"]
        stask.update_worker_settings("csv_import", {"column_types": "id:int, email:email"})
        task = stask.create("csv_import", "import", data={"file": "big.csv"})
        stask.db.session.remove()
    run_all(app)
    with app.app_context():
        row = fresh(app.extensions["stask"], task.id)
        assert (row.status, row.message) == (Status.FINISHED, "5,001 rows: 5,000 valid, 1 invalid")
    report = client.get(f"/stask/task/{task.id}/download", headers=ADMIN)
    assert report.status_code == 200 and report.headers["Content-Disposition"].endswith(f"errors-{task.id}.csv")
    lines = report.get_data(as_text=True).splitlines()
    assert lines == [
        "line,column,value,reason",
        "5002,id,oops,must be a whole number",
        "5002,email,not-an-email,must be an e-mail address",
    ]
    valid = client.get(f"/stask/task/{task.id}/download?file=valid-{task.id}.csv", headers=ADMIN)
    assert valid.status_code == 200 and len(valid.get_data(as_text=True).splitlines()) == 1 + 5000


def test_chunks_must_come_in_order_and_the_answer_says_where_to_resume(app: Flask, client: FlaskClient) -> None:
    content = bytes(range(256)) * 100  # 25,600 bytes
    total = len(content)
    opened = send(client, content[:10_000], "data.txt", f"bytes 0-9999/{total}")
    assert opened.status_code == 202
    upload_id = opened.get_json()["upload_id"]
    skipped = send(client, content[20_000:], "data.txt", f"bytes 20000-{total - 1}/{total}", upload_id)
    assert error_code(skipped, 409) == "invalid_state"
    assert skipped.headers["Upload-Offset"] == "10000"
    # The answer to the second chunk was "lost": the client sends it again and is told to move on.
    assert send(client, content[10_000:20_000], "data.txt", f"bytes 10000-19999/{total}", upload_id).status_code == 202
    again = send(client, content[10_000:20_000], "data.txt", f"bytes 10000-19999/{total}", upload_id)
    assert error_code(again, 409) == "invalid_state" and again.headers["Upload-Offset"] == "20000"
    done = send(client, content[20_000:], "data.txt", f"bytes 20000-{total - 1}/{total}", upload_id)
    assert done.status_code == 201 and stored(app) == {"data.txt": content}


def test_a_failed_chunk_leaves_nothing_behind_and_can_be_sent_again(app: Flask, client: FlaskClient) -> None:
    content = b"a,b\n" + b"1,2\n" * 5000  # 20,004 bytes
    total = len(content)
    upload_id = send(client, content[:10_000], "retry.csv", f"bytes 0-9999/{total}").get_json()["upload_id"]
    short = send(client, content[10_000:15_000], "retry.csv", f"bytes 10000-{total - 1}/{total}", upload_id)
    assert error_code(short, 400) == "invalid_input"  # fewer bytes than announced: none kept
    retried = send(client, content[10_000:], "retry.csv", f"bytes 10000-{total - 1}/{total}", upload_id)
    assert retried.status_code == 201 and stored(app) == {"retry.csv": content}


def test_size_limits_of_the_file_and_of_each_request(app: Flask, client: FlaskClient) -> None:
    too_big_chunk = send(client, b"x" * (REQUEST_LIMIT + 10), "a.csv", f"bytes 0-{REQUEST_LIMIT + 9}/900000")
    assert error_code(too_big_chunk, 413) == "too_large"
    assert "send smaller chunks" in too_big_chunk.get_json()["error"]["message"]
    client.put("/stask/api/workers/csv_import/settings", json={"upload_max_mb": 0.05}, headers=ADMIN)  # 52,428 bytes
    assert error_code(send(client, b"x" * 100, "a.csv", "bytes 0-99/60000"), 413) == "too_large"
    assert upload_in_chunks(client, b"y" * 52_428, 20_000, "fits.csv").status_code == 201
    assert set(stored(app)) == {"fits.csv"}


def test_names_and_ids_cannot_leave_the_uploads_folder(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    content = b"id\n" + b"1\n" * 20_000
    done = upload_in_chunks(client, content, 15_000, "../../../outside/evil.csv")
    assert done.status_code == 201 and done.get_json()["file"]["name"] == "outside_evil.csv"
    assert stored(app) == {"outside_evil.csv": content}
    for bad in ("../../etc/passwd", "0" * 31 + "/", "A" * 32):
        assert error_code(send(client, b"x", "a.csv", "bytes 0-0/2", bad), 400) == "invalid_input"
    with app.app_context():
        root = app.extensions["stask.runtime"].storage.root
    outside = [p for p in root.parent.rglob("*evil*") if root not in p.parents]
    assert outside == []


def test_file_types_the_importer_refuses(client: FlaskClient) -> None:
    for name in ("data.json", "run.exe", "archive.csv.zip"):
        assert error_code(send(client, b"1,2\n", name), 415) == "file_type_not_allowed"
    assert error_code(send(client, b"1,2\n", "data.json", "bytes 0-3/8"), 415) == "file_type_not_allowed"


def test_only_signed_in_admins_upload_and_a_browser_needs_its_csrf_token(app: Flask, client: FlaskClient) -> None:
    anonymous = client.post(URL, data={"file": (io.BytesIO(b"a\n"), "a.csv")}, headers={"Accept": "application/json"})
    assert error_code(anonymous, 401) == "unauthorized"
    assert error_code(send(client, b"a\n", headers=READONLY), 403) == "forbidden"
    browser = app.test_client()
    csrf = login(browser)
    data = {"file": (io.BytesIO(b"a\n1\n"), "a.csv")}
    no_token = browser.post(URL, data=data, content_type="multipart/form-data")
    assert error_code(no_token, 403) == "csrf_failed"
    data = {"file": (io.BytesIO(b"a\n1\n"), "a.csv")}
    chunk = {"X-CSRF-Token": csrf, "Content-Range": "bytes 0-3/4"}
    assert browser.post(URL, data=data, content_type="multipart/form-data", headers=chunk).status_code == 201


def test_the_document_declares_the_resume_header(client: FlaskClient) -> None:
    document = client.get("/stask/api/openapi.json", headers=ADMIN).get_json()
    answer = document["paths"]["/stask/worker/{identifier}/upload"]["post"]["responses"]["409"]
    assert answer["headers"]["Upload-Offset"]["schema"] == {"type": "integer", "minimum": 0}
    assert "chunks" in document["paths"]["/stask/worker/{identifier}/upload"]["post"]["description"]


def test_the_importers_settings_take_null_for_their_choice_too(client: FlaskClient) -> None:
    """OpenAPI 3.0: a nullable enum must list null, or a client (and schemathesis) refuses it."""
    document = client.get("/stask/api/openapi.json", headers=ADMIN).get_json()
    delimiter = document["components"]["schemas"]["WorkerSettings_csv_import"]["properties"]["delimiter"]
    assert delimiter["enum"] == ["auto", ",", ";", "tab", "|", None] and delimiter["nullable"] is True
    answer = client.put("/stask/api/workers/csv_import/settings", json={"delimiter": None}, headers=ADMIN)
    assert answer.status_code == 200, answer.get_data(as_text=True)
