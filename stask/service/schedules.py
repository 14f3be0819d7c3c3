"""Schedules: create, change, pause, run now, and fire due slots, one task per slot.

**One task per slot, by construction.** :meth:`ScheduleService.fire_due` reads due schedules,
then for each one INSERTs the task and claims the slot with a guarded UPDATE
(``... WHERE id = ? AND next_run_at = <the slot read>``) in one transaction. Of any number
of processes (worker processes, ``flask stask process``) that read the same slot, one UPDATE
matches; the others roll their task back. Jobs are handed to RQ after the commit, as
:class:`~stask.service.tasks.TaskService` does (reconcile enqueues them if Redis is down).

**Cost.** A firing pass runs one SELECT per batch of due schedules (on the index
``(enabled, next_run_at)``) and two statements per due slot: never a scan of all schedules.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from ..enums import INCOMPLETE, Priority, Status
from ..exceptions import InvalidField, InvalidInput, InvalidState, ScheduleNotFound, StaskError
from ..models import Preset, StoredSchedule, Task, utcnow
from ..runtime import Runtime
from ..scheduling.declared import Schedule
from ..scheduling.slots import (
    MAX_JITTER,
    MISFIRE_POLICIES,
    OVERLAP_POLICIES,
    SlotError,
    Timing,
    jitter_seconds,
    next_slot,
    parse_cron,
    parse_zone,
    plan,
)
from ..validation import MAX_ID, parse_data, parse_datetime
from ..workers.base import BaseWorker
from ..workers.fields import Field, FieldError, normalise
from . import schedule_store as store
from .listing import DEFAULT_PER_PAGE, RowPage
from .tasks import TaskService
from .workers import WorkerService, is_identifier

log = logging.getLogger("stask")

#: The fields a client may write (the API contract); the others are read-only.
FIELDS = frozenset(
    {
        "name",
        "identifier",
        "action",
        "data",
        "priority",
        "cron",
        "interval",
        "timezone",
        "enabled",
        "misfire",
        "overlap",
        "jitter",
        "start_date",
        "end_date",
        "preset_id",
    }
)
#: What may be changed on a schedule declared in code (the rest is owned by the code).
CODE_OWNED_EXCEPT = frozenset({"enabled"})
#: What a schedule pointing at a preset takes from it (given, they must equal the preset's).
PRESET_OWNED = ("identifier", "action", "priority")
#: Fields that decide when slots fall: changing one recomputes ``next_run_at``.
TIMING_FIELDS = frozenset({"cron", "interval", "timezone", "start_date", "end_date"})
SOURCES = ("code", "panel")
MAX_NAME = 120
#: Due schedules read per SELECT while firing.
FIRE_BATCH = 100
#: Runs shown as marks per schedule on the panel's page; schedules listed on a worker card.
RECENT_RUNS = 20
CARD_SCHEDULES = 5


@dataclass
class FireReport:
    """What one firing pass did: tasks created, slots consumed without a task, claims lost to another process."""

    created: list[int] = field(default_factory=list)
    skipped: int = 0
    lost: int = 0


def field_values(row: StoredSchedule) -> dict[str, Any]:
    """The writable fields' values of a schedule, copied (to compare after a change)."""
    return {name: _stored(getattr(row, name)) for name in sorted(FIELDS)}


def changed_fields(before: Mapping[str, Any], row: StoredSchedule) -> list[str]:
    """The names of the writable fields whose value differs from ``before`` (for the audit log: names only)."""
    after = field_values(row)
    return [name for name in sorted(FIELDS) if before.get(name) != after[name]]


#: One page of storedschedule rows.
SchedulePage = RowPage[StoredSchedule]


class ScheduleService:
    def __init__(self, db: SQLAlchemy, runtime: Runtime, workers: WorkerService, tasks: TaskService) -> None:
        self.db = db
        self.runtime = runtime
        self.workers = workers
        self.tasks = tasks

    # -- reading -----------------------------------------------------------------------------
    def get(self, schedule_id: Any) -> StoredSchedule:
        if isinstance(schedule_id, bool) or not isinstance(schedule_id, int) or not 1 <= schedule_id <= 2**63 - 1:
            raise ScheduleNotFound(f"no schedule {str(schedule_id)[:40]}")
        row = self.db.session.get(StoredSchedule, schedule_id)
        if row is None:
            raise ScheduleNotFound(f"no schedule {schedule_id}")
        return row

    def page(self, identifier: str | None = None, page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> SchedulePage:
        if identifier is not None and not is_identifier(identifier):
            raise InvalidField("identifier", f"identifier {identifier[:70]!r} is not a worker identifier")
        rows, total = store.page(self.db.session, identifier, per_page, (page - 1) * per_page)
        self.db.session.commit()
        return SchedulePage(rows, total, page, per_page)

    # -- changing ----------------------------------------------------------------------------
    def create(
        self, fields: Mapping[str, Any], *, source: str = "panel", created_by: str | None = None
    ) -> StoredSchedule:
        """Validate every field (nothing is stored if one is bad) and store the schedule."""
        _refuse_unknown(fields)
        now = _seconds(utcnow())
        values = self._validated(dict(fields), now)
        row = StoredSchedule(**values, source=source, created_by=created_by, created_at=now, updated_at=now)
        self.db.session.add(row)
        self.db.session.commit()
        return row

    def update(self, schedule_id: Any, fields: Mapping[str, Any]) -> StoredSchedule:
        """Change some fields (the others are kept); a code schedule only takes ``enabled``."""
        _refuse_unknown(fields)
        row = self.get(schedule_id)
        if row.source == "code" and set(fields) - CODE_OWNED_EXCEPT:
            raise InvalidState(
                f"schedule {row.id} is declared in code (worker {row.identifier!r}): change it there; "
                "here it can only be paused or resumed"
            )
        if set(fields) <= {"enabled"} and "enabled" in fields:
            return self.set_enabled(row.id, _boolean(fields["enabled"]))
        now = _seconds(utcnow())
        current = {name: getattr(row, name) for name in FIELDS}
        merged = {**current, **fields}
        if "cron" in fields and fields["cron"] is not None and "interval" not in fields:
            merged["interval"] = None  # switching kinds: the one given replaces the other
        if "interval" in fields and fields["interval"] is not None and "cron" not in fields:
            merged["cron"] = None
        if merged.get("preset_id") is not None:  # the preset's worker, action, priority unless given
            merged.update({name: None for name in PRESET_OWNED if name not in fields})
        timing_changed = bool(set(fields) & TIMING_FIELDS) or (merged.get("enabled") and not row.enabled)
        anchor = row.anchor if not set(fields) & {"interval", "start_date"} else None
        values = self._validated(merged, now, anchor=anchor)
        if not timing_changed:
            values["next_run_at"] = row.next_run_at if row.enabled else values["next_run_at"]
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        self.db.session.commit()
        return row

    def delete(self, schedule_id: Any) -> None:
        row = self.get(schedule_id)
        if row.source == "code":
            raise InvalidState(
                f"schedule {row.id} is declared in code (worker {row.identifier!r}): remove it there, or pause it"
            )
        self.db.session.delete(row)
        self.db.session.commit()

    def set_enabled(self, schedule_id: Any, enabled: bool) -> StoredSchedule:
        """Pause (no next run) or resume (the next slot after now: a pause is not a downtime to make up)."""
        row = self.get(schedule_id)
        if enabled != row.enabled or (enabled and row.next_run_at is None):
            row.enabled = enabled
            row.next_run_at = next_slot(_timing(row), utcnow()) if enabled else None
            row.updated_at = utcnow()
        self.db.session.commit()
        return row

    def run_now(self, schedule_id: Any) -> Task:
        """One task now, with the schedule's worker, action and data; no slot is consumed."""
        row = self.get(schedule_id)
        now = utcnow()
        spec = self._preset_spec(row, self._presets([row]))
        prepared = [
            self.tasks.prepare(spec, now, schedule_id=row.id, scheduled_for=now),
        ]
        ids, columns = self.tasks.insert_prepared(prepared)
        row.last_task_id, row.last_run_at = ids[0], now
        self.db.session.commit()
        self.tasks.dispatch(ids, prepared, now)
        return Task(id=ids[0], **columns[0])

    # -- firing ------------------------------------------------------------------------------
    def fire_due(self, now: datetime | None = None, limit: int = 1000) -> FireReport:
        """Fire every due slot, up to ``limit`` claims; safe to run in any number of processes at once."""
        now = now or utcnow()
        session = self.db.session
        report = FireReport()
        created: list[tuple[int, dict[str, Any]]] = []
        attempts = 0
        session.commit()  # a fresh snapshot (MariaDB's repeatable read): the overlap rule reads current statuses
        try:
            while attempts < limit:
                rows = store.due(session, now, min(FIRE_BATCH, limit - attempts))
                presets = self._presets(rows)
                session.commit()  # each claim below is a transaction of its own
                if not rows:
                    break
                attempts += len(rows)
                with self.runtime.workers.pinned():
                    for row in rows:
                        self._fire_one(row, now, report, created, presets)
        finally:
            if created:
                self.tasks.dispatch([task_id for task_id, _ in created], [p for _, p in created], now)
        return report

    def _fire_one(
        self,
        row: Any,
        now: datetime,
        report: FireReport,
        created: list[tuple[int, dict[str, Any]]],
        presets: Mapping[int, Any],
    ) -> None:
        session = self.db.session
        slot: datetime = row.next_run_at
        run: tuple[datetime, ...] = ()
        reason: str | None
        try:
            firing = plan(_timing(row), slot, now, row.misfire)
        except SlotError as exc:  # a row changed by hand into something invalid: stop it, say why
            firing_next, reason = None, f"invalid schedule: {exc}"
        else:
            firing_next, run, reason = firing.next_run_at, firing.run, firing.skipped
        values: dict[str, Any] = {"next_run_at": firing_next}
        prepared: dict[str, Any] | None = None
        if run and row.overlap == "skip" and row.last_status is not None and Status(row.last_status) in INCOMPLETE:
            state = Status(row.last_status).text
            reason = f"slot {run[0]:%Y-%m-%d %H:%M:%S} UTC skipped: task {row.last_task_id} is still {state}"
            run = ()
        if run:
            fire_at = run[0] + timedelta(seconds=jitter_seconds(row.id, run[0], row.jitter))
            try:
                spec = self._preset_spec(row, presets, start_at=fire_at if fire_at > now else None)
                prepared = self.tasks.prepare(spec, now, schedule_id=row.id, scheduled_for=run[0])
            except StaskError as exc:  # the worker was deactivated, the action removed, the preset changed, ...
                reason = f"slot {run[0]:%Y-%m-%d %H:%M:%S} UTC: no task ({exc})"
        task_id: int | None = None
        if prepared is not None:
            task_id = self.tasks.insert_prepared([prepared])[0][0]
            values.update(last_task_id=task_id, last_run_at=now)
        if reason:
            values.update(last_skipped_at=now, last_skip_reason=reason[:255])
        if not store.claim(session, row.id, slot, values):
            session.rollback()  # another process fired this slot: our task goes with the rollback
            report.lost += 1
            return
        session.commit()
        if task_id is not None and prepared is not None:
            created.append((task_id, prepared))
            report.created.append(task_id)
        if reason:
            report.skipped += int(prepared is None)
            log.info("stask schedule %s (%s): %s", row.id, row.name, reason)

    # -- presets -----------------------------------------------------------------------------
    def _presets(self, rows: list[Any]) -> dict[int, Any]:
        """The presets the rows point at (id, worker, action, data, priority): one SELECT, none
        when no row points at a preset."""
        ids = {row.preset_id for row in rows if row.preset_id is not None}
        if not ids:
            return {}
        query = sa.select(Preset.id, Preset.identifier, Preset.action, Preset.data, Preset.priority)
        return {found.id: found for found in self.db.session.execute(query.where(Preset.id.in_(ids)))}

    def _preset_spec(self, row: Any, presets: Mapping[int, Any], start_at: datetime | None = None) -> dict[str, Any]:
        """The task spec of a slot: the preset's as it is now (a live reference), the schedule's
        data merged over the preset's and checked against the action's fields; else the row's own."""
        if row.preset_id is None:
            return _spec(row, start_at)
        from .presets import merge_data  # presets imports this module

        preset = presets.get(row.preset_id)
        if preset is None:
            raise InvalidField("preset_id", f"preset {row.preset_id} no longer exists")
        data = merge_data(preset.data, row.data)
        check_action_data(self._worker_class(preset.identifier).action_fields.get(preset.action, {}), data)
        return _spec(preset, start_at) | {"data": data}

    # -- code schedules ----------------------------------------------------------------------
    def sync_code(self, classes: Mapping[str, type[BaseWorker]]) -> dict[str, list[str]]:
        """Store each worker class's ``schedules``: add new ones, update changed ones, delete dropped ones.

        ``enabled`` is the operator's: set once when a schedule is first stored (``None``:
        ``STASK_AUTO_ACTIVATE``), never changed by a later sync. A declaration that fails
        validation is reported, not stored. Called by ``discover`` with the classes it found
        (checked against the class itself: no lookup, the worker cache stays as it was).
        """
        report: dict[str, list[str]] = {"added": [], "updated": [], "removed": [], "invalid": []}
        session = self.db.session
        now = _seconds(utcnow())
        for identifier, cls in sorted(classes.items()):
            schedules: Any = getattr(cls, "schedules", [])
            existing = {row.name: row for row in store.of_worker(session, identifier, "code")}
            seen: set[str] = set()
            if not isinstance(schedules, (list, tuple)):
                report["invalid"].append(f"{identifier}: schedules must be a list of stask.Schedule")
                continue
            for schedule in schedules:
                label = f"{identifier}:{schedule.key}"
                if not isinstance(schedule, Schedule) or schedule.key in seen:
                    report["invalid"].append(f"{label}: not a stask.Schedule, or a duplicate name")
                    continue
                seen.add(schedule.key)
                row = existing.get(schedule.key)
                fields = {**schedule.fields(), "identifier": identifier}
                try:
                    if row is None:
                        enabled = self.runtime.settings.auto_activate if schedule.enabled is None else schedule.enabled
                        values = self._validated({**fields, "enabled": enabled}, now, worker=cls)
                        session.add(
                            StoredSchedule(**values, source="code", created_by="code", created_at=now, updated_at=now)
                        )
                        report["added"].append(label)
                        continue
                    current = {name: getattr(row, name) for name in fields}
                    wanted = self._validated({**fields, "enabled": row.enabled}, now, row.anchor, cls)
                    if any(_stored(current[name]) != _stored(wanted[name]) for name in fields):
                        timing_changed = any(current[n] != wanted[n] for n in TIMING_FIELDS)
                        for name in fields:
                            setattr(row, name, wanted[name])
                        if timing_changed:
                            row.next_run_at = wanted["next_run_at"]
                        row.updated_at = now
                        report["updated"].append(label)
                except StaskError as exc:
                    report["invalid"].append(f"{label}: {exc}")
            for name, row in existing.items():
                if name not in seen:
                    session.delete(row)
                    report["removed"].append(f"{identifier}:{name}")
        session.commit()
        return report

    # -- validation --------------------------------------------------------------------------
    def _worker_class(self, identifier: str) -> type[BaseWorker]:
        definition = self.workers.resolve(identifier)
        if definition is None:
            raise InvalidField("identifier", f"identifier: no worker {identifier!r} (run `flask stask discover`)")
        try:
            return definition.worker_class()
        except ImportError as exc:
            raise InvalidField("identifier", f"identifier: worker {identifier!r} cannot be loaded: {exc}") from None

    def _validated(
        self,
        fields: dict[str, Any],
        now: datetime,
        anchor: datetime | None = None,
        worker: type[BaseWorker] | None = None,
    ) -> dict[str, Any]:
        """Column values from loosely typed fields; InvalidField naming the first bad one.

        ``worker``: the class to check the action and data against (else the registered one's).
        """
        preset = self._preset_field(fields)
        identifier = fields.get("identifier")
        if not isinstance(identifier, str) or not is_identifier(identifier):
            raise InvalidField("identifier", f"identifier {str(identifier)[:70]!r} is not a worker identifier")
        cls = worker or self._worker_class(identifier)
        action = fields.get("action")
        if not isinstance(action, str) or cls.action_callable(action) is None:
            choices = ", ".join(cls.actions())
            raise InvalidField(
                "action", f"action: worker {identifier!r} has no action {str(action)[:64]!r}; use {choices}"
            )
        data = _field("data", lambda: parse_data(fields.get("data")))
        if preset is not None:
            from .presets import merge_data  # presets imports this module

            check_action_data(cls.action_fields.get(action, {}), merge_data(preset.data, data))
        else:
            check_action_data(cls.action_fields.get(action, {}), data)
        name = fields.get("name") or f"{identifier} {action}"
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
            raise InvalidField("name", f"name must be 1 to {MAX_NAME} printable characters")
        priority = _field("priority", lambda: Priority.parse(fields.get("priority") or "normal").value)
        cron, interval = fields.get("cron"), fields.get("interval")
        if (cron is None) == (interval is None):
            raise InvalidField("cron", "give either cron (an expression) or interval (seconds), not both or neither")
        if cron is not None:
            cron = _slot_field(lambda: parse_cron(cron))
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or interval < 1):
            raise InvalidField("interval", "interval must be a whole number of seconds, at least 1")
        zone_name = fields.get("timezone") or "UTC"
        zone = _slot_field(lambda: parse_zone(zone_name))
        enabled = _boolean(fields.get("enabled", True))
        misfire = fields.get("misfire") or "run_once"
        if misfire not in MISFIRE_POLICIES:
            raise InvalidField("misfire", f"misfire must be one of {', '.join(MISFIRE_POLICIES)}")
        overlap = fields.get("overlap") or "skip"
        if overlap not in OVERLAP_POLICIES:
            raise InvalidField("overlap", f"overlap must be one of {', '.join(OVERLAP_POLICIES)}")
        jitter = fields.get("jitter") or 0
        if isinstance(jitter, bool) or not isinstance(jitter, int) or not 0 <= jitter <= MAX_JITTER:
            raise InvalidField("jitter", f"jitter must be a whole number of seconds from 0 to {MAX_JITTER}")
        if interval is not None and jitter >= interval:
            raise InvalidField("jitter", "jitter must be shorter than the interval")
        start = _field("start_date", lambda: parse_datetime(fields.get("start_date"), "start_date"))
        end = _field("end_date", lambda: parse_datetime(fields.get("end_date"), "end_date"))
        anchor = _seconds(start) if start else (anchor or now)
        timing = _slot_field(lambda: Timing(cron, interval, zone, anchor, start, end))
        following = next_slot(timing, now)
        if following is None:
            if end is not None:
                raise InvalidField("end_date", "end_date leaves no slot after now")
            raise InvalidField("cron", f"cron {cron!r} never matches a date")
        return {
            "name": name.strip(),
            "identifier": identifier,
            "action": action,
            "data": data,
            "priority": priority,
            "cron": cron,
            "interval": interval,
            "timezone": zone_name,
            "enabled": enabled,
            "misfire": misfire,
            "overlap": overlap,
            "jitter": jitter,
            "start_date": start,
            "end_date": end,
            "preset_id": preset.id if preset is not None else None,
            "anchor": anchor,
            "next_run_at": following if enabled else None,
        }

    def _preset_field(self, fields: dict[str, Any]) -> Preset | None:
        """The preset ``preset_id`` names, if any; fills ``fields``' worker, action and priority
        from it when they are not given, and refuses them when they differ from the preset's."""
        preset_id = fields.get("preset_id")
        if preset_id is None:
            return None
        if isinstance(preset_id, bool) or not isinstance(preset_id, int) or not 1 <= preset_id <= MAX_ID:
            raise InvalidField("preset_id", f"preset_id must be a whole number from 1 to {MAX_ID}")
        preset = self.db.session.get(Preset, preset_id)
        if preset is None:
            raise InvalidField("preset_id", f"preset_id: no preset {preset_id}")
        for name in PRESET_OWNED:
            given, wanted = fields.get(name), getattr(preset, name)
            if given is None or given == "":
                fields[name] = wanted
            elif given != wanted:
                raise InvalidField(name, f"{name}: preset {preset_id} runs {wanted!r}, not {str(given)[:64]!r}")
        return preset

    # -- panel reads (the Schedules page and the worker cards) -------------------------------
    def page_with_runs(
        self, identifier: str | None, page: int, per_page: int, per_schedule: int = RECENT_RUNS
    ) -> tuple[SchedulePage, dict[int, list[Any]]]:
        """A page of schedules and the newest runs of each: three statements, whatever the page holds.

        The rows are detached before the read transaction ends, so reading their attributes
        afterwards costs no statement (a commit would expire them: one reload per row).
        """
        if identifier is not None and not is_identifier(identifier):
            raise InvalidField("identifier", f"identifier {identifier[:70]!r} is not a worker identifier")
        session = self.db.session
        rows, total = store.page(session, identifier, per_page, (page - 1) * per_page)
        ids = [row.id for row in rows]
        found = store.recent_runs(session, ids, per_schedule)
        for row in rows:
            session.expunge(row)
        session.commit()
        runs: dict[int, list[Any]] = {schedule_id: [] for schedule_id in ids}
        for run in found:
            runs[run.schedule_id].append(run)
        return SchedulePage(rows, total, page, per_page), runs

    def recent_runs(self, schedule_ids: list[int], per_schedule: int = RECENT_RUNS) -> dict[int, list[Any]]:
        """The newest tasks of each schedule, newest first (rows with ``id``, ``status``,
        ``created_at``, ``scheduled_for``, ``finished_at``): one statement for a whole page."""
        rows = store.recent_runs(self.db.session, list(schedule_ids), per_schedule)
        self.db.session.commit()
        runs: dict[int, list[Any]] = {schedule_id: [] for schedule_id in schedule_ids}
        for row in rows:
            runs[row.schedule_id].append(row)
        return runs

    def by_worker(self, per_worker: int = CARD_SCHEDULES) -> dict[str, tuple[list[Any], int]]:
        """``{identifier: (first schedules, how many it has)}`` for the worker cards: one statement."""
        rows = store.first_of_each_worker(self.db.session, per_worker)
        self.db.session.commit()
        found: dict[str, tuple[list[Any], int]] = {}
        for row in rows:
            found.setdefault(row.identifier, ([], int(row.total)))[0].append(row)
        return found

    def preview(
        self,
        cron: str | None,
        interval: int | None,
        zone_name: str,
        start: datetime | None = None,
        end: datetime | None = None,
        anchor: datetime | None = None,
        count: int = 5,
        now: datetime | None = None,
    ) -> list[datetime]:
        """The next ``count`` slots (naive UTC) of a timing that is being typed; InvalidField if it
        cannot describe slots. Nothing is read or stored."""
        now = _seconds(now or utcnow())
        if cron is not None:
            cron = _slot_field(lambda: parse_cron(cron))
        zone = _slot_field(lambda: parse_zone(zone_name or "UTC"))
        first = _seconds(start) if start else (anchor or now)
        timing = _slot_field(lambda: Timing(cron, interval, zone, first, start, end))
        slots: list[datetime] = []
        after = now
        while len(slots) < count:
            following = next_slot(timing, after)
            if following is None:
                break
            slots.append(following)
            after = following
        return slots


def _timing(row: Any) -> Timing:
    return Timing(row.cron, row.interval, parse_zone(row.timezone), row.anchor, row.start_date, row.end_date)


def _spec(row: Any, start_at: datetime | None = None) -> dict[str, Any]:
    """``create()`` arguments of a schedule's task."""
    return {
        "identifier": row.identifier,
        "action": row.action,
        "data": row.data or {},
        "priority": row.priority,
        "start_at": start_at,
    }


def _refuse_unknown(fields: Mapping[str, Any]) -> None:
    if not isinstance(fields, Mapping):
        raise InvalidInput("a schedule must be a JSON object")
    unknown = set(fields) - FIELDS
    if unknown:
        names = ", ".join(sorted(str(k)[:40] for k in unknown))
        raise InvalidField(sorted(str(k) for k in unknown)[0], f"unknown or read-only fields: {names}")


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidField("enabled", "enabled must be true or false")
    return value


def _field(name: str, compute: Any) -> Any:
    """``compute()``, its InvalidInput re-raised as an InvalidField naming ``name``."""
    try:
        return compute()
    except InvalidField:
        raise
    except (InvalidInput, OverflowError) as exc:
        raise InvalidField(name, str(exc) if str(exc).startswith(name) else f"{name}: {exc}") from None


def _slot_field(compute: Any) -> Any:
    try:
        return compute()
    except SlotError as exc:
        raise InvalidField(exc.field, str(exc)) from None


def _seconds(value: datetime) -> datetime:
    """Whole seconds: slots are compared for equality in SQL, and every database keeps these exactly."""
    return value.replace(microsecond=0)


def _stored(value: Any) -> Any:
    """A value as it reads back (JSON columns come back as new dicts)."""
    return value if not isinstance(value, dict) else dict(value)


def check_action_data(specs: Mapping[str, Field | Mapping[str, Any]], data: Mapping[str, Any]) -> None:
    """``data`` against the action's declared form fields (``BaseWorker.action_fields``), with the
    same :class:`~stask.workers.fields.Field` rules as the run form and the settings.

    Keys the action does not declare pass (actions may take more). A ``file`` field is checked
    to be a name only: which files exist is known when the task runs, not when it is scheduled.
    """
    for name, spec in normalise(specs).items():
        where = f"data.{name}"
        if name not in data:
            if spec.required:
                raise InvalidField(where, f"{where} is required")
            continue
        value = data[name]
        try:
            if spec.type == "file":
                if not isinstance(value, str):
                    raise FieldError("string")
            else:
                spec.validate(value)
        except FieldError as exc:
            raise InvalidField(where, f"{where} {exc}") from None
