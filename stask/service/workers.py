"""Worker plugins as the service sees them: discovery into ``s_workers``, activation, typed
settings, and resolution through the two-level cache (the engine's :class:`WorkerResolver`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session

from ..enums import Status
from ..exceptions import InactiveWorker, InvalidInput, InvalidState, StaskError, UnknownWorker
from ..models import Worker
from ..runtime import Runtime
from ..workers import discovery
from ..workers.base import IDENTIFIER_RE
from ..workers.fields import Field, FieldError, effective
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
                active = settings.auto_activate or cls.always_active
                row = Worker(identifier=identifier, active=active, position=position, settings={})
                for key, value in fields.items():
                    setattr(row, key, value)
                session.add(row)
                added.append(identifier)
            elif cls.always_active and not row.active:  # registered before it was always active
                row.active = True
                updated.append(identifier)
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
        if not active and self._always_active(row):
            raise InvalidState(f"worker {identifier!r} is part of stask (it sends notifications): it stays active")
        row.active = active
        self.db.session.commit()
        self.runtime.workers.invalidate(identifier)
        return row

    @staticmethod
    def _always_active(row: Worker) -> bool:
        try:
            return WorkerDefinition(row.identifier, row.class_path, row.active).worker_class().always_active
        except ImportError:
            return False

    def setting_fields(self, row: Worker) -> dict[str, Field]:
        """The worker's typed settings; :class:`WorkerUnavailable` (409) when its class no longer imports."""
        return WorkerDefinition(row.identifier, row.class_path, row.active).worker_class().setting_fields()

    def update_settings(self, identifier: str, values: dict[str, Any]) -> Worker:
        """Validate every given setting with its field and store them, all or nothing.

        ``null`` removes a stored value (the default applies again; the way to clear a secret).
        Stored keys the worker no longer declares are dropped. Raises :class:`InvalidSettings`
        (400) naming each bad setting; nothing is stored then.
        """
        row = self.get(identifier)
        if not isinstance(values, dict):
            raise InvalidInput("settings must be a JSON object")
        declared = self.setting_fields(row)
        stored = {key: value for key, value in (row.settings or {}).items() if key in declared}
        errors: dict[str, FieldError] = {}
        for key, value in values.items():
            spec = declared.get(key)
            if spec is None:
                errors[key] = FieldError("unknown")
            elif value is None:
                stored.pop(key, None)
            else:
                try:
                    stored[key] = spec.validate(value)
                except FieldError as exc:
                    errors[key] = exc
        if errors:
            raise InvalidSettings(errors, sorted(declared))
        row.settings = stored
        self.db.session.commit()
        self.runtime.workers.invalidate(identifier)
        return row

    def describe(self, row: Worker) -> dict[str, Any]:
        """The stored row plus what its class says (actions, form fields, uploads, defaults);
        secret settings are shown as ``null``."""
        data = row.to_dict()
        try:
            cls = load_class(row.class_path)
            declared = cls.setting_fields()
        except (ImportError, AttributeError, ValueError) as exc:
            return {
                **data,
                "settings": {},
                "available": False,
                "load_error": str(exc),
                "actions": [],
                "action_fields": {},
                "accepts_upload": False,
                "default_settings": {},
            }
        return {
            **data,
            "settings": _masked(declared, _shown(row.settings or {})),
            "available": True,
            "load_error": None,
            "actions": cls.actions(),
            "action_fields": {
                action: {name: spec.describe() for name, spec in cls.form_fields(action).items()}
                for action in cls.action_fields
            },
            "accepts_upload": bool(cls.accepts_upload),
            "default_settings": _masked(declared, {name: spec.default for name, spec in declared.items()}),
        }

    def settings_view(self, row: Worker) -> dict[str, Any]:
        """Effective settings, what is stored, the defaults, each field's rules, and stored values
        that no longer validate (``invalid``: the default is used instead). Secret values are
        never shown: ``null``, with ``secrets_set`` naming the secrets that have a stored value."""
        stored = dict(row.settings or {})
        declared = self.setting_fields(row)
        values, invalid = effective(declared, stored)
        return {
            "identifier": row.identifier,
            "settings": _masked(declared, values),
            "stored": _masked(declared, _shown(stored)),
            "defaults": _masked(declared, {name: spec.default for name, spec in declared.items()}),
            "invalid": {key: str(error) for key, error in invalid.items()},
            "secrets_set": sorted(k for k, spec in declared.items() if spec.secret and stored.get(k) is not None),
            "fields": {name: spec.describe() for name, spec in declared.items()},
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


class InvalidSettings(InvalidInput):
    """Some settings were refused; ``errors`` maps each one to its :class:`FieldError`."""

    def __init__(self, errors: dict[str, FieldError], known: list[str]) -> None:
        self.errors = errors
        parts = []
        for key, error in errors.items():
            if error.code == "unknown":
                parts.append(f"unknown setting {key!r}: known settings are {', '.join(known) or 'none'}")
            else:
                parts.append(f"setting {key!r} {error}")
        super().__init__("; ".join(parts))


def _masked(declared: dict[str, Field], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every secret setting's value replaced by ``None``."""
    return {key: None if key in declared and declared[key].secret else value for key, value in values.items()}


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    """Stored values as JSON can carry them (a non-finite float written outside the API is shown as text)."""
    out = {}
    for key, value in values.items():
        try:
            json.dumps(value, allow_nan=False)
            out[key] = value
        except (TypeError, ValueError):
            out[key] = repr(value)
    return out
