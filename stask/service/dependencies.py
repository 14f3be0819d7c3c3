"""Dependencies at creation: checking ``depends_on``, counting the parents a new task waits for.

Parents must already exist, so no cycle can ever be written. At creation a parent that
finished counts as done; one that failed or was cancelled applies the child's
``on_parent_failure`` at once ("cancel": the child is stored cancelled and never runs; "run":
it counts as done). The statements: two for the parents (mark and lock, see
:func:`~.workflow_store.lock_parents`) and one executemany INSERT of the edges, for the
whole batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..enums import Status
from ..exceptions import InvalidInput, TaskNotFound
from ..validation import MAX_ID, parse_digits
from . import workflow_store
from .store import Session

#: What a task does when a parent fails or is cancelled.
ON_PARENT_FAILURE = ("cancel", "run")
#: Parents one task may name.
MAX_PARENTS = 100


def parse_depends_on(value: Any) -> list[int]:
    """Parent ids as a list of distinct integers (a list, or "3,4" from the CLI)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)):
        raise InvalidInput("depends_on must be a list of task ids")
    ids: list[int] = []
    for item in value:
        number = parse_digits(item) if isinstance(item, str) else item
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_ID:
            raise InvalidInput(f"depends_on must hold task ids (whole numbers from 1), got {str(item)[:40]!r}")
        ids.append(number)
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_PARENTS:
        raise InvalidInput(f"a task may depend on at most {MAX_PARENTS} tasks")
    return ids


def parse_policy(value: Any) -> str:
    if value is None:
        return "cancel"
    if value not in ON_PARENT_FAILURE:
        raise InvalidInput(f"on_parent_failure must be one of {', '.join(ON_PARENT_FAILURE)}")
    return str(value)


def cancelled_by(parent_id: int, status: int) -> str:
    """The message of a dependent cancelled because of ``parent_id``."""
    return f"Cancelled: parent task {parent_id} {Status(status).text}"


def link(session: Session, prepared: list[dict[str, Any]], now: datetime) -> None:
    """Check the parents of every prepared row and set its counter (or cancel it) in place.

    Raises :class:`TaskNotFound` (404, like an unknown worker) naming the missing ids; nothing
    is written: the caller's transaction is rolled back.
    """
    wanted = sorted({pid for p in prepared for pid in p.get("depends_on", ())})
    if not wanted:
        return
    statuses = workflow_store.lock_parents(session, wanted)
    missing = [pid for pid in wanted if pid not in statuses]
    if missing:
        session.rollback()
        raise TaskNotFound(f"depends_on names tasks that do not exist: {', '.join(map(str, missing))}")
    for values in prepared:
        parents = values.get("depends_on")
        if not parents:
            continue
        pending = [pid for pid in parents if not Status(statuses[pid]).is_final]
        failed = [pid for pid in parents if statuses[pid] in (Status.FAILED, Status.CANCELLED)]
        values["waiting_parents"] = len(pending)
        if failed and values["on_parent_failure"] == "cancel":
            values.update(
                status=int(Status.CANCELLED),
                finished_at=now,
                message=cancelled_by(failed[0], statuses[failed[0]]),
                waiting_parents=0,
            )


def edges(ids: list[int], prepared: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(parent, child) pairs of freshly inserted rows."""
    return [(pid, child) for child, p in zip(ids, prepared, strict=True) for pid in p.get("depends_on", ())]
