"""The chaos harness's worker plugin (``STASK_WORKERS=bench.chaos_plugins:ChaosWorker``).

Every execution of an action appends one line, ``<task id> <attempt> <pid> <ppid> <unix
time>``, to the file named by ``STASK_CHAOS_LOG``. The file is opened with ``O_APPEND`` and
the line written with one ``os.write``, so lines from concurrent processes never interleave.
The line is written first, before the action's work: it records that an attempt *started*.
"""

from __future__ import annotations

import os
import time
from typing import Any

from stask.workers.base import BaseWorker

#: What the chaos harness registers through ``STASK_WORKERS``.
CHAOS_WORKERS = "bench.chaos_plugins:ChaosWorker"
LOG_VARIABLE = "STASK_CHAOS_LOG"
SLOW_SECONDS = 0.05


def record_execution(task: Any) -> None:
    """One ``O_APPEND`` write per execution: ``id attempt pid ppid time``."""
    line = f"{task.id} {task.attempts} {os.getpid()} {os.getppid()} {time.time():.6f}\n"
    fd = os.open(os.environ[LOG_VARIABLE], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class ChaosWorker(BaseWorker):
    """Two actions: ``noop`` (returns at once) and ``slow`` (sleeps 50 ms)."""

    identifier = "chaos"
    scope = "bench"
    icon = "lightning"
    title = "Chaos"
    description = "Records each execution; used by the chaos harness."

    def task_noop(self, task: Any, options: dict[str, Any]) -> None:
        record_execution(task)

    def task_slow(self, task: Any, options: dict[str, Any]) -> None:
        record_execution(task)
        time.sleep(SLOW_SECONDS)
