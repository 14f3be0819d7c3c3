"""The JSON API: the original sTask paths plus what a client needs to manage tasks and workers.

Every answer is ``{"success": true, ...}`` or the one error shape of :mod:`stask.web.errors`
with the right 4xx status. Reading needs any signed-in role (a read-only bearer token is
enough); every write needs the admin role (:func:`~stask.web.auth.require_write`). The
OpenAPI document (:mod:`stask.web.openapi`) describes each endpoint here.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request, send_file

from ..enums import Status
from ..exceptions import (
    InvalidInput,
    InvalidState,
    StaskError,
    TaskNotFound,
    TooLarge,
    UnknownWorker,
    UnsupportedMediaType,
    UploadNotAccepted,
)
from ..models import Task, Worker
from ..service.listing import parse_task_query, run_task_query, safe_datetime
from ..service.tasks import status_key
from ..validation import parse_digits
from ..workers.registry import load_class
from .auth import protect, require_write
from .uploads import UploadPolicy, receive

api_bp = Blueprint("stask_api", __name__)
protect(api_bp)

#: Ids beyond a signed 64-bit integer cannot exist; refusing them early avoids driver overflows.
MAX_ID = 2**63 - 1
MAX_JSON_BYTES = 2 * 1024 * 1024
MAX_BULK = 1000
RETRY_FAILED_LIMIT = 1000
MAX_LOG_LINES = 500
#: Result files served with their own type; anything else is sent as application/octet-stream.
SAFE_DOWNLOAD_TYPES = frozenset(
    {
        "text/csv",
        "text/plain",
        "application/json",
        "application/zip",
        "application/gzip",
        "application/pdf",
        "application/x-ndjson",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)
RUN_FIELDS = frozenset({"data", "priority", "start_at", "max_attempts"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _ext() -> Any:
    return current_app.extensions["stask"]


def ok(http_status: int = 200, /, **payload: Any) -> Response:
    """``{"success": true, **payload}`` (positional status: a payload may carry its own "status")."""
    response = jsonify({"success": True, **payload})
    response.status_code = http_status
    return response


def json_body(*, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); 400, 413 or 415 otherwise."""
    if request.content_length and request.content_length > MAX_JSON_BYTES:
        raise TooLarge(f"JSON bodies may be at most {MAX_JSON_BYTES // 1024 // 1024} MB")
    request.max_content_length = MAX_JSON_BYTES
    if request.mimetype in FORM_TYPES:
        if not request.files and set(request.form) <= {"csrf_token"}:
            return {}  # a plain HTML form that only carries its CSRF token: no fields
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"the body must be a JSON object, not {type(value).__name__}")
    if allowed is not None:
        unknown = set(value) - allowed
        if unknown:
            fields = ", ".join(sorted(str(k)[:40] for k in unknown))
            raise InvalidInput(f"unknown fields: {fields}; allowed are {', '.join(sorted(allowed))}")
    return value


def _checked_dates(body: dict[str, Any]) -> dict[str, Any]:
    """``start_at`` parsed here: an offset pushing a date past year 1 or 9999 is bad input, not a crash."""
    if body.get("start_at") is not None:
        body = {**body, "start_at": safe_datetime(body["start_at"], "start_at")}
    return body


def _task_id(task_id: int) -> int:
    if task_id < 1 or task_id > MAX_ID:
        raise TaskNotFound(f"no task {task_id}")
    return task_id


def _task(task_id: int) -> Task:
    return _ext().get_task(_task_id(task_id))


# -- the original sTask paths --------------------------------------------------------------------
@api_bp.post("/worker/<identifier>/run/<action>")
@require_write
def run_action(identifier: str, action: str) -> Response:
    """Start ``action`` of a worker: 201 with the new task."""
    body = _checked_dates(json_body(allowed=RUN_FIELDS))
    task = _ext().create(identifier, action, **body)
    return ok(201, id=task.id, task=task.to_dict())


@api_bp.get("/task/<int:task_id>/progress")
def task_progress(task_id: int) -> Response:
    """Live progress: from Redis while the task runs, from its row and log once it ended."""
    lines = request.args.get("lines", "20")
    count = parse_digits(lines)  # ASCII only: "²".isdigit() is true, int("²") fails
    if count is None or not 1 <= count <= MAX_LOG_LINES:
        raise InvalidInput(f"lines must be a whole number from 1 to {MAX_LOG_LINES}")
    progress = _ext().progress(_task_id(task_id), log_lines=count)
    return ok(**progress)


@api_bp.get("/task/<int:task_id>/download")
def task_download(task_id: int) -> Response:
    """The task's result file (or ``?file=`` another file of its result folder) as an attachment."""
    task = _task(task_id)
    name = request.args.get("file") or task.result
    if not name:
        raise _NoResult(f"task {task.id} has no result file")
    try:
        path = _ext().runtime.storage.result_file(task.id, name)
        present = path.is_file()
    except OSError:  # a name the file system rejects (too long, ...) names no file
        present = False
    if not present:
        raise _NoResult(f"the result file of task {task.id} is gone")
    guessed = mimetypes.guess_type(path.name)[0]
    mimetype = guessed if guessed in SAFE_DOWNLOAD_TYPES else "application/octet-stream"
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=path.name, max_age=0)


class _NoResult(TaskNotFound):
    """The task exists but there is no file to download."""

    code = "no_result"


@api_bp.post("/task/<int:task_id>/upload")
@require_write
def task_upload(task_id: int) -> Response:
    """Attach a file to a task that has not ended yet (its worker must take uploads)."""
    task = _task(task_id)
    if task.is_final:
        raise InvalidState(f"task {task.id} is {task.status_text}: files can only be added before it ends")
    body, status = _receive(task.identifier, f"task-{task.id}")
    return ok(status, **{k: v for k, v in body.items() if k != "success"})


@api_bp.post("/worker/<identifier>/upload")
@require_write
def worker_upload(identifier: str) -> Response:
    """Upload a file for a worker (then start a task naming it in ``data``)."""
    body, status = _receive(identifier, f"worker-{identifier}")
    return ok(status, **{k: v for k, v in body.items() if k != "success"})


def _receive(identifier: str, owner: str) -> tuple[dict[str, Any], int]:
    definition = _ext().resolve_worker(identifier)
    if definition is None:
        raise UnknownWorker(f"no worker {identifier!r}: check the name or run `flask stask discover`")
    cls = definition.worker_class()
    if not cls.accepts_upload:
        raise UploadNotAccepted(f"worker {identifier!r} does not take uploaded files")
    policy = UploadPolicy.from_settings(definition.settings())
    runtime = _ext().runtime
    return receive(runtime.storage, runtime.redis, owner, policy)


@api_bp.get("/stats")
def stats() -> Response:
    """Task counts by status, worker counts and the depth of each RQ queue."""
    counts = _ext().get_stats()
    return ok(**counts, queues=_ext().runtime.transport.depth())


# -- tasks ----------------------------------------------------------------------------------------
@api_bp.get("/api/tasks")
def list_tasks() -> Response:
    page = run_task_query(parse_task_query(request.args))
    return ok(**page.to_dict())


@api_bp.post("/api/tasks")
@require_write
def create_task() -> Response:
    body = json_body(allowed=RUN_FIELDS | {"identifier", "action"})
    if "identifier" not in body or "action" not in body:
        raise InvalidInput("identifier and action are required")
    body = _checked_dates(body)
    task = _ext().create(**body)
    return ok(201, id=task.id, task=task.to_dict())


@api_bp.get("/api/tasks/<int:task_id>")
def get_task(task_id: int) -> Response:
    return ok(task=_task(task_id).to_dict())


@api_bp.post("/api/tasks/<int:task_id>/retry")
@require_write
def retry_task(task_id: int) -> Response:
    return ok(task=_ext().retry(_task_id(task_id)).to_dict())


@api_bp.post("/api/tasks/<int:task_id>/cancel")
@require_write
def cancel_task(task_id: int) -> Response:
    """Queued: cancelled at once. Running: asked to stop (status 90 once it has)."""
    task = _ext().cancel(_task_id(task_id))
    return ok(task=task.to_dict(), stopping=task.status == Status.RUNNING)


@api_bp.delete("/api/tasks/<int:task_id>")
@require_write
def delete_task(task_id: int) -> Response:
    _ext().delete(_task_id(task_id))
    return ok(id=task_id)


@api_bp.post("/api/tasks/retry-failed")
@require_write
def retry_failed() -> Response:
    """Queue up to ``limit`` failed tasks again (oldest first); ``remaining`` says if more wait."""
    body = json_body(allowed=frozenset({"limit"}))
    limit = body.get("limit", RETRY_FAILED_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= RETRY_FAILED_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {RETRY_FAILED_LIMIT}")
    ext = _ext()
    ids = list(
        ext.db.session.scalars(
            sa.select(Task.id).where(Task.status == int(Status.FAILED)).order_by(Task.id).limit(limit + 1)
        )
    )
    ext.db.session.commit()
    retried, skipped = [], []
    for task_id in ids[:limit]:
        try:
            ext.retry(task_id)
            retried.append(task_id)
        except StaskError:
            skipped.append(task_id)  # retried or deleted by someone else meanwhile
    return ok(retried=retried, skipped=skipped, remaining=len(ids) > limit)


@api_bp.post("/api/tasks/bulk")
@require_write
def bulk() -> Response:
    """``{"action": "retry"|"cancel"|"delete", "ids": [...]}``: per-id outcome, never all-or-nothing."""
    body = json_body(allowed=frozenset({"action", "ids"}))
    ext = _ext()
    operations = {"retry": ext.retry, "cancel": ext.cancel, "delete": ext.delete}
    action = body.get("action")
    if action not in operations:
        raise InvalidInput("action must be retry, cancel or delete")
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BULK:
        raise InvalidInput(f"ids must be a list of 1 to {MAX_BULK} task ids")
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in ids):
        raise InvalidInput("every id must be a positive integer")
    done, failed = [], []
    for task_id in dict.fromkeys(ids):
        try:
            if task_id > MAX_ID:
                raise TaskNotFound(f"no task {task_id}")
            operations[action](task_id)
            done.append(task_id)
        except StaskError as exc:
            failed.append({"id": task_id, "error": {"code": exc.code, "message": str(exc)}})
    return ok(action=action, done=done, failed=failed)


# -- workers --------------------------------------------------------------------------------------
def worker_dict(row: Worker) -> dict[str, Any]:
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


def _settings_payload(row: Worker) -> dict[str, Any]:
    info = worker_dict(row)
    return {
        "identifier": row.identifier,
        "settings": {**info["default_settings"], **(row.settings or {})},
        "stored": row.settings or {},
        "defaults": info["default_settings"],
    }


@api_bp.get("/api/workers")
def list_workers() -> Response:
    rows = _ext().get_workers()
    return ok(workers=[worker_dict(row) for row in rows])


@api_bp.get("/api/workers/<identifier>")
def get_worker(identifier: str) -> Response:
    """One worker with its task counts by status (one grouped statement on an index)."""
    ext = _ext()
    row = ext.get_worker(identifier)
    counts = dict(
        ext.db.session.execute(
            sa.select(Task.status, sa.func.count()).where(Task.identifier == identifier).group_by(Task.status)
        ).all()
    )
    tasks = {status_key(code): int(counts.get(int(code), 0)) for code in Status}
    tasks["total"] = sum(tasks.values())
    return ok(worker=worker_dict(row), tasks=tasks)


@api_bp.post("/api/workers/<identifier>/activate")
@require_write
def activate_worker(identifier: str) -> Response:
    return ok(worker=worker_dict(_ext().activate_worker(identifier)))


@api_bp.post("/api/workers/<identifier>/deactivate")
@require_write
def deactivate_worker(identifier: str) -> Response:
    return ok(worker=worker_dict(_ext().deactivate_worker(identifier)))


@api_bp.get("/api/workers/<identifier>/settings")
def get_worker_settings(identifier: str) -> Response:
    return ok(**_settings_payload(_ext().get_worker(identifier)))


@api_bp.put("/api/workers/<identifier>/settings")
@require_write
def put_worker_settings(identifier: str) -> Response:
    """Change some settings (same keys and types as the worker's defaults); the rest are kept."""
    body = json_body()
    values = body.get("settings", body) if set(body) == {"settings"} else body
    return ok(**_settings_payload(_ext().update_worker_settings(identifier, values)))


@api_bp.post("/api/workers/discover")
@require_write
def discover_workers() -> Response:
    return ok(**_ext().discover_workers())


# The OpenAPI document registers its view on this blueprint.
from . import openapi  # noqa: E402,F401
