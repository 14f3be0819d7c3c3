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
#: The same rule as a JSON Schema (ECMA 262) pattern, for the OpenAPI document.
ACTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
#: Ids are signed 64-bit integers on every database: a larger one names no task and is bad input.
MAX_ID = 2**63 - 1

# ISO 8601 date-times as the JSON API takes them, written as patterns a JSON Schema can state
# exactly (``format: date-time`` would require an offset and allow years the server refuses):
# years 2000 to 9000 as written, real calendar days (29 February in leap years only), hours and
# minutes, optional seconds and up to 6 decimals, an optional offset (UTC without one).
_YEAR = "(?:[2-8][0-9]{3}|9000)"
_LEAP_YEAR = "(?:[2-8][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[357][26])00)"
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.][0-9]{1,6})?)?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
#: ``start_at``: a date and a time, e.g. ``2026-01-31T12:00:00Z``.
DATE_TIME_PATTERN = f"^{_DATE}[Tt]{_TIME}{_OFFSET}?$"
#: List filters (``created_from``, ``created_to``): a date-time or a bare date (a whole day).
DATE_OR_DATE_TIME_PATTERN = f"^{_DATE}(?:[Tt]{_TIME}{_OFFSET}?)?$"
_DATE_TIME_RE = re.compile(DATE_TIME_PATTERN)
_DATE_OR_DATE_TIME_RE = re.compile(DATE_OR_DATE_TIME_PATTERN)

#: ASCII digits only (``str.isdigit`` also accepts "²", which ``int()`` refuses), few enough for ``int()``.
DIGITS_RE = re.compile(r"\A[0-9]{1,18}\Z")


def parse_digits(text: str) -> int | None:
    """A whole number written in ASCII digits (at most 18, so it fits 64 bits), else ``None``."""
    return int(text) if isinstance(text, str) and DIGITS_RE.fullmatch(text) else None


#: An id as a path or a filter writes it: ASCII digits, at most 19 (``MAX_ID`` has 19).
ID_DIGITS = "[0-9]{1,19}"
_ID_RE = re.compile(ID_DIGITS)


def parse_id(text: str) -> int | None:
    """An id from 1 to :data:`MAX_ID` written in ASCII digits, else ``None``."""
    if not isinstance(text, str) or not _ID_RE.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


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
    # The range applies to the year as written (what the OpenAPI pattern can state); far from
    # both ends of datetime's range, so the conversion to UTC below cannot overflow.
    if not 2000 <= value.year <= 9000:
        raise InvalidInput(f"{field} {value.isoformat()} is out of range: years 2000 to 9000")
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def parse_api_datetime(value: Any, field: str, *, date_only: bool = False) -> datetime | None:
    """The JSON API's strict form: ``None`` or a string matching :data:`DATE_TIME_PATTERN`
    (:data:`DATE_OR_DATE_TIME_PATTERN` with ``date_only``), exactly as the OpenAPI document says."""
    if value is None:
        return None
    pattern = _DATE_OR_DATE_TIME_RE if date_only else _DATE_TIME_RE
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = repr(value)[:80]
        example = "2026-01-31 or 2026-01-31T12:00:00Z" if date_only else "2026-01-31T12:00:00Z"
        raise InvalidInput(f"{field} {shown} is not a date-time such as {example} (years 2000 to 9000)")
    return parse_datetime(value, field)


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
