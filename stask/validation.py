"""Turn loosely typed input (code, JSON, CLI strings) into checked values, or raise InvalidInput."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from .exceptions import InvalidInput

#: Full-match only (``\Z``, not ``$``, which also matches before a final newline).
ACTION_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
MAX_ATTEMPTS_LIMIT = 100
#: ``user_id`` is a 32-bit INTEGER column on every database.
MAX_INT32 = 2**31 - 1
#: ASCII digits only (``str.isdigit`` also accepts "²", which ``int()`` refuses), few enough for ``int()``.
DIGITS_RE = re.compile(r"\A[0-9]{1,18}\Z")


def parse_digits(text: str) -> int | None:
    """A whole number written in ASCII digits (at most 18, so it fits 64 bits), else ``None``."""
    return int(text) if isinstance(text, str) and DIGITS_RE.fullmatch(text) else None


def parse_datetime(value: Any, field: str = "start_at") -> datetime | None:
    """``None``, a datetime or an ISO 8601 string -> naive UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{field} {value!r} is not an ISO 8601 date-time such as 2026-01-31T12:00:00Z") from None
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be an ISO 8601 date-time string, got {type(value).__name__}")
    if value.tzinfo is not None:
        try:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise InvalidInput(f"{field} {value.isoformat()} is out of range") from None
    if not 2000 <= value.year <= 9000:
        raise InvalidInput(f"{field} {value.isoformat()} is out of range")
    return value


def parse_data(value: Any, field: str = "data") -> dict[str, Any]:
    """A JSON object; returned as it will read back from the database."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object, got {type(value).__name__}")
    try:
        text = json.dumps(value, allow_nan=False)
        if "\\ud" in text:  # a lone surrogate ("\\ud800") is no valid UTF-8: databases refuse it
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{field} is not JSON-serialisable: {exc}") from None
    if len(text) > 1_000_000:
        raise InvalidInput(f"{field} is larger than 1 MB once encoded; store big inputs as an upload")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def parse_positive_int(value: Any, field: str, *, upper: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        number = parse_digits(value.strip()) if isinstance(value, str) else None
        if number is None:
            raise InvalidInput(f"{field} must be a positive integer")
        value = number
    if value < 1 or (upper is not None and value > upper):
        raise InvalidInput(f"{field} must be between 1 and {upper or 'any'}")
    return value


def parse_optional_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer")
    if not -MAX_INT32 - 1 <= value <= MAX_INT32:
        raise InvalidInput(f"{field} must fit a 32-bit integer")
    return value


def parse_action(value: Any) -> str:
    if not isinstance(value, str) or not ACTION_RE.fullmatch(value):
        raise InvalidInput(f"action {value!r} must be 1-64 letters, digits, '_' or '-'")
    return value
