"""POST a notification to a webhook: signed, bounded in time and size, never redirected, never
sent to a private address unless ``STASK_WEBHOOK_ALLOW_PRIVATE`` allows it (the SSRF guard).

The guard resolves the host once and connects to the very address it vetted (no second DNS
lookup that a rebinding name could answer differently); the request still carries the original
``Host`` header and, over HTTPS, the original name for SNI and the certificate check. A 3xx is a
failed delivery: following it would reach an address nobody vetted.

Costs: one DNS lookup and one connection per attempt; at most :data:`MAX_ANSWER_BYTES` of the
answer are read, then the connection is closed.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from .outcome import DeliveryFailed, Response, excerpt, refused
from .signing import EVENT_HEADER, TIMESTAMP_HEADER, signed_headers

__all__ = ["DeliveryFailed", "Response", "check_headers", "check_url", "post_webhook"]

USER_AGENT = "stask-notifier"
#: Seconds allowed to connect, and to wait for each piece of the answer.
DEFAULT_TIMEOUT = 10.0
#: The most of an answer that is read; the rest is left unread.
MAX_ANSWER_BYTES = 64 * 1024
MAX_URL_CHARS = 2000
MAX_HEADERS = 20
MAX_HEADER_CHARS = 1000
#: Headers stask sets itself: a rule's extra headers may not replace them.
RESERVED_HEADERS = frozenset({"host", "content-length", "content-type", "transfer-encoding", "connection"})
RESERVED_PREFIX = "x-stask-"

#: An HTTP header name (RFC 9110 ``token``).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: A header value stask sends as it is: visible ASCII, spaces and tabs (no CR, LF or other controls).
_VALUE = re.compile(r"[\t\x20-\x7e]*")
#: A host name once IDNA-encoded: letters, digits, hyphens and dots.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
#: What ``inet_aton`` also reads as an IPv4 address (``127.1``, ``0x7f000001``, ``2130706433``).
_LEGACY_IPV4 = re.compile(r"[0-9][0-9a-fA-FxX.]*")
#: What a request line cannot carry as it is (percent-encoded as UTF-8).
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")
#: NAT64 (RFC 6052): the IPv4 address sits in the last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable: not private, loopback, link-local, multicast,
    reserved or unspecified, also when an IPv4 address hides inside an IPv6 one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one, in any form a resolver would accept."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` when stask may POST to it; :class:`ValueError` with a one-line reason otherwise.

    Only the form is checked here (and a literal IP host); what a host name resolves to is
    checked at each delivery.
    """
    if not isinstance(url, str) or not url:
        raise ValueError("the URL is empty")
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"the URL is too long: at most {MAX_URL_CHARS} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError("the URL contains spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("the URL must start with http:// or https://")
    if "@" in parts.netloc:
        raise ValueError("the URL may not carry a user name or password (use a header)")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host")
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise ValueError("the URL's port is not a number from 1 to 65535") from None
    if parts.port == 0:
        raise ValueError("the URL's port is not a number from 1 to 65535")
    address = _literal_address(host)
    if address is None:
        _ascii_host(host)
    elif not allow_private and not is_public(address):
        raise ValueError(f"{host} is a private, loopback or link-local address (STASK_WEBHOOK_ALLOW_PRIVATE allows it)")
    return url


def _ascii_host(host: str) -> str:
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{host!r} is not a valid host name") from None
    if len(encoded) > 253 or not _HOST_NAME.fullmatch(encoded):
        raise ValueError(f"{host!r} is not a valid host name")
    return encoded


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The extra headers of a rule as a plain dict; :class:`ValueError` with a one-line reason."""
    if not isinstance(headers, Mapping):
        raise ValueError("headers must be an object of names to values")
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    seen: set[str] = set()
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name) or len(name) > MAX_HEADER_CHARS:
            raise ValueError(f"{str(name)[:60]!r} is not a valid header name")
        lower = name.lower()
        if lower in RESERVED_HEADERS or lower.startswith(RESERVED_PREFIX):
            raise ValueError(f"the header {name} is set by stask and cannot be replaced")
        if lower in seen:
            raise ValueError(f"the header {name} is given twice")
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            raise ValueError(f"the value of {name} must be printable ASCII text on one line")
        if len(value) > MAX_HEADER_CHARS:
            raise ValueError(f"the value of {name} is too long: at most {MAX_HEADER_CHARS} characters")
        seen.add(lower)
        out[name] = value
    return out


def post_webhook(
    url: str,
    body: bytes,
    *,
    event: str,
    secret: str | None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    allow_private: bool = False,
    tls_context: ssl.SSLContext | None = None,
) -> Response:
    """POST ``body`` (JSON) to ``url``; the :class:`Response` of a 2xx answer.

    Raises :class:`DeliveryFailed`: permanent for a URL, header or address stask refuses, not
    permanent for any other status (3xx included: redirects are never followed), a network
    error or a timeout. ``tls_context`` replaces the system's trust store (tests, private CAs).
    """
    try:
        check_url(url, allow_private=allow_private)
        extra = check_headers(headers or {})
        if not _TOKEN.fullmatch(event):
            raise ValueError(f"{event[:60]!r} is not a valid event name")
    except ValueError as exc:
        raise refused(str(exc)) from None
    parts = urlsplit(url)
    https = parts.scheme.lower() == "https"
    host = parts.hostname or ""
    if _literal_address(host) is None:
        host = _ascii_host(host)  # http.client writes the Host header in ASCII: IDNA it once here
    port = parts.port or (443 if https else 80)
    targets = _vetted_addresses(host, port, allow_private=allow_private)

    sent = {"User-Agent": USER_AGENT} if "user-agent" not in {name.lower() for name in extra} else {}
    sent.update(extra)
    sent.update({"Content-Type": "application/json", EVENT_HEADER: event, TIMESTAMP_HEADER: str(int(time.time()))})
    if secret:
        sent.update(signed_headers(secret, body))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # The request line is ASCII: percent-encode what is not (spaces and controls were refused).
    path = _NOT_ASCII.sub(lambda found: quote(found.group()), path)

    tls = (tls_context or ssl.create_default_context()) if https else None
    connection = _PinnedConnection(host, port, targets, timeout=timeout, tls=tls)
    try:
        connection.request("POST", path, body=body, headers=sent)
        answer = connection.getresponse()
        status = answer.status
        text = excerpt(_read_bounded(answer, timeout))
    except (OSError, http.client.HTTPException, UnicodeError) as exc:
        raise DeliveryFailed(Response(None, excerpt(_describe(exc, timeout)))) from None
    finally:
        connection.close()
    response = Response(status, text)
    if not 200 <= status < 300:
        raise DeliveryFailed(response)
    return response


def _vetted_addresses(host: str, port: int, *, allow_private: bool) -> list[tuple[Any, ...]]:
    """Resolve ``host`` once; refuse it when any of its addresses is not public (SSRF guard)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise DeliveryFailed(Response(None, excerpt(f"could not resolve {host}: {exc}"))) from None
    if not found:
        raise DeliveryFailed(Response(None, f"could not resolve {host}"))
    if not allow_private:
        for _family, _type, _proto, _name, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if not is_public(address):
                raise refused(
                    f"{host} resolves to {address}, a private, loopback or link-local address "
                    "(STASK_WEBHOOK_ALLOW_PRIVATE allows it)"
                )
    return [(family, kind, proto, sockaddr) for family, kind, proto, _name, sockaddr in found]


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to addresses already vetted, speaking to ``host`` by name.

    ``http.client`` writes the ``Host`` header from ``host``; :meth:`connect` never resolves it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        targets: list[tuple[Any, ...]],
        *,
        timeout: float,
        tls: ssl.SSLContext | None,
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.targets = targets
        self.tls = tls
        # The Host header leaves out the scheme's own port (``Host: example.com``, not ``:443``).
        self.default_port = 443 if tls is not None else 80

    def connect(self) -> None:
        error: OSError | None = None
        for family, kind, proto, sockaddr in self.targets:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self.timeout)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            try:
                if self.tls is not None:
                    sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            except OSError:
                sock.close()
                raise
            self.sock = sock
            return
        raise error or OSError("no address to connect to")


def _read_bounded(answer: http.client.HTTPResponse, timeout: float) -> bytes:
    """At most :data:`MAX_ANSWER_BYTES` of the body, and no longer than ``timeout`` in all."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    left = MAX_ANSWER_BYTES
    while left > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took too long to arrive")
        chunk = answer.read1(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s ({exc})"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS failed: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
