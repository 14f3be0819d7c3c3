"""The shape of an alert, shared by the rule modules (:mod:`.alerts`, :mod:`.schedule_alerts`)."""

from __future__ import annotations

from dataclasses import dataclass

CRITICAL, WARNING = "critical", "warning"


@dataclass
class Alert:
    """``key`` is ``type`` or ``type:subject`` (a queue, a worker, a schedule id): the unit of
    de-duplication and cool-down; ``since`` is filled in from Redis when the alert is evaluated."""

    key: str
    type: str
    severity: str
    message: str
    value: float | int | None
    threshold: float | int | None
    since: str | None = None
