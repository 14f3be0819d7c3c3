"""The task list's filters: a query string (or a dict) validated into a :class:`TaskQuery`.

Shared by ``GET /stask/api/tasks``, the panel's task table and the CLI. The statements it
becomes are in :func:`stask.service.store.task_page`: two bounded ones, fast at ten million
rows because every filter and sort key leads an index on ``s_tasks`` followed by ``id`` (a page
is read in order and stops after its rows) and a text search has an index on each database
(:mod:`stask.service.search`). Counts stop at ``COUNT_CAP`` (``SEARCH_COUNT_CAP`` for ``q``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from ..enums import Priority, Status
from ..exceptions import InvalidInput
from ..models import Task
from ..validation import ACTION_RE, MAX_ID, parse_api_datetime, parse_digits, parse_id
from ..workers.base import IDENTIFIER_RE

#: Counting stops here; beyond it the total is reported as ``COUNT_CAP`` with ``total_capped``.
COUNT_CAP = 10_000
#: A text search counts at most this many: every match is read from its row to be checked (the
#: search indexes narrow, they do not decide), so 10,000 would cost ~250 ms at ten million rows.
SEARCH_COUNT_CAP = 1_000
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
#: Keeps OFFSET within what every database accepts (and what anyone would page to).
MAX_PAGE = 1_000_000
MAX_SEARCH = 200
#: Sort keys users may ask for -> column. Each is the primary key or leads an index.
SORTS: dict[str, Any] = {
    "id": Task.id,
    "created_at": Task.created_at,
    "finished_at": Task.finished_at,
    "status": Task.status,
    "priority": Task.priority,
    "identifier": Task.identifier,
}
_STATUS_NAMES = {s.text: s for s in Status} | {"pending": Status.QUEUED}
DATE_ONLY_RE = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
PRIORITIES = tuple(p.value for p in Priority)
ORDERS = ("asc", "desc")
FILTER_KEYS = (
    "status",
    "identifier",
    "action",
    "priority",
    "created_from",
    "created_to",
    "q",
    "schedule_id",
    "group_id",
)


@dataclass(frozen=True)
class TaskQuery:
    """A validated task-list request; ``to_args`` gives it back as query-string values."""

    statuses: tuple[int, ...] = ()
    identifier: str | None = None
    action: str | None = None
    priority: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    #: ``created_to`` was a bare date: the whole day is included.
    created_to_exclusive: datetime | None = None
    q: str | None = None
    #: Only the tasks a schedule created.
    schedule_id: int | None = None
    #: Only the members of a group.
    group_id: int | None = None
    sort: str = "id"
    order: str = "desc"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    raw: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def filtered(self) -> bool:
        return any(self.raw.get(key) for key in FILTER_KEYS)

    def to_args(self, **changes: Any) -> dict[str, str]:
        """Query-string values for this query with ``changes`` (for sort and page links)."""
        args = {key: value for key, value in self.raw.items() if value}
        args.update({key: str(value) for key, value in changes.items() if value is not None})
        return args

    def with_page(self, page: int) -> TaskQuery:
        return replace(self, page=page)


@dataclass
class TaskPage:
    items: list[Task]
    total: int
    total_capped: bool
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [task.to_dict() for task in self.items],
            "total": self.total,
            "total_capped": self.total_capped,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
        }


#: One status filter value: names or codes, comma-separated, lower case (the OpenAPI pattern).
_STATUS_WORD = "|".join(sorted(_STATUS_NAMES, key=len, reverse=True) + [str(int(s)) for s in Status])
STATUS_LIST_PATTERN = f"^(?:{_STATUS_WORD})(?:,(?:{_STATUS_WORD}))*$"
_STATUS_LIST_RE = re.compile(STATUS_LIST_PATTERN)
#: Characters a search may not contain: PostgreSQL refuses NUL in any text parameter.
SEARCH_PATTERN = "^[^\\u0000]*$"


Row = TypeVar("Row")


@dataclass
class RowPage(Generic[Row]):
    """One page of rows (schedules, presets) in the lists' shape: ``items``, ``total``, ``pages``."""

    items: list[Row]
    total: int
    page: int
    per_page: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],  # type: ignore[attr-defined]
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": max(1, math.ceil(self.total / self.per_page)),
        }


def _one(args: Mapping[str, Any], key: str) -> str:
    """The parameter's value as sent; an empty value means "not given" (HTML forms send every field)."""
    value = args.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    return value


def _int_arg(args: Mapping[str, Any], key: str, default: int, upper: int) -> int:
    raw = _one(args, key)
    if not raw:
        return default
    number = parse_digits(raw)  # ASCII only: "²".isdigit() is true, int("²") fails
    if number is None or not 1 <= number <= upper:
        raise InvalidInput(f"{key} must be a whole number from 1 to {upper}, got {raw[:20]!r}")
    return number


def page_args(args: Mapping[str, Any]) -> tuple[int, int]:
    """``page`` and ``per_page`` as every list takes them (empty: the default; see PAGE_PARAMETERS)."""
    return _int_arg(args, "page", 1, MAX_PAGE), _int_arg(args, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)


def _id_arg(args: Mapping[str, Any], key: str) -> int | None:
    """An id filter: empty means "not given", else 1 to MAX_ID in ASCII digits."""
    raw = _one(args, key)
    if not raw:
        return None
    number = parse_id(raw)
    if number is None:
        raise InvalidInput(f"{key} must be a whole number from 1 to {MAX_ID}, got {raw[:20]!r}")
    return number


def _statuses(args: Mapping[str, Any]) -> tuple[int, ...]:
    getlist = getattr(args, "getlist", None)
    values = getlist("status") if getlist else [args.get("status") or ""]
    codes: list[int] = []
    for value in values:
        if value == "":
            continue
        if not isinstance(value, str) or not _STATUS_LIST_RE.fullmatch(value):
            choices = ", ".join(sorted(_STATUS_NAMES)) + " or their codes"
            raise InvalidInput(f"unknown status in {str(value)[:40]!r}: use {choices}, comma-separated, lower case")
        for part in value.split(","):
            code = parse_digits(part)
            codes.append(code if code is not None else int(_STATUS_NAMES[part]))
    return tuple(sorted(set(codes)))


def parse_task_query(args: Mapping[str, Any]) -> TaskQuery:
    """Validate list filters (``request.args`` or a dict); raises :class:`InvalidInput`.

    Each rule is one the OpenAPI document states (``stask.web.openapi``): an empty value means
    "not given"; anything else must match exactly (no trimming, no case folding).
    """
    raw = {key: _one(args, key) for key in (*FILTER_KEYS, "sort", "order", "per_page")}
    statuses = _statuses(args)
    raw["status"] = ",".join(str(code) for code in statuses)
    identifier = raw["identifier"] or None
    if identifier and not IDENTIFIER_RE.fullmatch(identifier):
        raise InvalidInput(f"identifier {identifier[:70]!r} is not a worker identifier")
    action = raw["action"] or None
    if action and not ACTION_RE.fullmatch(action):
        raise InvalidInput(f"action {action[:70]!r} must be 1-64 letters, digits, '_' or '-'")
    priority = raw["priority"] or None
    if priority and priority not in PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)}")
    created_from = parse_api_datetime(raw["created_from"] or None, "created_from", date_only=True)
    created_to = parse_api_datetime(raw["created_to"] or None, "created_to", date_only=True)
    day_end = created_to + timedelta(days=1) if created_to and DATE_ONLY_RE.fullmatch(raw["created_to"]) else None
    # created_from after created_to is no error (a JSON Schema cannot compare two parameters): no task matches.
    q = raw["q"]
    if len(q) > MAX_SEARCH:
        raise InvalidInput(f"q must be at most {MAX_SEARCH} characters")
    if "\x00" in q:  # PostgreSQL refuses NUL in any text parameter
        raise InvalidInput("q must not contain NUL characters")
    schedule_id = _id_arg(args, "schedule_id")
    group_id = _id_arg(args, "group_id")
    sort = raw["sort"] or "id"
    if sort not in SORTS:
        raise InvalidInput(f"cannot sort by {sort[:40]!r}: use one of {', '.join(SORTS)}")
    order = raw["order"] or "desc"
    if order not in ORDERS:
        raise InvalidInput("order must be asc or desc")
    return TaskQuery(
        statuses=statuses,
        identifier=identifier,
        action=action,
        priority=priority,
        created_from=created_from,
        created_to=created_to,
        created_to_exclusive=day_end,
        q=q.strip() or None,
        schedule_id=schedule_id,
        group_id=group_id,
        sort=sort,
        order=order,
        page=_int_arg(args, "page", 1, MAX_PAGE),
        per_page=_int_arg(args, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
        raw=raw,
    )


@dataclass(frozen=True)
class WorkerPageQuery:
    """A page of one worker's (or every worker's) rows: ``GET /api/schedules``, ``/api/presets``."""

    identifier: str | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


def parse_worker_page_query(args: Mapping[str, Any]) -> WorkerPageQuery:
    """The task list's rules (:mod:`stask.service.listing`): an empty value means "not given",
    anything else must match exactly (no trimming); raises :class:`InvalidInput`."""
    identifier = _one(args, "identifier") or None
    if identifier is not None and not IDENTIFIER_RE.fullmatch(identifier):
        raise InvalidInput(f"identifier {identifier[:70]!r} is not a worker identifier")
    page, per_page = page_args(args)
    return WorkerPageQuery(identifier=identifier, page=page, per_page=per_page)
