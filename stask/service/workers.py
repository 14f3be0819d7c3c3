"""Worker plugins as the service sees them: discovery into ``s_workers``, activation, typed
settings, and resolution through the two-level cache (the engine's :class:`WorkerResolver`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session

from ..enums import Status
from ..exceptions import InactiveWorker, InvalidInput, StaskError, UnknownWorker
from ..models import Worker
from ..runtime import Runtime
from ..validation import parse_data
from ..workers import discovery
from ..workers.base import IDENTIFIER_RE
from ..workers.registry import WorkerDefinition, load_class
from . import store

#: Stores the found worker classes' declared schedules (set by ``Service``: ``ScheduleService.sync_code``).
ScheduleSync = Callable[[dict[str, Any]], dict[str, list[str]]]


class WorkerService:
    def __init__(self, db: SQLAlchemy, runtime: Runtime) -> None:
        self.db = db
        self.runtime = runtime
        self.sync_schedules: ScheduleSync | None = None

    # -- resolving (the engine's WorkerResolver) -------------------------------------------
    def resolve(self, identifier: str) -> WorkerDefinition | None:
        if not is_identifier(identifier):  # discovery never registers such a name: no lookup needed
            return None
        return self.runtime.workers.get(identifier, self._load_definition)

    def _load_definition(self, identifier: str) -> WorkerDefinition | None:
        """One SELECT on a session of its own: the caller's transaction may hold a snapshot
        (MariaDB's repeatable read) older than the change that made this lookup miss, and what
        is read here is cached under the new version."""
        with Session(self.db.engine) as session:
            row = store.worker_definition_row(session, identifier)
            session.commit()
        if row is None:
            return None
        return WorkerDefinition(row.identifier, row.class_path, bool(row.active), dict(row.settings or {}))

    def active_identifiers(self) -> list[str]:
        return [row.identifier for row in self.registered(active_only=True)]

    def active_definition(self, identifier: Any) -> WorkerDefinition:
        """The definition a new task needs; refuses unknown and inactive workers."""
        if not isinstance(identifier, str) or not identifier:
            raise InvalidInput("worker identifier must be a non-empty string")
        definition = self.resolve(identifier)
        if definition is None:
            raise unknown_worker(identifier)
        if not definition.active:
            raise InactiveWorker(
                f"worker {identifier!r} is inactive: activate it with `flask stask activate {identifier}`"
            )
        return definition

    def policy(self, identifier: str) -> tuple[int, tuple[float, float]]:
        """(timeout, backoff) for a worker's tasks: the class's own, else the settings'."""
        settings = self.runtime.settings
        timeout, backoff = settings.timeout, (settings.backoff_base, settings.backoff_cap)
        definition = self.resolve(identifier)
        if definition is not None:
            try:
                cls = definition.worker_class()
            except ImportError:
                return timeout, backoff  # the run will fail with a clear message
            timeout = cls.timeout or timeout
            backoff = (float(cls.backoff[0]), float(cls.backoff[1])) if cls.backoff else backoff
        return timeout, backoff

    def max_attempts(self, identifier: str) -> int:
        definition = self.resolve(identifier)
        return (definition and definition.worker_class().max_attempts) or self.runtime.settings.max_attempts

    # -- the s_workers rows ------------------------------------------------------------------
    def discover(self) -> dict[str, Any]:
        """Register every valid worker class found; report invalid ones with their reason."""
        settings = self.runtime.settings
        found = discovery.discover(settings.workers)
        session = self.db.session
        existing = {w.identifier: w for w in store.workers(session)}
        added, updated = [], []
        for position, (identifier, cls) in enumerate(sorted(found.workers.items())):
            fields = {
                "class_path": cls.class_path(),
                "scope": cls.scope,
                "title": cls.title or identifier,
                "description": cls.description,
                "icon": cls.icon,
            }
            row = existing.get(identifier)
            if row is None:
                row = Worker(identifier=identifier, active=settings.auto_activate, position=position, settings={})
                for key, value in fields.items():
                    setattr(row, key, value)
                session.add(row)
                added.append(identifier)
            elif any(getattr(row, k) != v for k, v in fields.items()):
                for key, value in fields.items():
                    setattr(row, key, value)
                updated.append(identifier)
        session.commit()
        self.runtime.workers.invalidate()
        missing = sorted(set(existing) - set(found.workers))
        schedules = self.sync_schedules(dict(found.workers)) if self.sync_schedules else {}
        invalid = found.invalid + [{"source": s.split(": ", 1)[0], "reason": s} for s in schedules.pop("invalid", [])]
        return {
            "added": added,
            "updated": updated,
            "missing": missing,
            "invalid": invalid,
            "workers": sorted(found.workers),
            "schedules": schedules,
        }

    def registered(self, active_only: bool = False) -> list[Worker]:
        return store.workers(self.db.session, active_only)

    def get(self, identifier: str) -> Worker:
        row = store.worker(self.db.session, identifier) if is_identifier(identifier) else None
        if row is None:  # a NUL byte, say, would make PostgreSQL refuse the query: never sent
            raise unknown_worker(identifier)
        return row

    def set_active(self, identifier: str, active: bool) -> Worker:
        row = self.get(identifier)
        row.active = active
        self.db.session.commit()
        self.runtime.workers.invalidate(identifier)
        return row

    def update_settings(self, identifier: str, values: dict[str, Any]) -> Worker:
        """Validate against ``default_settings`` (same keys, same types) and store."""
        row = self.get(identifier)
        defaults = WorkerDefinition(row.identifier, row.class_path, row.active).worker_class().default_settings
        if not isinstance(values, dict):
            raise InvalidInput("settings must be a JSON object")
        clean: dict[str, Any] = dict(row.settings or {})
        for key, value in values.items():
            if key not in defaults:
                raise InvalidInput(
                    f"unknown setting {key!r}: known settings are {', '.join(sorted(defaults)) or 'none'}"
                )
            clean[key] = coerce_setting(key, value, defaults[key])
        row.settings = clean
        self.db.session.commit()
        self.runtime.workers.invalidate(identifier)
        return row

    def describe(self, row: Worker) -> dict[str, Any]:
        """The stored row plus what its class says (actions, form fields, uploads, defaults)."""
        data = row.to_dict()
        try:
            cls = load_class(row.class_path)
        except (ImportError, AttributeError) as exc:
            return {
                **data,
                "available": False,
                "load_error": str(exc),
                "actions": [],
                "action_fields": {},
                "accepts_upload": False,
                "default_settings": {},
            }
        return {
            **data,
            "available": True,
            "load_error": None,
            "actions": cls.actions(),
            "action_fields": cls.action_fields,
            "accepts_upload": bool(cls.accepts_upload),
            "default_settings": dict(cls.default_settings),
        }

    def settings_view(self, row: Worker) -> dict[str, Any]:
        """Effective settings, what is stored and the defaults."""
        defaults = self.describe(row)["default_settings"]
        return {
            "identifier": row.identifier,
            "settings": {**defaults, **(row.settings or {})},
            "stored": row.settings or {},
            "defaults": defaults,
        }

    def task_counts(self, identifier: str) -> dict[str, int]:
        """One worker's tasks by status name, and their total (one grouped statement)."""
        counts = store.counts_by_status(self.db.session, identifier)
        self.db.session.commit()
        tasks = {status_key(code): counts.get(int(code), 0) for code in Status}
        tasks["total"] = sum(tasks.values())
        return tasks

    def task_summary(self) -> tuple[dict[str, dict[int, int]], dict[str, Any]]:
        """Task counts per worker and status, and each worker's last start: one grouped statement."""
        rows = store.task_counts_by_worker(self.db.session)
        self.db.session.commit()
        counts: dict[str, dict[int, int]] = {}
        last: dict[str, Any] = {}
        for identifier, status, count, started in rows:
            counts.setdefault(identifier, {})[status] = count
            if started and (identifier not in last or started > last[identifier]):
                last[identifier] = started
        return counts, last

    def uploaded_files(self, identifier: str, limit: int = 200) -> list[str]:
        """Files uploaded for a worker (choices for its ``file`` fields)."""
        try:
            folder = self.runtime.storage.worker_upload_dir(identifier)
        except StaskError:  # an identifier the storage refuses (unsafe path) has no uploads
            return []
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_file())[:limit]


def is_identifier(identifier: Any) -> bool:
    return isinstance(identifier, str) and IDENTIFIER_RE.fullmatch(identifier) is not None


def unknown_worker(identifier: str) -> UnknownWorker:
    return UnknownWorker(f"no worker {identifier!r}: check the name or run `flask stask discover`")


def status_key(code: int) -> str:
    """Name of a status in statistics: ``pending`` for queued, as in the original."""
    return "pending" if code == Status.QUEUED else Status(code).text


def coerce_setting(key: str, value: Any, default: Any) -> Any:
    """Settings keep the type of their default; form strings are converted."""
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "on", "off", "yes", "no"):
                    raise ValueError
                return value.lower() in ("true", "1", "on", "yes")
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):  # NaN/Infinity are no JSON and break whoever reads the setting
                raise ValueError
            return number
        if kind is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
        if kind in (list, dict):
            if not isinstance(value, kind):
                raise ValueError
            return parse_data({"v": value})["v"]
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"setting {key!r} must be of type {kind.__name__}, got {value!r}") from None
    return value
