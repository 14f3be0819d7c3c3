"""Real local servers that notifications are sent to: an HTTP receiver for webhooks and an SMTP
receiver (aiosmtpd) for e-mail. Each listens on 127.0.0.1 on a port of its own, records what it
gets, and is stopped by the test that started it (the fixtures in ``tests/conftest.py`` do that).

The HTTP receiver answers from a script (``WebhookReceiver(Answer(500), Answer(200))``): each
request takes the next answer, then the last one repeats. An answer may redirect (``Location``)
or wait before it is written (``delay``, for timeouts); a delayed answer gives up as soon as the
receiver stops, so teardown never waits for it.
"""

from __future__ import annotations

import email.policy
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from stask.embedded import free_port
from stask.settings import Settings

#: The largest request body the HTTP receiver reads (bigger ones are answered 413, unrecorded).
MAX_BODY = 1024 * 1024


# -- HTTP ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One scripted answer of the HTTP receiver."""

    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (the client's timeout should give up first).
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    """A request as it arrived: the raw body, the headers as sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value whatever the case of its name."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A delayed handler ends when the receiver stops; closing must not wait for stragglers.
    block_on_close = False
    receiver: WebhookReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        answer = receiver._record(Recorded(self.command, self.path, dict(self.headers.items()), body))
        if answer.delay and receiver._stopping.wait(answer.delay):
            return  # stopping: nobody is waiting for this answer any more
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            pass  # the client gave up (its timeout): that is what some tests want

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: the test reads ``receiver.requests`` instead."""


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 recording each request and answering from a script."""

    def __init__(self, *answers: Answer, tls: ssl.SSLContext | None = None) -> None:
        self._script = list(answers) or [Answer()]
        self._tls = tls
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        #: Server names the TLS clients asked for (SNI), in order.
        self.server_names: list[str | None] = []

    # -- life ---------------------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.receiver = self
        if self._tls is not None:
            self._tls.sni_callback = self._sni
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- use ----------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "start() the receiver first"
        return int(self._server.server_address[1])

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def answer(self, *answers: Answer) -> None:
        """Replace the script: the next requests get these answers (the last one repeats)."""
        with self._lock:
            self._script = list(answers) or [Answer()]

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        """The requests once at least ``count`` arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests within {timeout} s, got {len(self.requests)}")
            time.sleep(0.01)
        return self.requests

    def _record(self, request: Recorded) -> Answer:
        with self._lock:
            self._requests.append(request)
            return self._script.pop(0) if len(self._script) > 1 else self._script[0]

    def _sni(self, _sock: Any, name: str | None, _context: Any) -> None:
        self.server_names.append(name)


# -- TLS for tests --------------------------------------------------------------------------------
def make_certificate(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (a DNS name): ``(cert.pem, key.pem)``, by ``openssl``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not installed")
    cert, key = folder / f"{host}.pem", folder / f"{host}.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={host}"]
        + ["-addext", f"subjectAltName=DNS:{host}"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    """A client context trusting only ``cert`` (host names are checked as usual)."""
    return ssl.create_default_context(cafile=str(cert))


# -- SMTP ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    """One message as the SMTP receiver got it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    #: The user that logged in for it (``None``: no login).
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=email.policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _SmtpHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.receiver.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.receiver.data_reply:
            return self.receiver.data_reply
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        content = envelope.original_content or envelope.content or b""
        received = Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(content), login)  # type: ignore[arg-type]
        with self.receiver._lock:
            self.receiver._messages.append(received)
        return "250 Message accepted"


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 collecting messages.

    ``users`` turns on AUTH (PLAIN and LOGIN, allowed without TLS here); ``refuse`` maps a
    recipient to the reply its RCPT gets (``"550 no such user"``); ``data_reply`` answers every
    DATA with that reply instead of accepting (``"451 try later"``); ``tls`` offers STARTTLS.
    """

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        refuse: Mapping[str, str] | None = None,
        data_reply: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.users = dict(users or {})
        self.refuse = dict(refuse or {})
        self.data_reply = data_reply
        self.tls = tls
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._controller: Controller | None = None
        self.port = 0

    def start(self, attempts: int = 3) -> SmtpReceiver:
        for attempt in range(attempts):  # another process may take the free port first
            self.port = free_port()
            controller = Controller(
                _SmtpHandler(self),
                hostname="127.0.0.1",
                port=self.port,
                authenticator=self._authenticate if self.users else None,
                auth_require_tls=False,
                tls_context=self.tls,
            )
            try:
                controller.start()
            except (OSError, RuntimeError):
                if attempt == attempts - 1:
                    raise
                continue
            self._controller = controller
            return self
        raise RuntimeError("unreachable")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def settings(self, **config: Any) -> Settings:
        """Settings that mail to this receiver (``STASK_*`` keys in ``config`` override)."""
        base: dict[str, Any] = {
            "STASK_ALERT_SMTP_HOST": "127.0.0.1",
            "STASK_ALERT_SMTP_PORT": self.port,
            "STASK_ALERT_EMAIL_FROM": "stask@example.com",
        }
        return Settings.from_config({**base, **config}, environ={})

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)
