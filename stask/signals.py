"""Lifecycle signals (blinker, which Flask ships). Metrics and alerts listen; the engine never calls them.

Every signal is sent with the Flask app as sender and ``task`` (a dict, the task's
fields after the event) as keyword argument, through :func:`emit`: a receiver that raises
is logged and never changes what happens to the task.
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace, Signal
from flask import current_app

_signals = Namespace()

task_created = _signals.signal("stask.task-created")
task_started = _signals.signal("stask.task-started")
task_finished = _signals.signal("stask.task-finished")
task_failed = _signals.signal("stask.task-failed")
task_retried = _signals.signal("stask.task-retried")
task_cancelled = _signals.signal("stask.task-cancelled")


def emit(signal: Signal, task: dict[str, Any]) -> None:
    """Send ``signal`` to every receiver, isolating each one's failure (logged with its traceback)."""
    if not signal.receivers:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for receiver in signal.receivers_for(app):
        try:
            receiver(app, task=task)
        except Exception:
            logging.getLogger("stask").exception("stask: a %s receiver failed", getattr(signal, "name", signal))
