"""Login throttling: failures are counted per client address in Redis, on the password form and on
the one-time token link alike; at ``STASK_LOGIN_MAX_FAILURES`` that address is refused (429) even
with the right secret, until the window expires. Other addresses are not affected.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
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


# -- behind reverse proxies (STASK_TRUSTED_PROXIES) ------------------------------------------------------
PROXY = "10.0.0.2"


def through_proxy(app: Any, forwarded_for: str) -> FlaskClient:
    """A browser whose requests all arrive from the proxy, which names the client in X-Forwarded-For."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def test_behind_a_proxy_one_locked_client_does_not_lock_the_others_out(make_api_app: Any) -> None:
    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT, STASK_TRUSTED_PROXIES=1)
    attacker = through_proxy(app, "203.0.113.9")
    for _ in range(LIMIT):
        assert post_password(attacker, "nope") == 401
    assert post_password(attacker, ADMIN_PASSWORD) == 429
    assert post_password(through_proxy(app, "198.51.100.7"), ADMIN_PASSWORD) == 303  # the right password works
    runtime = app.extensions["stask.runtime"]
    assert int(runtime.redis.get(runtime.keys.login_failures("203.0.113.9"))) == LIMIT
    assert not runtime.redis.exists(runtime.keys.login_failures(PROXY))


def test_only_the_trusted_entries_of_x_forwarded_for_count(make_api_app: Any) -> None:
    """Two proxies: the client is the second address from the right; what the client itself put on
    the left of the header changes nothing."""
    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT, STASK_TRUSTED_PROXIES=2)
    for spoofed in ("1.1.1.1", "2.2.2.2"):
        assert post_password(through_proxy(app, f"{spoofed}, 203.0.113.9, 10.0.0.1"), "nope") == 401
    assert post_password(through_proxy(app, "3.3.3.3, 203.0.113.9, 10.0.0.1"), ADMIN_PASSWORD) == 429
    assert post_password(through_proxy(app, "203.0.113.7, 10.0.0.1"), ADMIN_PASSWORD) == 303


def test_without_trusted_proxies_a_forged_header_does_not_escape_the_lockout(make_api_app: Any) -> None:
    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT)  # STASK_TRUSTED_PROXIES defaults to 0
    for _ in range(LIMIT):
        assert post_password(through_proxy(app, "203.0.113.9"), "nope") == 401
    assert post_password(through_proxy(app, "198.51.100.7"), ADMIN_PASSWORD) == 429
    runtime = app.extensions["stask.runtime"]
    assert int(runtime.redis.get(runtime.keys.login_failures(PROXY))) == LIMIT


def test_bad_bearer_tokens_are_throttled_per_client_through_the_proxy(make_api_app: Any) -> None:
    from tests.support.api import ADMIN, error_code

    app = make_api_app(STASK_LOGIN_MAX_FAILURES=LIMIT, STASK_TRUSTED_PROXIES=1)
    attacker = through_proxy(app, "203.0.113.9")
    for _ in range(LIMIT):
        assert error_code(attacker.get("/stask/api/tasks", headers={"Authorization": "Bearer wrong"}), 401)
    assert error_code(attacker.get("/stask/api/tasks", headers=ADMIN), 429) == "too_many_requests"
    assert through_proxy(app, "198.51.100.7").get("/stask/api/tasks", headers=ADMIN).status_code == 200
    runtime = app.extensions["stask.runtime"]
    assert int(runtime.redis.get(runtime.keys.bearer_failures("203.0.113.9"))) == LIMIT


@pytest.mark.parametrize("trusted", [0, 1, 2, 3])
@pytest.mark.parametrize(
    "forwarded_for",
    [None, "", "203.0.113.9", "203.0.113.9, 10.0.0.1", "a, b ,c", '"quoted, one", 203.0.113.9', "2001:db8::1"],
)
def test_the_client_address_follows_proxyfix(trusted: int, forwarded_for: str | None) -> None:
    """The same answer as Werkzeug's ProxyFix(x_for=trusted) would put in REMOTE_ADDR."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    environ: dict[str, Any] = {"REMOTE_ADDR": PROXY}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    seen: dict[str, Any] = {}

    def host(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(env)
        return []

    ProxyFix(host, x_for=trusted, x_proto=0, x_host=0)(dict(environ), lambda *args: None)
    assert auth.forwarded_client(environ, trusted) == seen["REMOTE_ADDR"]
    assert auth.forwarded_client(seen, trusted) == seen["REMOTE_ADDR"]  # a host's own ProxyFix is not counted twice
