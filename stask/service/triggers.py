"""Triggers: inbound hooks. Whoever holds a trigger's URL starts its worker action (or its
preset) with the JSON body of the call as the task's data.

**The token.** ``secrets.token_urlsafe(32)`` (43 characters, 256 bits), returned once by
:meth:`TriggerService.create` and :meth:`TriggerService.rotate` and never stored: the row keeps
its SHA-256 (``token_hash``, unique: a call is one indexed lookup) and its first
:data:`PREFIX_LENGTH` characters, to tell triggers apart on a page. Rotating replaces the hash:
the old URL stops at once. A disabled trigger, a rotated token and an unknown one all look alike
(:meth:`TriggerService.by_token` gives ``None``).

**A call** (:meth:`TriggerService.fire`), in this order: the rate limit (a fixed window of
:data:`RATE_WINDOW` seconds in Redis, ``rate_limit`` calls each; a refused call costs no SQL),
the signature of a signed trigger (:mod:`stask.notify.signing`: ``X-Stask-Timestamp`` and
``X-Stask-Signature`` over ``"<timestamp>.<raw body>"``, five minutes either way), the body (empty
or a JSON object), the data merged over the preset's (one level deep, as a preset's run does)
and checked against the action's fields (:func:`~stask.service.schedules.check_action_data`, the
run form's, schedules' and presets' check). Only then is anything written: the task, the call
and the trigger's counters in one transaction; RQ gets the job after the commit. A refused call
(400, 401, 409) writes its call row alone, with the reason; no task.

Tasks a trigger starts carry ``meta.trigger_id``: its status URL answers for those only.

**Cost.** A call is one SELECT (the token), one Redis transaction (the window), then one
INSERT of the task, one of the call, one UPDATE of the counters and one SELECT (plus, past
:data:`KEEP_CALLS`, one DELETE) keeping the call log short.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from ..exceptions import (
    InvalidField,
    InvalidInput,
    InvalidState,
    StaskError,
    TriggerNotFound,
)
from ..models import Preset, Task, Trigger, TriggerCall, utcnow
from ..notify.signing import verify
from ..runtime import Runtime
from ..settings import MAX_TRIGGER_RATE_LIMIT
from ..validation import MAX_ID
from ..workers.base import BaseWorker
from .listing import DEFAULT_PER_PAGE, RowPage
from .presets import merge_data
from .schedules import check_action_data
from .tasks import TaskService
from .unique_names import commit_unique, refuse_taken
from .workers import WorkerService, is_identifier

log = logging.getLogger("stask")

#: The fields a client may write (the API contract); the others are read-only.
FIELDS = frozenset({"name", "identifier", "action", "preset_id", "signed", "rate_limit", "enabled"})
#: What a trigger running a preset takes from it (given, they must equal the preset's).
PRESET_OWNED = ("identifier", "action")
MAX_NAME = 120
#: ``secrets.token_urlsafe(32)``: 43 URL-safe characters.
TOKEN_BYTES = 32
TOKEN_PATTERN = "^[A-Za-z0-9_-]{43}$"
_TOKEN_RE = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")
#: Characters of the token kept to tell triggers apart (not enough to call one: 222 bits stay secret).
PREFIX_LENGTH = 6
#: Seconds of one rate-limit window (``rate_limit`` is per window: per minute).
RATE_WINDOW = 60
#: Calls kept per trigger (older ones are deleted as new ones come).
KEEP_CALLS = 100
MAX_ERROR = 255
#: What the status URL shows of a task: enough to follow it, nothing of its data or result.
STATUS_FIELDS = ("id", "status", "status_text", "progress", "message", "created_at", "finished_at")

#: One page of trigger rows.
TriggerPage = RowPage[Trigger]


def hash_token(token: str) -> str:
    """What is stored of a token (and looked up): its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hook_path(url_prefix: str, token: str) -> str:
    """The hook's path under stask's prefix (the web layer makes it absolute)."""
    return f"{url_prefix.rstrip('/')}/hooks/{token}"


@dataclass
class Issued:
    """A trigger and what was just made for it, to be shown once: the token (create, rotate)
    and the signing secret (a trigger made or turned signed, or a rotated secret)."""

    trigger: Trigger
    token: str | None = None
    secret: str | None = None


class TriggerNameTaken(InvalidState):
    """Another trigger has this name (409)."""

    code = "trigger_name_taken"
    field = "name"


class TriggerTargetGone(InvalidState):
    """The trigger's worker or action no longer exists (409): point it elsewhere."""

    code = "target_unavailable"


class TriggerThrottled(StaskError):
    """The trigger took its ``rate_limit`` calls in this window (429): wait ``retry_after`` seconds."""

    code = "too_many_requests"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadSignature(StaskError):
    """A signed trigger was called without a valid, fresh signature (401)."""

    code = "bad_signature"
    http_status = 401


class TriggerService:
    def __init__(self, db: SQLAlchemy, runtime: Runtime, workers: WorkerService, tasks: TaskService) -> None:
        self.db = db
        self.runtime = runtime
        self.workers = workers
        self.tasks = tasks

    # -- reading -----------------------------------------------------------------------------
    def get(self, trigger_id: Any) -> Trigger:
        if isinstance(trigger_id, bool) or not isinstance(trigger_id, int) or not 1 <= trigger_id <= MAX_ID:
            raise TriggerNotFound(f"no trigger {str(trigger_id)[:40]}")
        row = self.db.session.get(Trigger, trigger_id)
        if row is None:
            raise TriggerNotFound(f"no trigger {trigger_id}")
        return row

    def page(self, identifier: str | None = None, page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> TriggerPage:
        """Triggers by name, a page at a time (``identifier``: one worker's): two statements."""
        if identifier is not None and not is_identifier(identifier):
            raise InvalidField("identifier", f"identifier {identifier[:70]!r} is not a worker identifier")
        where = [Trigger.identifier == identifier] if identifier else []
        session = self.db.session
        query = sa.select(Trigger).where(*where).order_by(Trigger.name, Trigger.id)
        rows = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
        total = int(session.scalar(sa.select(sa.func.count(Trigger.id)).where(*where)) or 0)
        for row in rows:  # keep what was read: the commit would expire them (a SELECT each)
            session.expunge(row)
        session.commit()
        return TriggerPage(rows, total, page, per_page)

    def calls(self, trigger_id: int, limit: int = KEEP_CALLS) -> list[TriggerCall]:
        """A trigger's newest calls, newest first: one statement."""
        query = sa.select(TriggerCall).where(TriggerCall.trigger_id == trigger_id)
        return list(self.db.session.scalars(query.order_by(TriggerCall.id.desc()).limit(limit)))

    # -- changing ----------------------------------------------------------------------------
    def create(self, fields: Mapping[str, Any], *, created_by: str | None = None) -> Issued:
        """Validate every field (nothing is stored if one is bad), store the trigger, and return
        its token (and secret, when signed): the only time either is seen."""
        _refuse_unknown(fields)
        if "name" not in fields:
            raise InvalidField("name", "name is required")
        defaults = {"signed": False, "enabled": True, "rate_limit": self.runtime.settings.trigger_rate_limit}
        values = self._validated({**defaults, **fields})
        token = _new_secret()
        secret = _new_secret() if values["signed"] else None
        now = utcnow()
        row = Trigger(
            **values,
            token_hash=hash_token(token),
            token_prefix=token[:PREFIX_LENGTH],
            secret=secret,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            calls=0,
        )
        self._unique(values["name"], None)
        self.db.session.add(row)
        self._commit(values["name"])
        return Issued(row, token, secret)

    def update(self, trigger_id: Any, fields: Mapping[str, Any]) -> Issued:
        """Change the fields given (the others are kept); the result is validated whole.

        Turning ``signed`` on makes a secret (returned once); turning it off forgets it.
        """
        _refuse_unknown(fields)
        if set(fields) == {"enabled"}:  # the switch: possible even when the target is gone
            return Issued(self.set_enabled(trigger_id, fields["enabled"]))
        row = self.get(trigger_id)
        merged = {name: getattr(row, name) for name in FIELDS} | dict(fields)
        if merged.get("preset_id") is not None:  # the preset's worker and action unless given
            merged.update({name: None for name in PRESET_OWNED if name not in fields})
        values = self._validated(merged)
        self._unique(values["name"], row.id)
        secret = None
        if values["signed"] and not row.secret:
            secret = row.secret = _new_secret()
        elif not values["signed"]:
            row.secret = None
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        self._commit(values["name"])
        return Issued(row, None, secret)

    def set_enabled(self, trigger_id: Any, enabled: Any) -> Trigger:
        """Enable or disable (the URL answers 404, the token is kept), whatever the target's state."""
        if not isinstance(enabled, bool):
            raise InvalidField("enabled", "enabled must be true or false")
        row = self.get(trigger_id)
        if row.enabled != enabled:
            row.enabled, row.updated_at = enabled, utcnow()
        self.db.session.commit()
        return row

    def rotate(self, trigger_id: Any, *, secret: bool = False) -> Issued:
        """A new token (the old URL stops at once) and, with ``secret``, a new signing secret."""
        row = self.get(trigger_id)
        if secret and not row.signed:
            self.db.session.rollback()
            raise InvalidState(f"trigger {row.id} is not signed: it has no secret to replace (turn signed on instead)")
        token = _new_secret()
        row.token_hash, row.token_prefix = hash_token(token), token[:PREFIX_LENGTH]
        new_secret = None
        if secret:
            new_secret = row.secret = _new_secret()
        row.updated_at = utcnow()
        self.db.session.commit()
        return Issued(row, token, new_secret)

    def delete(self, trigger_id: Any) -> None:
        """Delete a trigger and its call log (its URL answers 404 at once; its tasks are kept)."""
        row = self.get(trigger_id)
        # The foreign key cascades on PostgreSQL and MariaDB; SQLite enforces none unless asked.
        self.db.session.execute(sa.delete(TriggerCall).where(TriggerCall.trigger_id == row.id))
        self.db.session.delete(row)
        self.db.session.commit()

    # -- the hook ----------------------------------------------------------------------------
    def by_token(self, token: str) -> Trigger | None:
        """The enabled trigger whose token this is, else ``None`` (unknown, rotated and disabled
        alike): one indexed SELECT of the token's hash, none for what cannot be a token."""
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            return None
        row = self.db.session.scalar(sa.select(Trigger).where(Trigger.token_hash == hash_token(token)))
        if row is None or not row.enabled:
            return None
        return row

    def throttle(self, trigger: Trigger) -> None:
        """Count this call in the trigger's window; :class:`TriggerThrottled` past ``rate_limit``.

        ``SET NX EX`` opens a window with its expiry and ``INCR`` counts in it, in one MULTI: the
        key cannot expire between them and live on without a TTL. Redis unreachable: the call is
        let through (as the login throttle does) and a warning logged; the task row is stored
        anyway and enqueued by reconcile.
        """
        key = self.runtime.keys.trigger_calls(trigger.id)
        try:
            pipe = self.runtime.redis.pipeline(transaction=True)
            pipe.set(key, 0, nx=True, ex=RATE_WINDOW)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = pipe.execute()
        except redis.RedisError as exc:
            log.warning("stask: trigger %s not rate limited (Redis): %s", trigger.id, exc)
            return
        if int(count) > trigger.rate_limit:
            wait = max(1, int(ttl))
            raise TriggerThrottled(
                f"this trigger takes {trigger.rate_limit} calls per minute: try again in {wait} s", retry_after=wait
            )

    def fire(self, trigger: Trigger, body: bytes, headers: Mapping[str, str], client: str | None = None) -> Task:
        """One task from a call's raw body (see the module doc for the order of the checks).

        Raises :class:`BadSignature`, :class:`~stask.exceptions.InvalidInput` (the body, the
        fields), :class:`TriggerTargetGone` or another refusal of task creation; each is
        recorded as a call without a task, and nothing else is written.
        """
        trigger_id = trigger.id
        now = utcnow()
        try:
            if trigger.signed and not verify(trigger.secret or "", headers, body):
                raise BadSignature(
                    "this trigger needs a valid X-Stask-Signature (sha256=<HMAC of '<timestamp>.<body>'>) "
                    "and an X-Stask-Timestamp within 5 minutes of now"
                )
            prepared = self._prepared(trigger, _body_data(body), now)
        except StaskError as exc:
            self.db.session.rollback()
            self._record(trigger_id, now, client, exc.http_status, None, str(exc))
            self.db.session.commit()
            raise
        ids, columns = self.tasks.insert_prepared([prepared])
        self._record(trigger_id, now, client, 201, ids[0], None)
        self.db.session.commit()
        self.tasks.dispatch(ids, [prepared], now)
        return Task(id=ids[0], **columns[0])

    def task_status(self, trigger: Trigger, task_id: int) -> dict[str, Any] | None:
        """What the status URL shows of a task this trigger started; ``None`` for any other task."""
        task = self.db.session.get(Task, task_id)
        if task is None or not isinstance(task.meta, dict) or task.meta.get("trigger_id") != trigger.id:
            return None
        progress = self.tasks.progress_many([task])[task.id]
        shown = {**task.to_dict(), "progress": progress["progress"], "message": progress["message"]}
        self.db.session.commit()
        return {name: shown[name] for name in STATUS_FIELDS}

    def _prepared(self, trigger: Trigger, data: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The task's row values: the target as it is now (a preset is a live reference), the data
        checked against the action's fields. Nothing is written."""
        identifier, action, priority = trigger.identifier, trigger.action, "normal"
        if trigger.preset_id is not None:
            preset = self.db.session.get(Preset, trigger.preset_id)
            if preset is None:
                raise TriggerTargetGone(f"the trigger's preset {trigger.preset_id} no longer exists")
            identifier, action, priority = preset.identifier, preset.action, preset.priority
            data = merge_data(preset.data, data)
        definition = self.workers.resolve(identifier)
        if definition is None:
            raise TriggerTargetGone(f"the trigger's worker {identifier!r} is no longer registered: point it elsewhere")
        cls = definition.worker_class()  # WorkerUnavailable (409) when it no longer imports
        if cls.action_callable(action) is None:
            raise TriggerTargetGone(f"worker {identifier!r} has no action {action!r} any more: point the trigger away")
        check_action_data(cls.action_fields.get(action, {}), data)
        spec = {"identifier": identifier, "action": action, "data": data, "priority": priority}
        return self.tasks.prepare(spec, now, meta={"trigger_id": trigger.id})

    def _record(
        self, trigger_id: int, now: datetime, client: str | None, status: int, task_id: int | None, error: Any
    ) -> None:
        """The call's row and the trigger's counters, in the caller's transaction; the log is
        cut to the newest :data:`KEEP_CALLS` (MariaDB cannot DELETE with a subquery on the same
        table: the cut-off id is read first)."""
        session = self.db.session
        # The counters first: the call row's foreign key takes a shared lock on the trigger's row
        # (MariaDB), and two calls each holding one while waiting to UPDATE it would deadlock.
        session.execute(
            sa.update(Trigger)
            .where(Trigger.id == trigger_id)
            .values(calls=Trigger.calls + 1, last_called_at=now)
            .execution_options(synchronize_session=False)
        )
        session.add(
            TriggerCall(
                trigger_id=trigger_id,
                called_at=now,
                client=(client or None) and client[:100],
                status=status,
                task_id=task_id,
                error=str(error)[:MAX_ERROR] if error else None,
            )
        )
        oldest_kept = sa.select(TriggerCall.id).where(TriggerCall.trigger_id == trigger_id)
        cut = session.scalar(oldest_kept.order_by(TriggerCall.id.desc()).offset(KEEP_CALLS).limit(1))
        if cut is not None:
            session.execute(
                sa.delete(TriggerCall)
                .where(TriggerCall.trigger_id == trigger_id, TriggerCall.id <= cut)
                .execution_options(synchronize_session=False)
            )

    # -- validation --------------------------------------------------------------------------
    def _worker_class(self, identifier: str) -> type[BaseWorker]:
        definition = self.workers.resolve(identifier)
        if definition is None:
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
        preset = self._preset_field(fields)
        identifier = fields.get("identifier")
        if identifier is None:
            raise InvalidField("identifier", "identifier and action are required, or a preset_id")
        if not isinstance(identifier, str) or not is_identifier(identifier):
            raise InvalidField("identifier", f"identifier {str(identifier)[:70]!r} is not a worker identifier")
        cls = self._worker_class(identifier)
        action = fields.get("action")
        if not isinstance(action, str) or cls.action_callable(action) is None:
            choices = ", ".join(cls.actions())
            raise InvalidField(
                "action", f"action: worker {identifier!r} has no action {str(action)[:64]!r}; use {choices}"
            )
        for flag in ("signed", "enabled"):
            if not isinstance(fields.get(flag), bool):
                raise InvalidField(flag, f"{flag} must be true or false")
        rate_limit = fields.get("rate_limit")
        if isinstance(rate_limit, bool) or not isinstance(rate_limit, int):
            raise InvalidField("rate_limit", f"rate_limit must be a whole number from 1 to {MAX_TRIGGER_RATE_LIMIT}")
        if not 1 <= rate_limit <= MAX_TRIGGER_RATE_LIMIT:
            raise InvalidField("rate_limit", f"rate_limit must be a whole number from 1 to {MAX_TRIGGER_RATE_LIMIT}")
        return {
            "name": name.strip(),
            "identifier": identifier,
            "action": action,
            "preset_id": preset.id if preset is not None else None,
            "signed": fields["signed"],
            "enabled": fields["enabled"],
            "rate_limit": rate_limit,
        }

    def _preset_field(self, fields: dict[str, Any]) -> Preset | None:
        """The preset ``preset_id`` names, if any; fills ``fields``' worker and action from it when
        they are not given, and refuses them when they differ from the preset's."""
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

    def _unique(self, name: str, own_id: int | None) -> None:
        refuse_taken(self.db.session, Trigger.id, [Trigger.name == name], own_id, _name_taken(name))

    def _commit(self, name: str) -> None:
        commit_unique(self.db.session, _name_taken(name))


def _new_secret() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _name_taken(name: str) -> TriggerNameTaken:
    return TriggerNameTaken(f"name: another trigger is named {name!r}")


def _body_data(body: bytes) -> dict[str, Any]:
    """The call's data: an empty body is none ({}), anything else must be one JSON object."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"the body must be a JSON object, not {type(value).__name__}")
    return value


def _refuse_unknown(fields: Mapping[str, Any]) -> None:
    if not isinstance(fields, Mapping):
        raise InvalidInput("a trigger must be a JSON object")
    unknown = set(fields) - FIELDS
    if unknown:
        names = ", ".join(sorted(str(k)[:40] for k in unknown))
        raise InvalidField(sorted(str(k) for k in unknown)[0], f"unknown or read-only fields: {names}")


__all__ = [
    "FIELDS",
    "BadSignature",
    "Issued",
    "TriggerNameTaken",
    "TriggerPage",
    "TriggerService",
    "TriggerTargetGone",
    "TriggerThrottled",
    "hash_token",
    "hook_path",
]
