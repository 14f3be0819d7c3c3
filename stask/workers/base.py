"""The plugin contract: subclass :class:`BaseWorker`, set class attributes, write ``task_<action>`` methods."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..storage import safe_name
from .fields import Field, field_from_default, normalise

if TYPE_CHECKING:
    from ..engine.runner import TaskContext
    from ..scheduling.declared import Schedule

#: Matched in full (``fullmatch``; ``\\Z``, not ``$``, which also matches before a final newline).
IDENTIFIER_RE = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,63}\Z")
#: The same rule as a JSON Schema (ECMA 262) pattern, for the OpenAPI document.
IDENTIFIER_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
ICON_RE = re.compile(r"\A[a-z0-9-]{1,64}\Z")


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
    #: Typed settings: ``{"batch_size": Field(type="int", default=500, min=1, max=100_000, label=...)}``
    #: (plain dicts work too). When declared, ``default_settings`` is derived from it.
    settings_fields: ClassVar[dict[str, Field | dict[str, Any]]] = {}
    #: Settings declared by their defaults only (older plugins): each keeps its default's type,
    #: with the default bounds of :mod:`stask.workers.fields`.
    default_settings: ClassVar[dict[str, Any]] = {}
    #: Per-worker policy; ``None`` falls back to ``STASK_MAX_ATTEMPTS`` / ``STASK_TIMEOUT``.
    max_attempts: ClassVar[int | None] = None
    timeout: ClassVar[int | None] = None
    #: ``(base, cap)`` seconds for the retry delay; ``None`` uses ``STASK_BACKOFF_*``.
    backoff: ClassVar[tuple[float, float] | None] = None
    #: Form fields per action for the panel's run form, :class:`Field` objects or dicts:
    #: ``{"export": {"rows": Field(type="int", default=100, min=1, label="Rows")}}``.
    #: Types: str, text, int, float, bool, choice (with ``choices``), file, json.
    action_fields: ClassVar[dict[str, dict[str, Field | dict[str, Any]]]] = {}
    #: Whether the panel offers an upload (see ``upload_extensions`` / ``upload_max_mb`` settings).
    accepts_upload: ClassVar[bool] = False
    #: A worker stask itself relies on (the notifier): registered active, never deactivated.
    always_active: ClassVar[bool] = False
    #: Recurring tasks (``stask.Schedule``), stored by ``flask stask discover`` as "from code".
    schedules: ClassVar[list[Schedule]] = []
    #: Translated texts (title, description, labels, messages): ``{"uk": {"<English>": "<Ukrainian>"}}``.
    translations: ClassVar[dict[str, dict[str, str]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A class declaring ``settings_fields`` gets ``default_settings`` from them (a broken
        declaration is left for discovery to report)."""
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("settings_fields"):
            try:
                cls.default_settings = {name: spec.default for name, spec in normalise(cls.settings_fields).items()}
            except (TypeError, ValueError, AttributeError):
                pass

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
    def setting_fields(cls) -> dict[str, Field]:
        """Each setting as a :class:`Field`: ``settings_fields``, else derived from ``default_settings``."""
        if cls.settings_fields:
            return normalise(cls.settings_fields)
        return {str(name): field_from_default(default) for name, default in cls.default_settings.items()}

    @classmethod
    def form_fields(cls, action: str) -> dict[str, Field]:
        """The run form of one action as :class:`Field` objects."""
        return normalise(cls.action_fields.get(action, {}))

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
