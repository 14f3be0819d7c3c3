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

from flask import Blueprint, Response, jsonify, request, send_file
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from ..enums import Status
from ..exceptions import (
    InvalidInput,
    InvalidState,
    TaskNotFound,
    TooLarge,
    UnsupportedMediaType,
    UploadNotAccepted,
)
from ..models import Task
from ..service import current_stask
from ..service.audit import capped, parse_audit_query
from ..service.dependencies import MAX_PARENTS, ON_PARENT_FAILURE
from ..service.listing import PRIORITIES, parse_task_query
from ..service.tasks import BULK_OPERATIONS
from ..service.workers import unknown_worker
from ..validation import ID_DIGITS, MAX_ATTEMPTS_LIMIT, MAX_ID, parse_api_datetime, parse_digits, parse_id
from .audit_trail import created_details, discovery_details, record, settings_details
from .auth import own_body_limit, protect, require_write
from .uploads import UploadPolicy, receive

api_bp = Blueprint("stask_api", __name__)
protect(api_bp)


class IdConverter(BaseConverter):
    """``<id:task_id>``, ``<id:schedule_id>``: 1 to :data:`MAX_ID` in ASCII digits, as the OpenAPI
    document says (``stask.web.openapi_parts.id_parameter``).

    Werkzeug's ``int`` converter matches any Unicode decimal digit ("٣" is task 3) and any size.
    A number out of range is a 404 whatever the method: ``ValidationError`` would make werkzeug
    try the other rules and answer 405 when another method's rule had matched the text.
    """

    regex = ID_DIGITS

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise NotFound(f"no such id {value}: ids run from 1 to {MAX_ID}")
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


class WorkerConverter(BaseConverter):
    """``<worker:identifier>`` for ``GET /api/workers/<identifier>``: every segment but ``discover``.

    Without it that rule also matches ``/api/workers/discover``, so ``OPTIONS`` there advertised
    GET (and GET answered "no worker 'discover'") although only POST exists.
    """

    regex = r"(?!discover\Z)[^/]+"


#: The identifier the discovery route takes (``GET /api/workers/discover`` is no route).
RESERVED_IDENTIFIERS = ("discover",)


@api_bp.record_once
def _register_converters(state: BlueprintSetupState) -> None:
    """Runs before the blueprint's rules are added (it is recorded first)."""
    state.app.url_map.converters.setdefault("id", IdConverter)
    state.app.url_map.converters.setdefault("worker", WorkerConverter)


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


def ok(http_status: int = 200, /, **payload: Any) -> Response:
    """``{"success": true, **payload}`` (positional status: a payload may carry its own "status")."""
    response = jsonify({"success": True, **payload})
    response.status_code = http_status
    return response


def json_body(*, allowed: frozenset[str] | None = None, required: bool = False) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body unless ``required``); 400, 413 or 415 otherwise."""
    if request.content_length and request.content_length > MAX_JSON_BYTES:
        raise TooLarge(f"JSON bodies may be at most {MAX_JSON_BYTES // 1024 // 1024} MB")
    request.max_content_length = MAX_JSON_BYTES
    if request.mimetype in FORM_TYPES:
        if not request.files and set(request.form) <= {"csrf_token"}:
            return {}  # a plain HTML form that only carries its CSRF token: no fields
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise InvalidInput("send a JSON object as the body")
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


def _run_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of a run as strictly as the OpenAPI document states them.

    The service (shared with the panel, the CLI and Python callers) is more forgiving: it trims
    and folds the case of a priority, reads "5" as 5 and a space as the date-time separator.
    """
    if "priority" in body and body["priority"] not in PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)}")
    attempts = body.get("max_attempts")
    if attempts is not None and (
        isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS_LIMIT
    ):
        raise InvalidInput(f"max_attempts must be an integer from 1 to {MAX_ATTEMPTS_LIMIT}, or null")
    parse_api_datetime(body.get("start_at"), "start_at")  # the service reads the string as written again
    return body


def dependency_fields(body: dict[str, Any]) -> dict[str, Any]:
    """``depends_on`` and ``on_parent_failure`` as strictly as the OpenAPI document states them."""
    parents = body.get("depends_on")
    if parents is not None:
        if not isinstance(parents, list) or len(parents) > MAX_PARENTS:
            raise InvalidInput(f"depends_on must be a list of at most {MAX_PARENTS} task ids")
        for item in parents:
            if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ID:
                raise InvalidInput(f"depends_on must hold task ids from 1 to {MAX_ID}")
    policy = body.get("on_parent_failure")
    if policy is not None and policy not in ON_PARENT_FAILURE:
        raise InvalidInput(f"on_parent_failure must be one of {', '.join(ON_PARENT_FAILURE)}")
    return body


def _task(task_id: int) -> Task:
    return current_stask().tasks.get(task_id)


# -- the original sTask paths --------------------------------------------------------------------
@api_bp.post("/worker/<identifier>/run/<action>")
@require_write
def run_action(identifier: str, action: str) -> Response:
    """Start ``action`` of a worker: 201 with the new task."""
    body = _run_fields(json_body(allowed=RUN_FIELDS | {"notify"}))
    task = current_stask().tasks.create(identifier, action, **body)
    record("task.create", f"task:{task.id}", created_details(task))
    return ok(201, id=task.id, task=task.to_dict())


@api_bp.get("/task/<id:task_id>/progress")
def task_progress(task_id: int) -> Response:
    """Live progress: from Redis while the task runs, from its row and log once it ended."""
    lines = request.args.get("lines", "20")
    count = parse_digits(lines)  # ASCII only: "²".isdigit() is true, int("²") fails
    if count is None or not 1 <= count <= MAX_LOG_LINES:
        raise InvalidInput(f"lines must be a whole number from 1 to {MAX_LOG_LINES}")
    progress = current_stask().tasks.progress(task_id, log_lines=count)
    return ok(**progress)


@api_bp.get("/task/<id:task_id>/download")
def task_download(task_id: int) -> Response:
    """The task's result file (or ``?file=`` another file of its result folder) as an attachment."""
    task = _task(task_id)
    name = request.args.get("file", task.result)
    if name == "" and "file" in request.args:
        raise InvalidInput("file must name a file (leave it out for the result file)")
    if not name:
        raise _NoResult(f"task {task.id} has no result file")
    try:
        path = current_stask().runtime.storage.result_file(task.id, name)
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


@api_bp.post("/task/<id:task_id>/upload")
@own_body_limit
@require_write
def task_upload(task_id: int) -> Response:
    """Attach a file to a task that has not ended yet (its worker must take uploads)."""
    task = _task(task_id)
    if task.is_final:
        raise InvalidState(f"task {task.id} is {task.status_text}: files can only be added before it ends")
    body, status = _receive(task.identifier, f"task-{task.id}")
    if body.get("complete"):
        record("task.upload", f"task:{task.id}", {"file": body["file"]["name"], "size": body["file"]["size"]})
    return ok(status, **{k: v for k, v in body.items() if k != "success"})


@api_bp.post("/worker/<identifier>/upload")
@own_body_limit
@require_write
def worker_upload(identifier: str) -> Response:
    """Upload a file for a worker (then start a task naming it in ``data``)."""
    body, status = _receive(identifier, f"worker-{identifier}")
    if body.get("complete"):
        record("worker.upload", f"worker:{identifier}", {"file": body["file"]["name"], "size": body["file"]["size"]})
    return ok(status, **{k: v for k, v in body.items() if k != "success"})


def _receive(identifier: str, owner: str) -> tuple[dict[str, Any], int]:
    service = current_stask()
    definition = service.workers.resolve(identifier)
    if definition is None:
        raise unknown_worker(identifier)
    cls = definition.worker_class()
    if not cls.accepts_upload:
        raise UploadNotAccepted(f"worker {identifier!r} does not take uploaded files")
    policy = UploadPolicy.from_settings(definition.settings())
    return receive(service.runtime.storage, service.runtime.redis, owner, policy)


@api_bp.get("/stats")
def stats() -> Response:
    """Task counts by status, worker counts and the depth of each RQ queue."""
    service = current_stask()
    return ok(**service.tasks.stats(), queues=service.runtime.transport.depth())


# -- tasks ----------------------------------------------------------------------------------------
@api_bp.get("/api/tasks")
def list_tasks() -> Response:
    page = current_stask().tasks.page(parse_task_query(request.args))
    return ok(**page.to_dict())


@api_bp.post("/api/tasks")
@require_write
def create_task() -> Response:
    body = json_body(
        allowed=RUN_FIELDS | {"identifier", "action", "depends_on", "on_parent_failure", "notify"}, required=True
    )
    if "identifier" not in body or "action" not in body:
        raise InvalidInput("identifier and action are required")
    body = dependency_fields(_run_fields(body))
    task = current_stask().tasks.create(**body)
    record("task.create", f"task:{task.id}", created_details(task))
    return ok(201, id=task.id, task=task.to_dict())


@api_bp.get("/api/tasks/<id:task_id>")
def get_task(task_id: int) -> Response:
    """The task, and (computed when read) why it is not running yet: ``waiting_reason``."""
    task = _task(task_id).to_dict()
    return ok(task={**task, "waiting_reason": current_stask().workflows.waiting_reason(task_id)})


@api_bp.post("/api/tasks/<id:task_id>/retry")
@require_write
def retry_task(task_id: int) -> Response:
    task = current_stask().tasks.retry(task_id).to_dict()
    record("task.retry", f"task:{task_id}")
    return ok(task=task)


@api_bp.post("/api/tasks/<id:task_id>/cancel")
@require_write
def cancel_task(task_id: int) -> Response:
    """Queued: cancelled at once. Running: asked to stop (status 90 once it has)."""
    task = current_stask().tasks.cancel(task_id)
    stopping = task.status == Status.RUNNING
    record("task.stop" if stopping else "task.cancel", f"task:{task_id}")
    return ok(task=task.to_dict(), stopping=stopping)


@api_bp.delete("/api/tasks/<id:task_id>")
@require_write
def delete_task(task_id: int) -> Response:
    current_stask().tasks.delete(task_id)
    record("task.delete", f"task:{task_id}")
    return ok(id=task_id)


@api_bp.post("/api/tasks/retry-failed")
@require_write
def retry_failed() -> Response:
    """Queue up to ``limit`` failed tasks again (oldest first); ``remaining`` says if more wait."""
    body = json_body(allowed=frozenset({"limit"}))
    limit = body.get("limit", RETRY_FAILED_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= RETRY_FAILED_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {RETRY_FAILED_LIMIT}")
    retried, skipped, remaining = current_stask().tasks.retry_failed(limit)
    if retried:
        record("task.retry_failed", "tasks", {"count": len(retried), "ids": capped(retried), "remaining": remaining})
    return ok(retried=retried, skipped=skipped, remaining=remaining)


@api_bp.post("/api/tasks/bulk")
@require_write
def bulk() -> Response:
    """``{"action": "retry"|"cancel"|"delete", "ids": [...]}``: per-id outcome, never all-or-nothing."""
    body = json_body(allowed=frozenset({"action", "ids"}), required=True)
    action = body.get("action")
    if not isinstance(action, str) or action not in BULK_OPERATIONS:
        raise InvalidInput("action must be retry, cancel or delete")
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BULK:
        raise InvalidInput(f"ids must be a list of 1 to {MAX_BULK} task ids")
    if any(isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= MAX_ID for i in ids):
        raise InvalidInput(f"every id must be an integer from 1 to {MAX_ID}")
    done, refused = current_stask().tasks.bulk(action, ids)
    if done:
        record(
            "task.bulk",
            "tasks",
            {"operation": action, "count": len(done), "ids": capped(done), "refused": len(refused)},
        )
    failed = [{"id": task_id, "error": {"code": exc.code, "message": str(exc)}} for task_id, exc in refused]
    return ok(action=action, done=done, failed=failed)


# -- workers --------------------------------------------------------------------------------------
@api_bp.get("/api/workers")
def list_workers() -> Response:
    workers = current_stask().workers
    return ok(workers=[workers.describe(row) for row in workers.registered()])


@api_bp.get("/api/workers/<worker:identifier>")
def get_worker(identifier: str) -> Response:
    """One worker with its task counts by status (one grouped statement on an index)."""
    workers = current_stask().workers
    row = workers.get(identifier)
    return ok(worker=workers.describe(row), tasks=workers.task_counts(identifier))


@api_bp.post("/api/workers/<identifier>/activate")
@require_write
def activate_worker(identifier: str) -> Response:
    workers = current_stask().workers
    row = workers.set_active(identifier, True)
    record("worker.activate", f"worker:{identifier}")
    return ok(worker=workers.describe(row))


@api_bp.post("/api/workers/<identifier>/deactivate")
@require_write
def deactivate_worker(identifier: str) -> Response:
    workers = current_stask().workers
    row = workers.set_active(identifier, False)
    record("worker.deactivate", f"worker:{identifier}")
    return ok(worker=workers.describe(row))


@api_bp.get("/api/workers/<identifier>/settings")
def get_worker_settings(identifier: str) -> Response:
    workers = current_stask().workers
    return ok(**workers.settings_view(workers.get(identifier)))


@api_bp.put("/api/workers/<identifier>/settings")
@require_write
def put_worker_settings(identifier: str) -> Response:
    """Change some settings (same keys and types as the worker's defaults); the rest are kept."""
    body = json_body(required=True)
    values = body.get("settings", body) if set(body) == {"settings"} else body
    workers = current_stask().workers
    before = dict(workers.get(identifier).settings or {})
    row = workers.update_settings(identifier, values)
    record("worker.settings", f"worker:{identifier}", settings_details(identifier, before, row.settings))
    return ok(**workers.settings_view(row))


@api_bp.post("/api/workers/discover")
@require_write
def discover_workers() -> Response:
    report = current_stask().workers.discover()
    record("worker.discover", None, discovery_details(report))
    return ok(**report)


# -- audit log ------------------------------------------------------------------------------------
@api_bp.get("/api/audit")
def list_audit() -> Response:
    """The audit log, newest first; any signed-in role may read it."""
    return ok(**current_stask().audit.page(parse_audit_query(request.args)).to_dict())


# The OpenAPI document and the other routes (schedules, presets, workflows, notifications, triggers)
# register their views on this blueprint.
from . import api_notifications, api_presets, api_schedules, api_triggers, api_workflows, openapi  # noqa: E402,F401
