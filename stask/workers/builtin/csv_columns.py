"""The columns a CSV import checks: declared in two short texts, checked by :class:`Field`.

``required_columns`` is ``"id, email"``: the header must have them and every row fill them.
``column_types`` is ``"id:int, email:email, born:date"``; a column without a type is text.
Each type is a :class:`~stask.workers.fields.Field` (the one validator of settings and forms),
plus a calendar check for dates. A cell passes as its typed value, or fails with a reason in
English that the error report shows.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ..fields import Field, FieldError

#: ``YYYY-MM-DD``; the calendar is checked after the pattern (no 2026-02-30).
DATE_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
#: Something@something.tld without spaces: a shape check, not deliverability.
EMAIL_PATTERN = "[^@ ]+@[^@ ]+[.][^@ .]+"
#: The type of each column type name (``str`` is text: a quoted CSV cell may hold line breaks).
TYPES: dict[str, Field] = {
    "str": Field(type="text"),
    "int": Field(type="int"),
    "float": Field(type="float"),
    "date": Field(type="str", max_length=10, pattern=DATE_PATTERN),
    "email": Field(type="str", max_length=254, pattern=EMAIL_PATTERN),
}
_NAME = "[^,: ][^,:]*"
_TYPE = f"(?:{'|'.join(TYPES)})"
#: The form of ``column_types``; no two quantifiers compete for a character, so matching stays
#: linear. Also an ECMA-262 pattern, for the OpenAPI document.
TYPES_PATTERN = f"(?: *{_NAME}: *{_TYPE} *(?:, *{_NAME}: *{_TYPE} *)*)?"
#: Reasons worded for a cell where the field's own wording would be vague.
REASONS = {
    ("date", "pattern"): "must be a date such as 2026-01-31",
    ("date", "max_length"): "must be a date such as 2026-01-31",
    ("email", "pattern"): "must be an e-mail address",
}
SURROGATE_REASON = "is not valid UTF-8 text"


class CellError(ValueError):
    """A cell its column refuses; the message is the report's reason."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "str"
    required: bool = False

    def check(self, raw: str | None) -> Any:
        """The cell's typed value (``None`` for an empty optional cell), or :class:`CellError`."""
        text = (raw or "").strip()
        if not text:
            if self.required:
                raise CellError("is required")
            return None
        try:
            value = TYPES[self.type].parse(text)
        except FieldError as exc:
            if exc.code == "surrogate":
                raise CellError(SURROGATE_REASON) from None
            raise CellError(REASONS.get((self.type, exc.code), str(exc))) from None
        if self.type == "date":
            try:
                return datetime.date.fromisoformat(value)
            except ValueError:
                raise CellError("is not a date in the calendar") from None
        return value


def names(text: str) -> list[str]:
    """``"id, email"`` as ``["id", "email"]`` (empty items dropped, order kept, no repeats)."""
    found = [item.strip() for item in text.split(",")]
    return list(dict.fromkeys(name for name in found if name))


def types(text: str) -> dict[str, str]:
    """``"id:int, born:date"`` as ``{"id": "int", "born": "date"}``; ``ValueError`` says what is wrong."""
    declared: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, colon, kind = item.rpartition(":")
        name, kind = name.strip(), kind.strip()
        if not colon or not name:
            raise ValueError(f"{item.strip()!r} should be column:type, such as age:int")
        if kind not in TYPES:
            raise ValueError(f"column {name!r}: unknown type {kind!r}; use one of {', '.join(TYPES)}")
        declared[name] = kind
    return declared


def columns(header: list[str], required: list[str], typed: dict[str, str]) -> list[Column]:
    """One :class:`Column` per header name; ``ValueError`` for a header an import cannot use."""
    seen: set[str] = set()
    for position, name in enumerate(header, 1):
        if not name:
            raise ValueError(f"column {position} of the header has no name")
        try:
            TYPES["str"].validate(name)
        except FieldError as exc:
            reason = SURROGATE_REASON if exc.code == "surrogate" else str(exc)
            raise ValueError(f"the name of column {position} of the header {reason}") from None
        if name in seen:
            raise ValueError(f"column {name!r} appears twice in the header")
        seen.add(name)
    missing = [name for name in required if name not in seen]
    if missing:
        raise ValueError(f"the header lacks the required column(s) {', '.join(missing)}")
    return [Column(name, typed.get(name, "str"), name in required) for name in header]


def normalised(value: Any) -> str:
    """A checked value as the normalised file writes it (dates ISO, numbers canonical)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)
