"""The plugin contract: subclass :class:`BaseWorker`, set class attributes, write ``task_<action>`` methods."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..storage import safe_name

if TYPE_CHECKING:
    from ..engine.runner import TaskContext
    from ..scheduling.declared import Schedule

IDENTIFIER_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ICON_RE = re.compile(r"^[a-z0-9-]{1,64}$")


def action_method_name(action: str) -> str:
    """``"sync-stock"`` and ``"sync_stock"`` both name ``task_sync_stock``."""
    return "task_" + action.strip().replace("-", "_")


class BaseWorker:
    """One instance is created per task attempt; hooks have sensible defaults."""

    identifier: ClassVar[str] = ""
    scope: ClassVar[str] = ""
    icon: ClassVar[str] = "gear"
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    default_settings: ClassVar[dict[str, Any]] = {}
    #: Per-worker policy; ``None`` falls back to ``STASK_MAX_ATTEMPTS`` / ``STASK_TIMEOUT``.
    max_attempts: ClassVar[int | None] = None
    timeout: ClassVar[int | None] = None
    #: ``(base, cap)`` seconds for the retry delay; ``None`` uses ``STASK_BACKOFF_*``.
    backoff: ClassVar[tuple[float, float] | None] = None
    #: Form fields per action for the panel's run form:
    #: ``{"export": {"rows": {"type": "int", "default": 100, "label": "Rows"}}}``.
    #: Types: str, text, int, float, bool, choice (with ``choices``), file.
    action_fields: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}
    #: Whether the panel offers an upload (see ``upload_extensions`` / ``upload_max_mb`` settings).
    accepts_upload: ClassVar[bool] = False
    #: Recurring tasks (``stask.Schedule``), stored by ``flask stask discover`` as "from code".
    schedules: ClassVar[list[Schedule]] = []

    def __init__(self, context: TaskContext, settings: dict[str, Any]) -> None:
        self._context = context
        self.settings = settings

    # -- discovery helpers --------------------------------------------------------------
    @classmethod
    def actions(cls) -> list[str]:
        """Action names as users type them (``task_sync_stock`` -> ``sync-stock``)."""
        names = [
            name[len("task_") :].replace("_", "-")
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if name.startswith("task_") and len(name) > len("task_")
        ]
        return sorted(names)

    @classmethod
    def action_callable(cls, action: str) -> Callable[..., Any] | None:
        member = getattr(cls, action_method_name(action), None)
        return member if callable(member) else None

    @classmethod
    def class_path(cls) -> str:
        return f"{cls.__module__}:{cls.__qualname__}"

    # -- API for task code ----------------------------------------------------------------
    @property
    def task(self) -> Any:
        return self._context.task

    def push_progress(
        self,
        percent: float | None = None,
        message: str | None = None,
        *,
        processed: int | None = None,
        total: int | None = None,
    ) -> None:
        """Report progress (0-100; derived from processed/total when omitted).

        Writes one Redis pipeline and one log line; raises :class:`~stask.exceptions.TaskStopped`
        when someone asked this task to stop, so the action ends at a safe point.
        """
        self._context.push_progress(percent, message, processed=processed, total=total)

    def log(self, message: str) -> None:
        """Append a line to the task's log without changing its progress."""
        self._context.log(message)

    def result_path(self, name: str) -> Path:
        """A path for a result file inside this task's own folder (created on demand)."""
        folder = self._context.storage.result_dir(self._context.task.id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / safe_name(name)

    def mark_finished(self, message: str | None = None, result: str | Path | None = None) -> None:
        self._context.finish(message, result)

    def mark_failed(self, message: str, *, retry: bool = False) -> None:
        """Fail the task on purpose; no retry unless ``retry=True`` (an exception always retries)."""
        self._context.fail(message, retry=retry)
