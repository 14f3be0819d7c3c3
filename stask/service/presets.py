"""Presets: named, saved runs of a worker action (its data and priority), run in one click.

**Validation.** A preset is checked when it is stored: its worker exists, the action is one of
the worker's, its data passes the action's declared fields
(:func:`~stask.service.schedules.check_action_data`, the one Field mechanism the run form and
schedules use) and its priority is one of high, normal, low. The worker may be inactive: a
preset can be prepared before its worker is switched on; running it then is refused.

**Running.** :meth:`PresetService.run` merges the given data over the preset's, **shallowly**
(a key given replaces the preset's value for that key whole, nested objects included; keys
not given keep the preset's), checks the merged data against the action's fields again, and
creates one task through :class:`~stask.service.tasks.TaskService` (one INSERT, one Redis
pipeline, as any task). A bad override raises :class:`~stask.exceptions.InvalidField` naming
``data.<field>`` and creates nothing.

**Cost.** Every operation is one or two statements; :meth:`PresetService.by_worker` (the
worker cards) is one SELECT for all workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from ..enums import Priority
from ..exceptions import InvalidField, InvalidInput, InvalidState, PresetNotFound
from ..models import Preset, StoredSchedule, Task, Trigger, utcnow
from ..validation import MAX_ID, parse_data
from ..workers.base import BaseWorker
from .listing import DEFAULT_PER_PAGE, PRIORITIES, RowPage
from .schedules import check_action_data
from .tasks import TaskService
from .unique_names import commit_unique, refuse_taken
from .workers import WorkerService, is_identifier, unknown_worker

#: The fields a client may write (the API contract); the others are read-only.
FIELDS = frozenset({"name", "identifier", "action", "data", "priority"})
#: What a run may say: data merged over the preset's.
RUN_FIELDS = frozenset({"data"})
MAX_NAME = 120


#: One page of preset rows.
PresetPage = RowPage[Preset]


def merge_data(stored: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """A run's data: the overrides over the preset's data, one level deep (see the module doc)."""
    return {**(stored or {}), **(overrides or {})}


class PresetService:
    def __init__(self, db: SQLAlchemy, workers: WorkerService, tasks: TaskService) -> None:
        self.db = db
        self.workers = workers
        self.tasks = tasks

    # -- reading -----------------------------------------------------------------------------
    def get(self, preset_id: Any) -> Preset:
        if isinstance(preset_id, bool) or not isinstance(preset_id, int) or not 1 <= preset_id <= MAX_ID:
            raise PresetNotFound(f"no preset {str(preset_id)[:40]}")
        row = self.db.session.get(Preset, preset_id)
        if row is None:
            raise PresetNotFound(f"no preset {preset_id}")
        return row

    def page(self, identifier: str | None = None, page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> PresetPage:
        """Presets by worker and name, a page at a time: two statements."""
        if identifier is not None and not is_identifier(identifier):
            raise InvalidField("identifier", f"identifier {identifier[:70]!r} is not a worker identifier")
        where = [Preset.identifier == identifier] if identifier else []
        session = self.db.session
        query = sa.select(Preset).where(*where).order_by(Preset.identifier, Preset.name, Preset.id)
        rows = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
        total = int(session.scalar(sa.select(sa.func.count(Preset.id)).where(*where)) or 0)
        self._detach(rows)
        session.commit()
        return PresetPage(rows, total, page, per_page)

    def by_worker(self) -> dict[str, list[Preset]]:
        """Every preset grouped by worker, by name (the worker cards): one statement."""
        grouped: dict[str, list[Preset]] = {}
        rows = list(self.db.session.scalars(sa.select(Preset).order_by(Preset.identifier, Preset.name, Preset.id)))
        for row in rows:
            grouped.setdefault(row.identifier, []).append(row)
        self._detach(rows)
        self.db.session.commit()
        return grouped

    def _detach(self, rows: list[Preset]) -> None:
        """Keep what was read: the commit that ends the read would expire the rows, and each one
        read afterwards would cost a SELECT of its own."""
        for row in rows:
            self.db.session.expunge(row)

    # -- changing ----------------------------------------------------------------------------
    def create(self, fields: Mapping[str, Any], *, created_by: str | None = None) -> Preset:
        """Validate every field (nothing is stored if one is bad) and store the preset."""
        _refuse_unknown(fields, FIELDS)
        if "name" not in fields:
            raise InvalidField("name", "name is required")
        values = self._validated(dict(fields))
        now = utcnow()
        row = Preset(**values, created_by=created_by, created_at=now, updated_at=now)
        self._unique(values, None)
        self.db.session.add(row)
        self._commit(values)
        return row

    def update(self, preset_id: Any, fields: Mapping[str, Any]) -> Preset:
        """Change the fields given (the others are kept); the result is validated whole."""
        _refuse_unknown(fields, FIELDS)
        row = self.get(preset_id)
        merged = {name: getattr(row, name) for name in FIELDS} | dict(fields)
        values = self._validated(merged)
        self._unique(values, row.id)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        # The schedules running it keep its worker, action and priority (lists, filters by worker).
        self.db.session.execute(
            sa.update(StoredSchedule)
            .where(StoredSchedule.preset_id == row.id)
            .values(identifier=values["identifier"], action=values["action"], priority=values["priority"])
            .execution_options(synchronize_session=False)
        )
        # So do the triggers running it (their worker and action: lists, the panel).
        self.db.session.execute(
            sa.update(Trigger)
            .where(Trigger.preset_id == row.id)
            .values(identifier=values["identifier"], action=values["action"])
            .execution_options(synchronize_session=False)
        )
        self._commit(values)
        return row

    def delete(self, preset_id: Any) -> None:
        """Delete a preset, unless a schedule or a trigger runs it (409 ``preset_in_use``, naming them)."""
        row = self.get(preset_id)
        query = sa.select(StoredSchedule.id).where(StoredSchedule.preset_id == row.id).order_by(StoredSchedule.id)
        users = list(self.db.session.scalars(query.limit(21)))
        callers = list(self.db.session.scalars(sa.select(Trigger.id).where(Trigger.preset_id == row.id).limit(21)))
        if users or callers:
            named = " and ".join(
                f"{kind}(s) {_listed(ids)}" for kind, ids in (("schedule", users), ("trigger", sorted(callers))) if ids
            )
            self.db.session.rollback()
            raise PresetInUse(
                f"preset {row.id} is run by {named}: point them elsewhere or delete them first",
                schedule_ids=users[:20],
                trigger_ids=sorted(callers)[:20],
            )
        self.db.session.delete(row)
        self.db.session.commit()

    def run(self, preset_id: Any, data: Any = None) -> Task:
        """One task with the preset's worker, action and priority, and ``data`` merged over its data."""
        row = self.get(preset_id)
        overrides = _data_field(data)
        merged = merge_data(row.data, overrides)
        cls = self._worker_class(row.identifier, missing=unknown_worker)
        check_action_data(cls.action_fields.get(row.action, {}), merged)
        return self.tasks.create(row.identifier, row.action, merged, priority=row.priority)

    # -- validation --------------------------------------------------------------------------
    def _worker_class(self, identifier: str, missing: Any = None) -> type[BaseWorker]:
        definition = self.workers.resolve(identifier)
        if definition is None:
            if missing is not None:
                raise missing(identifier)
            raise InvalidField("identifier", f"identifier: no worker {identifier!r} (run `flask stask discover`)")
        try:
            return definition.worker_class()
        except ImportError as exc:
            raise InvalidField("identifier", f"identifier: worker {identifier!r} cannot be loaded: {exc}") from None

    def _validated(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Column values from loosely typed fields; InvalidField naming the first bad one."""
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
            raise InvalidField("name", f"name must be 1 to {MAX_NAME} printable characters")
        identifier = fields.get("identifier")
        if not isinstance(identifier, str) or not is_identifier(identifier):
            raise InvalidField("identifier", f"identifier {str(identifier)[:70]!r} is not a worker identifier")
        cls = self._worker_class(identifier)
        action = fields.get("action")
        if not isinstance(action, str) or cls.action_callable(action) is None:
            choices = ", ".join(cls.actions())
            raise InvalidField(
                "action", f"action: worker {identifier!r} has no action {str(action)[:64]!r}; use {choices}"
            )
        data = _data_field(fields.get("data"))
        check_action_data(cls.action_fields.get(action, {}), data)
        priority = fields.get("priority", Priority.NORMAL.value)
        if priority not in PRIORITIES:
            raise InvalidField("priority", f"priority must be one of {', '.join(PRIORITIES)}")
        return {"name": name.strip(), "identifier": identifier, "action": action, "data": data, "priority": priority}

    def _unique(self, values: Mapping[str, Any], own_id: int | None) -> None:
        where = [Preset.identifier == values["identifier"], Preset.name == values["name"]]
        refuse_taken(self.db.session, Preset.id, where, own_id, _name_taken(values))

    def _commit(self, values: Mapping[str, Any]) -> None:
        commit_unique(self.db.session, _name_taken(values))


class PresetNameTaken(InvalidState):
    """Another preset of the same worker has this name (409)."""

    code = "preset_name_taken"
    field = "name"


class PresetInUse(InvalidState):
    """Schedules or triggers run this preset: it cannot be deleted (409)."""

    code = "preset_in_use"

    def __init__(self, message: str, schedule_ids: list[int], trigger_ids: list[int] | None = None) -> None:
        super().__init__(message)
        self.schedule_ids = schedule_ids
        self.trigger_ids = trigger_ids or []


def _listed(ids: list[int]) -> str:
    """At most 20 ids, and "..." when there were more."""
    return ", ".join(str(one) for one in ids[:20]) + (", ..." if len(ids) > 20 else "")


def _name_taken(values: Mapping[str, Any]) -> PresetNameTaken:
    return PresetNameTaken(f"name: worker {values['identifier']!r} already has a preset named {values['name']!r}")


def _data_field(value: Any) -> dict[str, Any]:
    try:
        return parse_data(value)
    except InvalidInput as exc:
        raise InvalidField("data", str(exc)) from None


def _refuse_unknown(fields: Mapping[str, Any], allowed: frozenset[str]) -> None:
    if not isinstance(fields, Mapping):
        raise InvalidInput("a preset must be a JSON object")
    unknown = set(fields) - allowed
    if unknown:
        names = ", ".join(sorted(str(k)[:40] for k in unknown))
        raise InvalidField(sorted(str(k) for k in unknown)[0], f"unknown or read-only fields: {names}")


__all__ = ["FIELDS", "RUN_FIELDS", "PresetInUse", "PresetNameTaken", "PresetPage", "PresetService", "merge_data"]
