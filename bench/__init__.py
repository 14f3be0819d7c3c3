"""Benchmarks that hold stask against bare RQ (``python -m bench``, ``make bench``).

This package is imported by worker processes the benchmark spawns (``STASK_WORKERS=
bench:NoopWorker``), so importing it stays cheap: the plugins and the bare no-op
function live here, the measuring code in the sibling modules.
"""

from __future__ import annotations

from typing import Any

from stask.workers.base import BaseWorker

#: What the benchmark registers through ``STASK_WORKERS``.
BENCH_WORKERS = "bench:NoopWorker"


def noop() -> None:
    """The job bare RQ runs: the same empty body as :meth:`NoopWorker.task_noop`."""


class NoopWorker(BaseWorker):
    """A plugin whose one action does nothing, so only stask's own cost is measured."""

    identifier = "bench_noop"
    scope = "bench"
    icon = "stopwatch"
    title = "Bench no-op"
    description = "Does nothing; used by the benchmark."

    def task_noop(self, task: Any, options: dict[str, Any]) -> None:
        pass
