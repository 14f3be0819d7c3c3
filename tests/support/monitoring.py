"""Helpers for the monitoring tests: an app without a database, crafted rows, and small real
servers (HTTP, SMTP) in threads that record what they receive."""

from __future__ import annotations

import socketserver
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from stask import Task, create_app
from stask.models import utcnow
from tests.support.apps import TEST_WORKERS


def app_without_database(redis_url: str, tmp_path: Path) -> Flask:
    """An app whose database is unreachable (nothing listens on port 1). Close it with ``close_app``."""
    return create_app(
        {
            "TESTING": True,
            "REDIS_URL": redis_url,
            "STASK_WORKERS": TEST_WORKERS,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none",
            "STASK_STORAGE": str(tmp_path),
        }
    )


def add_rows(stask: Any, rows: list[dict[str, Any]]) -> None:
    """Insert crafted task rows directly (the engine's own statements are not under test here)."""
    defaults = {
        "identifier": "echo",
        "action": "say",
        "priority": "normal",
        "progress": 0,
        "attempts": 1,
        "max_attempts": 1,
    }
    values = []
    for row in rows:
        item = {**defaults, **row}
        item.setdefault("created_at", (item.get("finished_at") or utcnow()) - timedelta(seconds=5))
        values.append(item)
    stask.db.session.execute(sa.insert(Task), values)
    stask.db.session.commit()


class Recorder(ThreadingHTTPServer):
    """An HTTP server answering POSTs with ``status`` and keeping (headers, body) of each."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _RecordingHandler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class MailSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP (RFC 5321) to accept messages and keep their DATA."""

    allow_reuse_address = True

    def __init__(self) -> None:
        self.messages: list[str] = []
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: MailSink

    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        self.reply("220 sink ready")
        while True:
            line = self.rfile.readline().decode(errors="replace").strip()
            verb = line.split(" ", 1)[0].upper()
            if not line or verb == "QUIT":
                self.reply("221 bye")
                return
            if verb == "EHLO":
                self.reply("250 sink")
            elif verb == "DATA":
                self.reply("354 go on")
                lines = []
                while (data := self.rfile.readline().decode(errors="replace")) not in (".\r\n", ""):
                    lines.append(data)
                self.server.messages.append("".join(lines))
                self.reply("250 queued")
            else:
                self.reply("250 ok")


def import_history(app: Flask, rows: list[dict[str, Any]]) -> None:
    """Insert back-dated task rows, then roll the rollups again from the rows, as an operator does
    after importing history (``flask stask rollups rebuild``): the worker process's maintenance
    pass may have rolled those five-minute periods already, and a rolled period is not read again."""
    from stask.monitoring.rolling import rebuild

    session = app.extensions["stask"].db.session
    session.execute(sa.insert(Task), rows)
    session.commit()
    rebuild(session)
    session.commit()
