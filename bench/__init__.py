"""Benchmarks that hold stask against bare RQ (``python -m bench``, ``make bench``).

This package is imported by worker processes the benchmark spawns: stask's
(``STASK_WORKERS=bench:NoopWorker``) and bare RQ's (``rq worker`` runs :func:`noop`,
importing it in every forked work horse). So ``import bench`` imports nothing: the
plugin class is built on first access, the measuring code lives in the sibling modules.
"""

from __future__ import annotations

from typing import Any

#: What the benchmark registers through ``STASK_WORKERS``.
BENCH_WORKERS = "bench:NoopWorker"


def noop() -> None:
    """The job bare RQ runs: the same empty body as ``NoopWorker.task_noop``."""


def __getattr__(name: str) -> Any:
    """``bench.NoopWorker``, built when first asked for (bare RQ's work horses never ask)."""
    if name != "NoopWorker":
        raise AttributeError(f"module 'bench' has no attribute {name!r}")
    from bench.plugin import NoopWorker

    globals()["NoopWorker"] = NoopWorker
    return NoopWorker
