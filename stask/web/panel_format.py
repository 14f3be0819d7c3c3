"""Template filters and globals of the panel: localised labels, times, figures with units, page numbers."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_timedelta
from flask import Flask
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l

from ..enums import Status
from ..models import Task
from . import figures
from .panel_forms import choice_options

STATUS_LABELS = {
    Status.QUEUED: _l("pending"),
    Status.PREPARING: _l("preparing"),
    Status.RUNNING: _l("running"),
    Status.FINISHED: _l("finished"),
    Status.CANCELLED: _l("cancelled"),
    Status.FAILED: _l("failed"),
}
PRIORITY_LABELS = {"high": _l("high"), "normal": _l("normal"), "low": _l("low")}


def status_text(code: Any) -> str:
    try:
        return Status(int(code)).text
    except (TypeError, ValueError):
        return "unknown"


def status_label(code: Any) -> str:
    try:
        return str(STATUS_LABELS[Status(int(code))])
    except (TypeError, ValueError, KeyError):
        return str(code)


def priority_label(name: Any) -> str:
    return str(PRIORITY_LABELS.get(str(name), name))


def fmt_dt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def fmt_duration(seconds: Any) -> str:
    """Short, localised: "3 sec", "2 min", "4 hr"."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    locale = get_locale() or "en"
    if seconds < 60:
        return format_timedelta(timedelta(seconds=round(seconds)), threshold=1, format="short", locale=locale)
    return format_timedelta(timedelta(seconds=seconds), threshold=0.95, format="short", locale=locale)


def fmt_ms(value: Any) -> str:
    """A duration in milliseconds, in the unit that reads best: "650 ms", "5.6 sec", "2.3 min"."""
    return figures.quantity(value, figures.DURATION_MS)


def fmt_ms_list(values: Any) -> str:
    """Durations side by side, sharing a unit when they can: "380 / 650 / 680 ms"."""
    return figures.quantities(values, figures.DURATION_MS)


def fmt_percent(ratio: Any) -> str:
    """A ratio as a localised percentage with one decimal: "6.2%", "6,2%"; None reads "—"."""
    return figures.percent(ratio)


def fmt_decimal(value: Any, decimals: int = 2) -> str:
    """A localised number with at most ``decimals`` decimals: "0.36", "0,36"."""
    return figures.number(float(value or 0), decimals)


def fmt_number(value: Any) -> str:
    return format_decimal(int(value or 0))  # type: ignore[no-any-return]


def fmt_bytes(value: Any) -> str:
    """A size in bytes, in the unit that reads best: "312 MB", "76.5 GB"."""
    return figures.quantity(float(value or 0), figures.SIZE_BYTES)


def fmt_kb(value: Any) -> str:
    """A size in kilobytes (how memory peaks are recorded), in the unit that reads best."""
    return figures.DASH if value is None else fmt_bytes(float(value) * 1024)


#: A scheduled task's live fragments wake at its due time, but at least this often (seconds):
#: a page left open for days still notices a task cancelled meanwhile, and browsers cap timers.
REARM_MAX_SECONDS = 3600


def poll_trigger(task: Task) -> str | None:
    """The ``hx-trigger`` of a task's live fragments (progress, log), or None when they stay still.

    An ended task is final (no trigger; its last answer is also HTTP 286). A scheduled one
    cannot change before it is due: one request at its due time, none before. Anything else
    can change any second.
    """
    if task.is_final:
        return None
    due_in = task.due_in()
    if due_in is None:
        return "every 1s"
    return f"load delay:{min(math.ceil(due_in), REARM_MAX_SECONDS)}s"


def states_counts(message: Any, processed: Any, total: Any) -> bool:
    """Whether a progress message already states both counts ("10 of 49 rows" for 10 and 49),
    so the panel does not show "10 of 49" a second time beside it."""
    if not message or processed is None or not total:
        return False
    numbers = re.findall(r"\d+", str(message))
    return str(processed) in numbers and str(total) in numbers


def page_numbers(current: int, pages: int, around: int = 2) -> list[int | None]:
    """1 … 4 5 [6] 7 8 … 20 (None marks a gap)."""
    wanted = {1, pages, *range(current - around, current + around + 1)}
    out: list[int | None] = []
    previous = 0
    for number in sorted(n for n in wanted if 1 <= n <= pages):
        if number - previous > 1:
            out.append(None)
        out.append(number)
        previous = number
    return out


def install(app: Flask) -> None:
    app.jinja_env.filters.update(
        stask_dt=fmt_dt,
        stask_duration=fmt_duration,
        stask_ms=fmt_ms,
        stask_ms_list=fmt_ms_list,
        stask_number=fmt_number,
        stask_percent=fmt_percent,
        stask_decimal=fmt_decimal,
        stask_bytes=fmt_bytes,
        stask_kb=fmt_kb,
    )
    app.jinja_env.globals.update(
        stask_status_text=status_text,
        stask_status_label=status_label,
        stask_priority_label=priority_label,
        stask_choices=choice_options,
        stask_page_numbers=page_numbers,
        stask_poll_trigger=poll_trigger,
        stask_states_counts=states_counts,
    )
