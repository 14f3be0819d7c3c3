"""The public hook URLs: a wrong token learns nothing, bad input stores no task, bodies are
bounded before they are read, each trigger is rate limited, signed triggers need a fresh
signature, and a status URL shows only its own trigger's tasks. On every database."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from stask.models import Task, TriggerCall
from stask.service import current_stask
from tests.security.test_request_limits import CountingStream
from tests.support.api import ADMIN, create, error_code, login
from tests.support.servers import RedisServer
from tests.triggers.helpers import TRIGGER_CONFIG, call, count, create_trigger, hook, rows, signed_call

#: A token of the right form that no trigger has.
STRANGER = "A" * 43


@pytest.fixture
def hooks_app(backend: str, make_app: Callable[..., Flask]) -> Flask:
    return make_app(backend, discover=True, **TRIGGER_CONFIG, STASK_TRIGGER_MAX_BODY_KB=1)


@pytest.fixture
def client(hooks_app: Flask) -> FlaskClient:
    return hooks_app.test_client()


def answer(response: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Everything a caller sees of a response."""
    return response.status_code, response.get_data(), sorted(response.headers.items())


def unknown_path(client: FlaskClient, method: str = "post", **headers: str) -> tuple[int, bytes, list[Any]]:
    """The app's answer for a path under /hooks/ that no route has."""
    return answer(client.open("/stask/hooks/nothing/here", method=method.upper(), headers=headers))


def test_a_wrong_token_is_answered_as_an_unknown_path(client: FlaskClient, hooks_app: Flask) -> None:
    created = create_trigger(client)
    callers = [  # a program, a browser, curl -d without a content type
        {"Accept": "application/json", "Content-Type": "application/json"},
        {"Accept": "text/html", "Content-Type": "text/plain"},
        {"Accept": "*/*", "Content-Type": "application/x-www-form-urlencoded"},
    ]
    for headers in callers:
        expected = answer(client.post("/stask/hooks/nothing/here", data=b'{"rows": 1}', headers=headers))
        assert expected[0] == 404 and b'"code":"not_found"' in expected[1].replace(b" ", b"")
        for token in (STRANGER, created["token"][:-1] + "x", created["token"][:6] + "B" * 37, "short", "%00"):
            seen = answer(client.post(hook(token), data=b'{"rows": 1}', headers=headers))
            assert seen == expected, (token, headers)
    assert count(hooks_app, Task) == 0 and count(hooks_app, TriggerCall) == 0


def test_rotated_deleted_and_disabled_tokens_are_answered_as_an_unknown_path(client: FlaskClient) -> None:
    expected = unknown_path(client, **{"Content-Type": "application/json"})
    rotated = create_trigger(client, name="rotated")
    client.post(f"/stask/api/triggers/{rotated['id']}/rotate", headers=ADMIN)
    deleted = create_trigger(client, name="deleted")
    client.delete(f"/stask/api/triggers/{deleted['id']}", headers=ADMIN)
    disabled = create_trigger(client, name="disabled", enabled=False)
    for token in (rotated["token"], deleted["token"], disabled["token"]):
        assert answer(call(client, token, {})) == expected
    client.put(f"/stask/api/triggers/{disabled['id']}", json={"enabled": True}, headers=ADMIN)
    assert call(client, disabled["token"], {}).status_code == 201


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not list"),
        (b'"rows"', "must be a JSON object, not str"),
        (b"7", "must be a JSON object, not int"),
        (b'{"rows": 5000}', "data.rows"),
        (b'{"rows": "many"}', "data.rows"),
        (b'{"format": "xml"}', "data.format"),
        (b'{"rows": NaN}', "data"),
    ],
    ids=["broken", "not-utf8", "list", "string", "number", "rows-too-many", "rows-text", "format", "nan"],
)
def test_bad_bodies_are_a_400_and_create_no_task(
    client: FlaskClient, hooks_app: Flask, body: bytes, needle: str
) -> None:
    created = create_trigger(client)
    response = call(client, created["token"], body)
    assert error_code(response, 400) == "invalid_input"
    assert needle in response.get_json()["error"]["message"]
    assert count(hooks_app, Task) == 0
    (logged,) = rows(hooks_app, TriggerCall)  # the refusal is in the call log, with its reason
    assert (logged.status, logged.task_id) == (400, None) and needle in logged.error


def test_an_empty_body_is_no_data(client: FlaskClient, hooks_app: Flask) -> None:
    created = create_trigger(client)
    response = client.post(hook(created["token"]))
    assert response.status_code == 201, response.get_json()
    assert rows(hooks_app, Task)[0].data == {}


def test_a_body_over_the_limit_is_a_413_read_no_further(client: FlaskClient, hooks_app: Flask) -> None:
    created = create_trigger(client)
    stream = CountingStream(b"{}")
    declared = client.post(
        hook(created["token"]),
        input_stream=stream,
        headers={"Content-Type": "application/json"},
        environ_overrides={"CONTENT_LENGTH": str(1024 + 1)},
    )
    assert error_code(declared, 413) == "too_large" and stream.consumed == 0
    stream = CountingStream(b'{"title": "' + b"x" * 4096 + b'"}')
    chunked = client.post(
        hook(created["token"]),
        input_stream=stream,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert error_code(chunked, 413) == "too_large" and stream.consumed <= 1024 + 1
    assert call(client, created["token"], {"title": "x" * 900}).status_code == 201  # within 1 KiB
    assert count(hooks_app, Task) == 1 and count(hooks_app, TriggerCall) == 1


def test_the_rate_limit_answers_429_until_the_window_ends(client: FlaskClient, hooks_app: Flask) -> None:
    created = create_trigger(client, rate_limit=2)
    other = create_trigger(client, name="other", rate_limit=2)
    assert [call(client, created["token"], {"rows": n}).status_code for n in (1, 2)] == [201, 201]
    refused = call(client, created["token"], {"rows": 3})
    assert error_code(refused, 429) == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert call(client, created["token"], {"rows": "bad"}).status_code == 429  # counted before the body is read
    assert call(client, other["token"], {}).status_code == 201  # each trigger has its own window
    assert count(hooks_app, Task) == 3 and count(hooks_app, TriggerCall, status=429) == 0
    with hooks_app.app_context():
        runtime = current_stask().runtime
        key = runtime.keys.trigger_calls(created["id"])
        assert 1 <= int(runtime.redis.ttl(key)) <= 60  # the window ends by itself
        runtime.redis.pexpire(key, 1)  # the minute is over
    time.sleep(0.05)
    assert call(client, created["token"], {"rows": 4}).status_code == 201
    assert count(hooks_app, Task) == 4


def test_a_signed_trigger_needs_a_fresh_valid_signature(client: FlaskClient, hooks_app: Flask) -> None:
    created = create_trigger(client, signed=True)
    token, secret = created["token"], created["secret"]
    body = {"rows": 2}
    refusals = [
        call(client, token, body),  # no signature
        signed_call(client, token, "another secret", body),
        signed_call(client, token, secret, body, now=time.time() - 310),  # stale
        signed_call(client, token, secret, body, now=time.time() + 310),  # future (+301 floored could pass)
        call(client, token, b'{"rows": 3}', **signed_call_headers(secret, b'{"rows": 2}')),  # another body
    ]
    for response in refusals:
        assert error_code(response, 401) == "bad_signature"
    assert count(hooks_app, Task) == 0 and count(hooks_app, TriggerCall, status=401) == len(refusals)
    accepted = signed_call(client, token, secret, body, now=time.time() - 200)
    assert accepted.status_code == 201, accepted.get_json()
    assert rows(hooks_app, Task)[0].data == body


def signed_call_headers(secret: str, body: bytes) -> dict[str, str]:
    from stask.notify.signing import signed_headers

    return signed_headers(secret, body)


def test_a_status_url_shows_only_its_own_triggers_tasks(client: FlaskClient, hooks_app: Flask) -> None:
    mine = create_trigger(client, name="mine")
    theirs = create_trigger(client, name="theirs")
    task_id = call(client, mine["token"], {"rows": 1}).get_json()["id"]
    other_id = call(client, theirs["token"], {"rows": 1}).get_json()["id"]
    plain_id = create(hooks_app, "echo", "say")
    status = client.get(f"{hook(mine['token'])}/tasks/{task_id}")
    assert status.status_code == 200
    body = status.get_json()
    assert set(body) == {"success", "id", "status", "status_text", "progress", "message", "created_at", "finished_at"}
    assert (body["id"], body["status_text"], body["progress"], body["finished_at"]) == (task_id, "queued", 0, None)
    expected = unknown_path(client, method="get")
    for url in (
        f"{hook(mine['token'])}/tasks/{other_id}",
        f"{hook(mine['token'])}/tasks/{plain_id}",
        f"{hook(mine['token'])}/tasks/999999",
        f"{hook(mine['token'])}/tasks/abc",
        f"{hook(mine['token'])}/tasks/0",
        f"{hook(STRANGER)}/tasks/{task_id}",
    ):
        assert answer(client.get(url)) == expected, url
    rotated = client.post(f"/stask/api/triggers/{mine['id']}/rotate", headers=ADMIN).get_json()
    assert answer(client.get(f"{hook(mine['token'])}/tasks/{task_id}")) == expected
    assert client.get(f"{hook(rotated['token'])}/tasks/{task_id}").status_code == 200


def test_the_hook_is_public_and_opens_nothing_else(client: FlaskClient, hooks_app: Flask) -> None:
    created = create_trigger(client)
    token = created["token"]
    assert client.get(hook(token)).status_code == 405  # POST only
    assert client.get("/stask/api/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    browser = hooks_app.test_client()
    login(browser)  # a signed-in browser session: no CSRF token is asked of a hook call
    assert call(browser, token, {"rows": 1}).status_code == 201
    assert client.get("/stask/api/tasks").status_code == 401
    response = call(client, token, {"rows": 1}, Accept="text/html")
    assert response.status_code == 201 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store" and "X-Content-Type-Options" in response.headers


def test_the_call_log_keeps_the_newest_hundred(client: FlaskClient, hooks_app: Flask) -> None:
    created = create_trigger(client, rate_limit=1000)
    statuses = [call(client, created["token"], {"rows": 1 if n % 2 else "x"}).status_code for n in range(103)]
    assert statuses.count(201) == 51 and statuses.count(400) == 52
    kept = rows(hooks_app, TriggerCall)
    assert len(kept) == 100 and kept[0].status == 201  # the first three (400, 201, 400) went
    trigger = client.get(f"/stask/api/triggers/{created['id']}", headers=ADMIN).get_json()["trigger"]
    assert trigger["calls"] == 103


def test_without_redis_a_call_is_still_stored(make_app: Callable[..., Flask], stoppable_redis: RedisServer) -> None:
    """The window lives in Redis: unreachable, calls are let through (as the login throttle does),
    and the task row waits, queued, for reconcile."""
    app = make_app("sqlite", discover=True, redis_url=stoppable_redis.url, **TRIGGER_CONFIG)
    client = app.test_client()
    created = create_trigger(client, rate_limit=1)
    stoppable_redis.stop()
    assert call(client, created["token"], {"rows": 1}).status_code == 201
    assert call(client, created["token"], {"rows": 2}).status_code == 201
    assert count(app, Task) == 2


def test_concurrent_calls_each_get_their_task_and_are_all_counted(hooks_app: Flask, client: FlaskClient) -> None:
    """Calls of one trigger at once, on a threaded HTTP server: none fails (on MariaDB the call row's
    foreign key and the counters' UPDATE take their locks in one order), none is lost, and the
    call log is cut back to 100."""
    created = create_trigger(client, rate_limit=1000)
    server = make_server("127.0.0.1", 0, hooks_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}{hook(created['token'])}"

    def one(number: int) -> int:
        request = urllib.request.Request(url, data=json.dumps({"rows": number}).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(one, range(1, 141)))
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    assert statuses == [201] * 140
    # Calls at once cannot see each other's uncommitted rows: a few more than 100 may stay a while...
    assert 100 <= count(hooks_app, TriggerCall) <= 100 + 8
    assert call(client, created["token"], {}).status_code == 201
    assert count(hooks_app, TriggerCall) == 100  # ...until the next call cuts the log again
    assert count(hooks_app, Task) == 141
    trigger = client.get(f"/stask/api/triggers/{created['id']}", headers=ADMIN).get_json()["trigger"]
    assert trigger["calls"] == 141
