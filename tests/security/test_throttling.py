"""Login throttling: failures are counted per client address in Redis, on the password form and on
the one-time token link alike; at ``STASK_LOGIN_MAX_FAILURES`` that address is refused (429) even
with the right secret, until the window expires. Other addresses are not affected.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask.testing import FlaskClient

from stask.web import auth
from tests.support.api import ADMIN_PASSWORD

LIMIT = 2


def csrf_of(client: FlaskClient) -> str:
    client.get("/stask/login")
    with client.session_transaction() as session:
        return str(session["stask_csrf"])


def post_password(client: FlaskClient, password: str) -> int:
    return client.post("/stask/login", data={"password": password, "csrf_token": csrf_of(client)}).status_code


def test_bad_login_tokens_are_throttled_too(make_api_app: Any) -> None:
    token = auth.generate_login_token()
    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT, STASK_LOGIN_TOKEN=token)
    client = app.test_client()
    for _ in range(LIMIT):
        assert client.get("/stask/login?token=wrong").status_code == 403
    assert client.get(f"/stask/login?token={token}").status_code == 429  # the right token, refused
    assert post_password(client, ADMIN_PASSWORD) == 429  # one count for both ways in
    runtime = app.extensions["stask.runtime"]
    used = runtime.keys.login_token_used(hashlib.sha256(token.encode()).hexdigest()[:32])
    assert not runtime.redis.exists(used)  # the refused token was not spent: it works once the window ends


def test_the_lockout_is_per_client_address(make_api_app: Any) -> None:
    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT)
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(LIMIT):
        assert post_password(attacker, "nope") == 401
    assert post_password(attacker, ADMIN_PASSWORD) == 429
    someone_else = app.test_client()
    someone_else.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert post_password(someone_else, ADMIN_PASSWORD) == 303
    runtime = app.extensions["stask.runtime"]
    assert int(runtime.redis.get(runtime.keys.login_failures("203.0.113.9"))) == LIMIT
    assert not runtime.redis.exists(runtime.keys.login_failures("198.51.100.7"))


def test_failures_below_the_limit_do_not_lock_out(make_api_app: Any) -> None:
    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT)
    client = app.test_client()
    for _ in range(LIMIT - 1):
        assert post_password(client, "nope") == 401
    assert post_password(client, ADMIN_PASSWORD) == 303


def test_the_lockout_ends_with_its_window(make_api_app: Any) -> None:
    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT)
    client = app.test_client()
    for _ in range(LIMIT):
        assert post_password(client, "nope") == 401
    runtime = app.extensions["stask.runtime"]
    key = runtime.keys.login_failures("127.0.0.1")
    assert 0 < runtime.redis.ttl(key) <= auth.LOGIN_FAILURE_WINDOW
    assert post_password(client, "nope") == 429
    runtime.redis.delete(key)  # what the expiry does at the end of the window
    assert post_password(client, ADMIN_PASSWORD) == 303


def test_bad_bearer_tokens_are_throttled_per_client_address(make_api_app: Any) -> None:
    from tests.support.api import ADMIN, error_code

    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT)
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(LIMIT):
        assert error_code(attacker.get("/stask/api/tasks", headers={"Authorization": "Bearer wrong"}), 401)
    assert error_code(attacker.get("/stask/api/tasks", headers={"Authorization": "Bearer wrong"}), 429) == (
        "too_many_requests"
    )
    assert error_code(attacker.get("/stask/api/tasks", headers=ADMIN), 429) == "too_many_requests"  # even the right one
    someone_else = app.test_client()
    someone_else.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert someone_else.get("/stask/api/tasks", headers=ADMIN).status_code == 200
    runtime = app.extensions["stask.runtime"]
    assert int(runtime.redis.get(runtime.keys.bearer_failures("203.0.113.9"))) == LIMIT
    assert 0 < runtime.redis.ttl(runtime.keys.bearer_failures("203.0.113.9")) <= auth.LOGIN_FAILURE_WINDOW
    assert not runtime.redis.exists(runtime.keys.bearer_failures("198.51.100.7"))


def test_good_bearer_tokens_are_not_counted(make_api_app: Any) -> None:
    from tests.support.api import ADMIN

    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT)
    client = app.test_client()
    for _ in range(LIMIT + 2):
        assert client.get("/stask/api/tasks", headers=ADMIN).status_code == 200
