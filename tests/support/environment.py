"""Where the suite runs: the repository root, CI or not, and the skip-or-fail rule for servers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql", "mariadb"]
#: Server URLs: the suite creates (and later drops) a database of its own on each server; the
#: database named in the URL, if any, is never used.
SERVER_URLS = {
    "postgresql": os.environ.get("STASK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/"),
    "mariadb": os.environ.get("STASK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}
_reachable: dict[str, str | None] = {}


def require(name: str, check: Callable[[], Any]) -> None:
    """Skip (locally) or fail (under CI) when a server the test needs is unreachable.

    ``check`` runs once per session and name; its outcome is remembered.
    """
    if name not in _reachable:
        try:
            check()
            _reachable[name] = None
        except Exception as exc:  # any failure to connect (or start) means "not available"
            _reachable[name] = f"{name} is not reachable: {exc}"
    reason = _reachable[name]
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: servers must be running)")
        pytest.skip(reason)
