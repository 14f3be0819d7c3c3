"""Request bodies are bounded before anything reads them: 16 KiB on the public routes (login,
logout), ``STASK_MAX_REQUEST_MB`` on the others; 413 in stask's error shape, body unread."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.api import ADMIN, ADMIN_PASSWORD, error_code

PUBLIC_LIMIT = 16 * 1024  # the brief: 16 KiB on login and logout


class CountingStream(io.BytesIO):
    """A request body that counts what was read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        chunk = super().readline(size)
        self.consumed += len(chunk)
        return chunk


def declared_huge(client: FlaskClient, path: str, length: int, **headers: str) -> tuple[Any, CountingStream]:
    """A request declaring ``length`` bytes but carrying only a small form body."""
    stream = CountingStream(b"csrf_token=x&password=y")
    response = client.post(
        path,
        input_stream=stream,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        environ_overrides={"CONTENT_LENGTH": str(length)},
    )
    return response, stream


@pytest.mark.parametrize("path", ["/stask/logout", "/stask/login"])
def test_public_routes_refuse_a_large_declared_body_unread(client: FlaskClient, path: str) -> None:
    response, stream = declared_huge(client, path, 2 << 30, Accept="application/json")
    assert error_code(response, 413) == "too_large"
    assert stream.consumed == 0
    response, stream = declared_huge(client, path, PUBLIC_LIMIT + 1, Accept="text/html")
    assert response.status_code == 413 and "text/html" in response.content_type  # the error page
    assert stream.consumed == 0


def test_the_public_limit_is_16_kib() -> None:
    from stask.web import auth

    assert auth.PUBLIC_MAX_BODY == PUBLIC_LIMIT


def streamed(client: FlaskClient, path: str, body: bytes, **headers: str) -> tuple[Any, CountingStream]:
    """A chunked request as gunicorn hands it over: ``Transfer-Encoding: chunked``, no usable
    Content-Length, and the server ends the stream (``wsgi.input_terminated``)."""
    stream = CountingStream(body)
    response = client.post(
        path,
        input_stream=stream,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked", **headers},
        environ_overrides={"wsgi.input_terminated": True},
    )
    return response, stream


@pytest.mark.parametrize("path", ["/stask/logout", "/stask/login"])
def test_public_routes_refuse_a_streamed_body_over_the_limit_with_413(client: FlaskClient, path: str) -> None:
    response, stream = streamed(client, path, b"csrf_token=" + b"x" * (1 << 20), Accept="application/json")
    assert error_code(response, 413) == "too_large"  # not a 403 from a form cut off at the limit
    assert stream.consumed == PUBLIC_LIMIT + 1  # what was read stops just past the limit, not at 1 MiB
    response, _ = streamed(client, path, b"csrf_token=" + b"x" * PUBLIC_LIMIT, Accept="text/html")
    assert response.status_code == 413 and "text/html" in response.content_type


def test_a_streamed_login_within_the_limit_still_works(client: FlaskClient) -> None:
    client.get("/stask/login")
    with client.session_transaction() as session:
        csrf = session["stask_csrf"]
    body = f"csrf_token={csrf}&password={ADMIN_PASSWORD.replace(' ', '+')}&pad=".encode()
    response, _ = streamed(client, "/stask/login", body + b"x" * (PUBLIC_LIMIT - len(body)))  # exactly 16 KiB
    assert response.status_code == 303
    assert client.get("/stask/api/tasks").status_code == 200


def test_a_small_login_still_works(client: FlaskClient) -> None:
    client.get("/stask/login")
    with client.session_transaction() as session:
        csrf = session["stask_csrf"]
    assert client.post("/stask/logout", data={"csrf_token": csrf}).status_code == 303


def test_authenticated_routes_check_the_declared_length_before_authentication(make_api_app: Any) -> None:
    app = make_api_app(STASK_MAX_REQUEST_MB=1)
    client = app.test_client()
    for headers in ({}, ADMIN):
        stream = CountingStream(b"{}")
        response = client.post(
            "/stask/api/tasks",
            input_stream=stream,
            headers={"Content-Type": "application/json", **headers},
            environ_overrides={"CONTENT_LENGTH": str((1 << 20) + 1)},
        )
        assert error_code(response, 413) == "too_large"
        assert stream.consumed == 0
