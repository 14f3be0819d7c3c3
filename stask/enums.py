"""Status codes and priorities, shared by storage, code, templates and the API."""

from __future__ import annotations

from enum import Enum, IntEnum


class Status(IntEnum):
    """Numeric codes of the original sTask, plus ``CANCELLED`` (90)."""

    QUEUED = 10
    PREPARING = 30
    RUNNING = 50
    FINISHED = 80
    CANCELLED = 90
    FAILED = 100

    @property
    def text(self) -> str:
        return self.name.lower()

    @property
    def is_final(self) -> bool:
        return self >= Status.FINISHED


#: Statuses a worker may claim (PREPARING is kept for compatibility: host code may set it).
CLAIMABLE = (Status.QUEUED, Status.PREPARING)
INCOMPLETE = (Status.QUEUED, Status.PREPARING, Status.RUNNING)
FINAL = (Status.FINISHED, Status.CANCELLED, Status.FAILED)


class Priority(str, Enum):
    """Also the names of the RQ queues; a worker serves them in this order."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: object) -> Priority:
        from .exceptions import InvalidInput

        if isinstance(value, Priority):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        choices = ", ".join(p.value for p in cls)
        raise InvalidInput(f"invalid priority {value!r}: use one of {choices}")


_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
QUEUE_ORDER = [p.value for p in Priority]
