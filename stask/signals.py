"""Lifecycle signals (blinker, which Flask ships). Metrics and alerts listen; the engine never calls them.

Every signal is sent with the Flask app as sender and ``task`` (a dict, the task's
fields after the event) as keyword argument.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

task_created = _signals.signal("stask.task-created")
task_started = _signals.signal("stask.task-started")
task_finished = _signals.signal("stask.task-finished")
task_failed = _signals.signal("stask.task-failed")
task_retried = _signals.signal("stask.task-retried")
task_cancelled = _signals.signal("stask.task-cancelled")
