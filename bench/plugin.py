"""The bench's stask plugin (``bench:NoopWorker``), apart so that ``import bench`` stays free."""

from __future__ import annotations

from typing import Any

from stask.workers.base import BaseWorker


class NoopWorker(BaseWorker):
    """A plugin whose one action does nothing, so only stask's own cost is measured."""

    identifier = "bench_noop"
    scope = "bench"
    icon = "stopwatch"
    title = "Bench no-op"
    description = "Does nothing; used by the benchmark."

    def task_noop(self, task: Any, options: dict[str, Any]) -> None:
        pass
