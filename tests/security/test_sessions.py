"""Sign-ins of the login page live in Redis: logout deletes them (a saved cookie stops working at
once), they end after ``STASK_SESSION_IDLE_MINUTES`` unused and ``STASK_SESSION_MAX_HOURS`` after
the login, a flushed Redis signs everyone out, and an unreachable Redis is a 503, never a 500.

Time is not waited for: a test moves the stored record's timestamps back (and reads the key's
expiry) in the suite's own private Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from stask.exceptions import InvalidSetting
from stask.service.sessions import TOUCH_INTERVAL, digest
from tests.support.api import ADMIN_PASSWORD, READONLY_PASSWORD, error_code, login
from tests.support.servers import RedisServer


def session_id(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        return str(session["stask_sid"])


def record_key(app: Flask, client: FlaskClient) -> str:
    return str(app.extensions["stask.runtime"].keys.session(digest(session_id(client))))


def store(app: Flask) -> redis.Redis:
    return app.extensions["stask.runtime"].redis  # type: ignore[no-any-return]


def with_cookie_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie("session", cookie.value)
    return copy


def signed_in(client: FlaskClient) -> bool:
    """Whether the API takes this browser's session (401: not signed in)."""
    status = client.get("/stask/api/tasks").status_code
    assert status in (200, 401), status
    return status == 200


def panel_redirects_to_login(client: FlaskClient) -> bool:
    response = client.get("/stask/tasks", headers={"Accept": "text/html"})
    return response.status_code == 302 and response.headers["Location"].startswith("/stask/login")


def move_back(app: Flask, client: FlaskClient, field: str, seconds: float) -> None:
    """Pretend ``field`` ("created" or "seen") happened ``seconds`` earlier."""
    key = record_key(app, client)
    stored = float(store(app).hget(key, field))
    store(app).hset(key, field, repr(stored - seconds))


# -- logout revokes --------------------------------------------------------------------------------------
def test_a_cookie_saved_before_logout_is_refused_after_it(api_app: Flask, client: FlaskClient) -> None:
    csrf = login(client)
    saved = with_cookie_of(api_app, client)
    assert signed_in(saved) and not panel_redirects_to_login(saved)
    assert client.post("/stask/logout", data={"csrf_token": csrf}).status_code == 303
    assert error_code(saved.get("/stask/api/tasks"), 401) == "unauthorized"  # the API
    assert panel_redirects_to_login(saved)  # the panel
    assert not signed_in(client)


def test_logout_through_a_stask_link_revokes_too(api_app: Flask, client: FlaskClient) -> None:
    login(client)
    saved = with_cookie_of(api_app, client)
    assert client.get("/stask/logout", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303
    assert not signed_in(saved)


def test_the_cookie_carries_an_id_and_redis_only_its_digest(api_app: Flask, client: FlaskClient) -> None:
    login(client, READONLY_PASSWORD)
    sid = session_id(client)
    keys = [key.decode() for key in store(api_app).scan_iter(match="stask:session:*")]
    assert keys == [api_app.extensions["stask.runtime"].keys.session(digest(sid))]
    assert sid not in keys[0]
    record = store(api_app).hgetall(keys[0])
    assert record[b"role"] == b"readonly" and sid.encode() not in b"".join(record.values())
    assert abs(float(record[b"created"]) - time.time()) < 60
    assert 0 < store(api_app).ttl(keys[0]) <= 60 * 60  # the idle timeout, 60 minutes by default
    with client.session_transaction() as session:
        assert "stask_role" not in session  # the role is the server's word, not the cookie's


def test_signing_in_again_ends_the_previous_sign_in(api_app: Flask, client: FlaskClient) -> None:
    login(client)
    before = with_cookie_of(api_app, client)
    login(client)
    assert signed_in(client) and not signed_in(before)


def test_a_flushed_redis_signs_everyone_out(api_app: Flask, client: FlaskClient) -> None:
    login(client)
    assert signed_in(client)
    store(api_app).flushdb()
    assert error_code(client.get("/stask/api/tasks"), 401) == "unauthorized"
    assert panel_redirects_to_login(client)


# -- idle timeout --------------------------------------------------------------------------------------
def test_an_idle_sign_in_ends(make_api_app: Callable[..., Flask]) -> None:
    app = make_api_app(STASK_SESSION_IDLE_MINUTES=5)
    client = app.test_client()
    login(client)
    key = record_key(app, client)
    assert 0 < store(app).ttl(key) <= 5 * 60
    move_back(app, client, "seen", 5 * 60 - 10)  # unused for almost 5 minutes: still live
    assert signed_in(client)
    move_back(app, client, "seen", 5 * 60 + 1)  # unused for 5 minutes: ended
    assert not signed_in(client)
    assert not store(app).exists(key)


def test_use_pushes_the_idle_expiry_forward_at_most_once_a_minute(make_api_app: Callable[..., Flask]) -> None:
    app = make_api_app(STASK_SESSION_IDLE_MINUTES=5)
    client = app.test_client()
    login(client)
    key = record_key(app, client)
    seen = float(store(app).hget(key, "seen"))
    assert signed_in(client)
    assert float(store(app).hget(key, "seen")) == seen  # used again within the minute: no write
    move_back(app, client, "seen", TOUCH_INTERVAL + 1)
    store(app).expire(key, 100)  # as if 200 of the 300 seconds had passed
    assert signed_in(client)
    assert float(store(app).hget(key, "seen")) > time.time() - 60
    assert 5 * 60 - 60 < store(app).ttl(key) <= 5 * 60  # a full idle timeout again


# -- absolute lifetime -----------------------------------------------------------------------------------
def test_a_sign_in_ends_after_its_lifetime_however_active(make_api_app: Callable[..., Flask]) -> None:
    app = make_api_app(STASK_SESSION_MAX_HOURS=1)
    client = app.test_client()
    login(client)
    key = record_key(app, client)
    move_back(app, client, "created", 3600 - 30)  # logged in 59.5 minutes ago, used just now
    assert signed_in(client)
    move_back(app, client, "seen", TOUCH_INTERVAL + 1)  # a refresh is due: capped by the lifetime
    assert signed_in(client)
    assert 0 < store(app).ttl(key) <= 30
    move_back(app, client, "created", 31)  # an hour ago
    assert not signed_in(client)
    assert panel_redirects_to_login(client)
    assert not store(app).exists(key)


def test_the_cookie_lifetime_is_no_longer_than_the_sign_in(make_api_app: Callable[..., Flask]) -> None:
    # Flask refuses a signed cookie older than this even if Redis still had its sign-in.
    assert make_api_app().permanent_session_lifetime == timedelta(hours=12)
    assert make_api_app(STASK_SESSION_MAX_HOURS=2).permanent_session_lifetime == timedelta(hours=2)
    shorter = make_api_app(PERMANENT_SESSION_LIFETIME=600)
    assert shorter.permanent_session_lifetime == timedelta(seconds=600)  # a shorter one is kept


@pytest.mark.parametrize(
    "config",
    [{"STASK_SESSION_IDLE_MINUTES": 0}, {"STASK_SESSION_MAX_HOURS": 0}, {"STASK_TRUSTED_PROXIES": -1}],
    ids=lambda config: next(iter(config)),
)
def test_out_of_range_settings_are_refused_at_start_up(
    make_api_app: Callable[..., Flask], config: dict[str, Any]
) -> None:
    with pytest.raises(InvalidSetting, match=next(iter(config))):
        make_api_app(**config)


# -- sign every session out -----------------------------------------------------------------------------
def test_the_cli_signs_every_session_out(make_api_app: Callable[..., Flask]) -> None:
    app = make_api_app()
    admin, viewer = app.test_client(), app.test_client()
    login(admin)
    login(viewer, READONLY_PASSWORD)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stask", "sessions", "revoke", "--role", "readonly"])
    assert result.exit_code == 0 and "1 sign-in(s) ended" in result.output, result.output
    assert signed_in(admin) and not signed_in(viewer)
    result = runner.invoke(args=["stask", "sessions", "revoke"])
    assert result.exit_code == 0 and "1 sign-in(s) ended" in result.output, result.output
    assert not signed_in(admin)


# -- Redis unreachable: closed, and never a 500 -------------------------------------------------------------
def test_an_unreachable_redis_refuses_sessions_without_a_500(
    make_api_app: Callable[..., Flask], stoppable_redis: RedisServer
) -> None:
    app = make_api_app(redis_url=stoppable_redis.url)
    client = app.test_client()
    csrf = login(client)
    stoppable_redis.stop()
    assert error_code(client.get("/stask/api/tasks"), 503) == "unavailable"
    panel = client.get("/stask/tasks", headers={"Accept": "text/html"})
    assert panel.status_code == 503 and "Redis is unreachable" in panel.get_data(as_text=True)
    assert client.get("/stask/login").status_code == 200  # the login page still renders
    again = client.post("/stask/login", data={"password": ADMIN_PASSWORD, "csrf_token": csrf})
    assert again.status_code == 503 and "Redis is unreachable" in again.get_data(as_text=True)
    out = client.post("/stask/logout", data={"csrf_token": csrf}, headers={"Accept": "application/json"})
    assert error_code(out, 503) == "unavailable"
    with client.session_transaction() as session:
        assert "stask_sid" not in session  # signed out of this browser all the same
    result = app.test_cli_runner().invoke(args=["stask", "sessions", "revoke"])
    assert result.exit_code == 1 and result.output.startswith("Error: Redis unreachable"), result.output
