"""The webhook transport against a real local HTTP server: signed, never redirected, bounded in
time, and refusing private addresses (literal or resolved) unless told otherwise.

No mocks of HTTP: every request goes over a socket to ``tests.support.receivers.WebhookReceiver``.
Name resolution is the one thing replaced, in two tests, to give a test-only name an address.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stask.embedded import free_port
from stask.notify import signing
from stask.notify.webhook import (
    MAX_HEADERS,
    DeliveryFailed,
    Response,
    check_headers,
    check_url,
    post_webhook,
)
from tests.support.environment import require
from tests.support.receivers import Answer, WebhookReceiver, client_context, make_certificate, server_context

SECRET = "s3cret-for-tests"
BODY = json.dumps({"event": "finished", "task": {"id": 7, "message": "naïve"}}).encode()


def post(url: str, **options: Any) -> Response:
    options.setdefault("event", "finished")
    options.setdefault("secret", SECRET)
    options.setdefault("allow_private", True)  # the receiver listens on 127.0.0.1
    return post_webhook(url, BODY, **options)


# -- what arrives -----------------------------------------------------------------------------------
def test_a_signed_post_arrives_with_its_headers_and_verifies(webhook_receiver: WebhookReceiver) -> None:
    response = post(webhook_receiver.url("/hook?team=ops"), headers={"Authorization": "Bearer abc", "X-Team": "ops"})

    assert response == Response(200, "ok")
    [request] = webhook_receiver.requests
    assert (request.method, request.path, request.body) == ("POST", "/hook?team=ops", BODY)
    assert request.header("Content-Type") == "application/json"
    assert request.header("User-Agent") == "stask-notifier"
    assert request.header("X-Stask-Event") == "finished"
    assert request.header("Host") == f"127.0.0.1:{webhook_receiver.port}"
    assert request.header("Authorization") == "Bearer abc" and request.header("X-Team") == "ops"
    # The receiver's side: the documented check passes with the secret, fails with another.
    assert signing.verify(SECRET, request.headers, request.body)
    assert not signing.verify("another secret", request.headers, request.body)
    assert abs(int(request.header("X-Stask-Timestamp") or 0) - time.time()) < 60


def test_a_path_beyond_ascii_is_percent_encoded(webhook_receiver: WebhookReceiver) -> None:
    post(webhook_receiver.url("/hook/café?team=Ünïted&x=%20"))

    assert webhook_receiver.requests[0].path == "/hook/caf%C3%A9?team=%C3%9Cn%C3%AFted&x=%20"


def test_without_a_secret_there_is_a_timestamp_but_no_signature(webhook_receiver: WebhookReceiver) -> None:
    post(webhook_receiver.url(), secret=None)

    [request] = webhook_receiver.requests
    assert request.header("X-Stask-Timestamp") and request.header("X-Stask-Signature") is None


def test_a_rule_may_replace_the_user_agent(webhook_receiver: WebhookReceiver) -> None:
    post(webhook_receiver.url(), headers={"user-agent": "ops-bridge/1"})

    [request] = webhook_receiver.requests
    assert request.header("User-Agent") == "ops-bridge/1"


# -- failures ---------------------------------------------------------------------------------------
def test_a_500_is_a_failed_delivery_with_code_and_excerpt_and_the_retry_succeeds(
    webhook_receiver: WebhookReceiver,
) -> None:
    webhook_receiver.answer(Answer(500, b"E" * 2000 + b"\xff"), Answer(200, b"thanks"))

    with pytest.raises(DeliveryFailed) as failed:
        post(webhook_receiver.url())
    assert failed.value.response == Response(500, "E" * 500)
    assert failed.value.permanent is False
    assert post(webhook_receiver.url()) == Response(200, "thanks")
    assert len(webhook_receiver.requests) == 2


def test_an_undecodable_answer_is_shown_with_replacement_characters(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.answer(Answer(503, b"busy \xff\xfe"))

    with pytest.raises(DeliveryFailed) as failed:
        post(webhook_receiver.url())
    assert failed.value.response == Response(503, "busy \ufffd\ufffd")


def test_a_large_answer_is_cut_short(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.answer(Answer(200, b"a" * 5_000_000))

    started = time.monotonic()
    assert post(webhook_receiver.url()) == Response(200, "a" * 500)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed(webhook_receiver: WebhookReceiver, status: int) -> None:
    with WebhookReceiver() as target:
        webhook_receiver.answer(Answer(status, b"moved", headers={"Location": target.url("/elsewhere")}))

        with pytest.raises(DeliveryFailed) as failed:
            post(webhook_receiver.url())

        assert failed.value.response == Response(status, "moved") and not failed.value.permanent
        time.sleep(0.2)
        assert target.requests == []
    assert len(webhook_receiver.requests) == 1


def test_the_timeout_is_honoured(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.answer(Answer(200, delay=5.0))

    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as failed:
        post(webhook_receiver.url(), timeout=0.3)
    assert time.monotonic() - started < 2.5
    assert failed.value.response.code is None and "no answer within 0.3 s" in failed.value.response.excerpt
    assert failed.value.permanent is False


def test_nothing_listening_is_a_failure_worth_a_retry() -> None:
    with pytest.raises(DeliveryFailed) as failed:
        post(f"http://127.0.0.1:{free_port()}/hook")
    assert failed.value.response.code is None and failed.value.response.excerpt
    assert failed.value.permanent is False


# -- the SSRF guard ---------------------------------------------------------------------------------
def test_a_loopback_address_is_refused_unless_allowed(webhook_receiver: WebhookReceiver) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        post(webhook_receiver.url(), allow_private=False)
    assert failed.value.permanent is True and failed.value.response.code is None
    assert "STASK_WEBHOOK_ALLOW_PRIVATE" in failed.value.response.excerpt
    assert webhook_receiver.requests == []

    assert post(webhook_receiver.url(), allow_private=True).code == 200


def test_a_name_resolving_to_loopback_is_refused_unless_allowed(webhook_receiver: WebhookReceiver) -> None:
    url = webhook_receiver.url(host="localhost")
    with pytest.raises(DeliveryFailed) as failed:
        post(url, allow_private=False)
    assert failed.value.permanent is True
    assert "localhost resolves to" in failed.value.response.excerpt
    assert webhook_receiver.requests == []

    assert post(url, allow_private=True).code == 200
    assert webhook_receiver.requests[0].header("Host") == f"localhost:{webhook_receiver.port}"


@pytest.fixture
def test_names(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[str]]]:
    """``*.example`` resolves to 127.0.0.1; returns the names looked up so far (other names resolve as usual)."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".example"):
            looked_up.append(host)
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield lambda: list(looked_up)


def test_the_vetted_address_is_used_without_a_second_lookup(
    webhook_receiver: WebhookReceiver, test_names: Callable[[], list[str]]
) -> None:
    """DNS rebinding: the name is resolved once, and the connection goes to what was vetted."""
    url = webhook_receiver.url(host="hooks.example")

    with pytest.raises(DeliveryFailed) as failed:
        post(url, allow_private=False)
    assert failed.value.permanent and "hooks.example resolves to 127.0.0.1" in failed.value.response.excerpt
    assert test_names() == ["hooks.example"]

    assert post(url, allow_private=True).code == 200
    assert test_names() == ["hooks.example", "hooks.example"]  # one lookup per delivery
    assert webhook_receiver.requests[0].header("Host") == f"hooks.example:{webhook_receiver.port}"


def test_an_international_name_is_sent_in_its_ascii_form(
    webhook_receiver: WebhookReceiver, test_names: Callable[[], list[str]]
) -> None:
    assert post(webhook_receiver.url(host="bücher.example")).code == 200
    assert test_names() == ["xn--bcher-kva.example"]
    assert webhook_receiver.requests[0].header("Host") == f"xn--bcher-kva.example:{webhook_receiver.port}"


def test_https_checks_the_certificate_and_sends_sni_for_the_original_name(
    tmp_path: Path, test_names: Callable[[], list[str]]
) -> None:
    require("openssl", lambda: make_certificate(tmp_path, "probe.example"))
    cert, key = make_certificate(tmp_path, "hooks.example")
    with WebhookReceiver(tls=server_context(cert, key)) as receiver:
        response = post(receiver.url(host="hooks.example"), tls_context=client_context(cert))
        assert response == Response(200, "ok")
        assert receiver.server_names == ["hooks.example"]
        assert receiver.requests[0].header("Host") == f"hooks.example:{receiver.port}"

        # The same server by its address: the certificate does not name it, so nothing is sent.
        with pytest.raises(DeliveryFailed) as failed:
            post(receiver.url(host="127.0.0.1"), tls_context=client_context(cert))
        assert failed.value.response.code is None and "TLS failed" in failed.value.response.excerpt
        assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:10.0.0.1]:8080/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://[fc00::1]/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://192.0.2.1/",
    ],
)
def test_check_url_refuses_addresses_that_are_not_public(url: str) -> None:
    with pytest.raises(ValueError, match="STASK_WEBHOOK_ALLOW_PRIVATE"):
        check_url(url, allow_private=False)
    assert check_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    "url",
    ["https://hooks.slack.com/services/T0/B0/x", "http://93.184.216.34:8080/x?y=1", "https://[2606:4700::1111]/"],
)
def test_check_url_accepts_public_urls(url: str) -> None:
    assert check_url(url, allow_private=False) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("ftp://example.com/", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://@example.com/", "user name or password"),
        ("http:///hook", "no host"),
        ("http://example.com:99999/", "port"),
        ("http://example.com:0/", "port"),
        ("http://example.com:http/", "port"),
        ("http://exa mple.com/", "spaces"),
        ("http://example.com/\r\nX: y", "spaces"),
        ("http://exa_mple.com/", "not a valid host name"),
        ("http://-example.com/", "not a valid host name"),
        ("http://example.com/" + "a" * 2000, "too long"),
    ],
)
def test_check_url_refuses_malformed_urls(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_url(url, allow_private=True)


def test_post_refuses_a_malformed_url_permanently_without_sending() -> None:
    with pytest.raises(DeliveryFailed) as failed:
        post("ftp://example.com/")
    assert failed.value.permanent and "http:// or https://" in failed.value.response.excerpt


# -- extra headers ----------------------------------------------------------------------------------
def test_check_headers_accepts_ordinary_headers() -> None:
    headers = {"Authorization": "Bearer a.b.c", "X-Team": "ops\tnight", "Accept": "*/*"}
    assert check_headers(headers) == headers
    assert check_headers({}) == {}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Host": "evil.example"}, "set by stask"),
        ({"content-length": "1"}, "set by stask"),
        ({"Content-Type": "text/plain"}, "set by stask"),
        ({"Transfer-Encoding": "chunked"}, "set by stask"),
        ({"CONNECTION": "keep-alive"}, "set by stask"),
        ({"X-Stask-Signature": "sha256=0"}, "set by stask"),
        ({"x-stask-anything": "1"}, "set by stask"),
        ({"Bad Name": "1"}, "not a valid header name"),
        ({"a:b": "1"}, "not a valid header name"),
        ({"": "1"}, "not a valid header name"),
        ({"X-A": "one\r\nX-Injected: 1"}, "printable ASCII"),
        ({"X-A": "one\ntwo"}, "printable ASCII"),
        ({"X-A": "nul\x00"}, "printable ASCII"),
        ({"X-A": "ünïcode"}, "printable ASCII"),
        ({"X-A": 5}, "printable ASCII"),
        ({"X-A": "a" * 1001}, "too long"),
        ({"X-A": "1", "x-a": "2"}, "twice"),
        ({f"X-{n}": "v" for n in range(MAX_HEADERS + 1)}, "at most 20"),
    ],
)
def test_check_headers_refusals(headers: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_headers(headers)


def test_post_refuses_bad_headers_permanently_without_sending(webhook_receiver: WebhookReceiver) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        post(webhook_receiver.url(), headers={"X-Stask-Event": "forged"})
    assert failed.value.permanent and "set by stask" in failed.value.response.excerpt
    assert webhook_receiver.requests == []
