"""Admin panel: full pages plus the small fragments htmx swaps into them.

Every view is an ordinary server-rendered page that also works with JavaScript off; htmx
only adds liveness (polling progress fragments that stop themselves at a final state, the
task table updated in place). State changes are POST forms that call the service facade
and need the admin role. Workers pages live in :mod:`stask.web.panel_workers`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response as BaseResponse

from ..enums import Status
from ..exceptions import StaskError
from ..service import current_stask
from ..service.audit import capped
from ..service.listing import parse_task_query
from ..service.tasks import BULK_OPERATIONS
from ..validation import parse_digits
from . import panel_data, panel_format, panel_graph
from .audit_trail import record
from .auth import current_role, protect
from .panel_support import (
    HTMX_STOP_POLLING,
    can_write,
    is_htmx,
    write_required,
)

_PACKAGE = Path(__file__).resolve().parent.parent
panel_bp = Blueprint(
    "stask_panel",
    __name__,
    template_folder=str(_PACKAGE / "templates"),
    static_folder=str(_PACKAGE / "static" / "stask"),
    static_url_path="/static",
)
protect(panel_bp)

#: Recent tasks on the dashboard; log lines on a task page.
RECENT_TASKS = 10
LOG_LINES = 60
#: "Retry all failed" handles at most this many per click (each retry is a guarded UPDATE).
RETRY_ALL_LIMIT = 1000
BULK_LIMIT = 500


# -- helpers every template can use -------------------------------------------------------
def stask_url(endpoint: str, **values: Any) -> str | None:
    """``url_for`` that returns None for an endpoint another part of stask has not registered."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def stask_lang_url(code: str) -> str:
    """The current page in another language (keeps its query string)."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    if request.endpoint in current_app.view_functions and request.method == "GET":
        try:
            return url_for(request.endpoint, **(request.view_args or {}), **args)  # type: ignore[arg-type]
        except BuildError:
            pass
    return f"{request.path}?lang={code}"


def stask_role() -> str | None:
    """The signed-in role: "admin", "readonly" or None."""
    return current_role()


def stask_nav_active(endpoint: str) -> bool:
    current = request.endpoint or ""
    groups = {
        "stask_panel.tasks": ("stask_panel.tasks", "stask_panel.task"),
        "stask_panel.groups": ("stask_panel.groups", "stask_panel.group"),
        "stask_panel.workers": ("stask_panel.workers", "stask_panel.worker_settings"),
        "stask_panel.schedules": ("stask_panel.schedules", "stask_panel.schedule_new", "stask_panel.schedule_edit"),
        "stask_panel.presets": ("stask_panel.presets", "stask_panel.new_preset", "stask_panel.edit_preset"),
        "stask_panel.triggers": ("stask_panel.triggers", "stask_panel.trigger_new", "stask_panel.trigger_page"),
        "stask_panel.notifications": (
            "stask_panel.notifications",
            "stask_panel.notification",
            "stask_panel.notification_new",
            "stask_panel.notification_edit",
        ),
    }
    return current in groups.get(endpoint, (endpoint,))


def api_url(path: str) -> str:
    """A URL under the stask prefix (for endpoints the API blueprint owns)."""
    base = url_for("stask_panel.dashboard").rstrip("/")
    return f"{base}/{path.lstrip('/')}"


@panel_bp.app_context_processor
def _panel_helpers() -> dict[str, Any]:
    return {
        "stask_url": stask_url,
        "stask_static": lambda name: url_for("stask_panel.static", filename=name),
        "stask_lang_url": stask_lang_url,
        "stask_role": stask_role,
        "stask_nav_active": stask_nav_active,
        "stask_can_write": can_write,
        "stask_api_url": api_url,
        "stask_Status": Status,
        "stask_progress_of": lambda row: current_stask().tasks.progress_many([row])[row.id],
    }


@panel_bp.record_once
def _install_formatting(state: Any) -> None:
    panel_format.install(state.app)


@panel_bp.errorhandler(StaskError)
def _stask_error(exc: StaskError) -> tuple[str, int]:
    """A refused operation on a page: an explained error page, never a traceback."""
    return render_template("stask/error.html", message=str(exc), code=exc.code), exc.http_status


# -- dashboard -----------------------------------------------------------------------------
@panel_bp.get("/")
def dashboard() -> str:
    service = current_stask()
    recent = service.tasks.recent(RECENT_TASKS)
    return render_template(
        "stask/dashboard.html",
        live=service.overview.dashboard(),
        recent=recent,
        progress=service.tasks.progress_many(recent),
    )


@panel_bp.get("/fragments/overview")
def overview() -> str:
    """Counters, queues and worker processes: the dashboard refreshes this every few seconds."""
    return render_template("stask/fragments/overview.html", live=current_stask().overview.dashboard())


# -- tasks ---------------------------------------------------------------------------------
@panel_bp.get("/tasks")
def tasks() -> BaseResponse | str | tuple[str, int]:
    service = current_stask()
    error = None
    try:
        query = parse_task_query(request.args)
        page = service.tasks.page(query)
    except StaskError as exc:
        error, query, page = str(exc), None, None
    failed_count, failed_capped = service.tasks.failed_count_capped()
    context = {
        "failed_count": failed_count,
        "failed_capped": failed_capped,
        "query": query,
        "page": page,
        "error": error,
        "args": request.args,
        "workers": [w.identifier for w in service.workers.registered()],
        "statuses": list(Status),
    }
    if is_htmx():  # the table alone (swapped whole) and the filter form's kept values out of band
        body = render_template("stask/fragments/task_table.html", **context)
        body += render_template("stask/fragments/task_filter_keep.html", oob=True, **context)
    else:
        body = render_template("stask/tasks.html", **context)
    response = Response(body, status=400 if error else 200)
    response.vary.add("HX-Request")
    return response


@panel_bp.post("/tasks/bulk")
@write_required
def bulk() -> BaseResponse:
    """Retry, cancel or delete the ticked tasks; one flash line per kind of outcome."""
    op = request.form.get("op", "")
    if op not in BULK_OPERATIONS:
        flash(_("Choose retry, cancel or delete."), "error")
        return _back_to_tasks()
    raw_ids = request.form.getlist("ids")
    ids = [n for n in map(parse_digits, raw_ids) if n is not None][:BULK_LIMIT]
    if not ids:
        flash(_("Select at least one task first."), "warning")
        return _back_to_tasks()
    succeeded, failures = current_stask().tasks.bulk(op, ids)
    done = len(succeeded)
    if done:
        record(
            "task.bulk", "tasks", {"operation": op, "count": done, "ids": capped(succeeded), "refused": len(failures)}
        )
    refused = [f"#{task_id}: {exc}" for task_id, exc in failures]
    labels = {
        "retry": ngettext("%(num)d task queued again.", "%(num)d tasks queued again.", done),
        "cancel": ngettext("%(num)d task cancelled or stopping.", "%(num)d tasks cancelled or stopping.", done),
        "delete": ngettext("%(num)d task deleted.", "%(num)d tasks deleted.", done),
    }
    flash(labels[op], "success" if done else "warning")
    if refused:
        shown = "; ".join(refused[:5]) + ("…" if len(refused) > 5 else "")
        flash(_("Refused: %(list)s", list=shown), "error")
    return _back_to_tasks()


@panel_bp.post("/tasks/retry-failed")
@write_required
def retry_failed() -> BaseResponse:
    retried, _skipped, remaining = current_stask().tasks.retry_failed(RETRY_ALL_LIMIT)
    done = len(retried)
    if done:
        record("task.retry_failed", "tasks", {"count": done, "ids": capped(retried), "remaining": remaining})
    flash(ngettext("%(num)d failed task queued again.", "%(num)d failed tasks queued again.", done), "success")
    if remaining:
        flash(_("More failed tasks remain: click again to retry the next batch."), "warning")
    return _back_to_tasks()


def _back_to_tasks() -> BaseResponse:
    """Back to the list the user came from (same filters), never to another site."""
    target = request.form.get("next", "")
    base = url_for("stask_panel.tasks")
    if not target.startswith(base) or target.startswith("//"):
        target = base
    return redirect(target, code=303)


# -- one task ------------------------------------------------------------------------------
@panel_bp.get("/tasks/<int:task_id>")
def task(task_id: int) -> str:
    service = current_stask()
    row = service.tasks.get(task_id)
    progress = service.tasks.progress(task_id, log_lines=LOG_LINES)
    log_lines = progress["log_lines"]
    if row.status == Status.FAILED:
        log_lines = service.runtime.storage.tail_log(task_id, 400)
    relatives = service.workflows.relatives(task_id, panel_graph.MAX_SIDE)
    graph = None
    if relatives["parents_total"] or relatives["children_total"]:
        node = {"id": row.id, "identifier": row.identifier, "action": row.action, "status": row.status}
        graph = panel_graph.dependency_svg(node, relatives, lambda n: ngettext("+%(num)d more", "+%(num)d more", n))
    return render_template(
        "stask/task.html",
        task=row,
        relatives=relatives,
        graph=graph,
        waiting=service.workflows.waiting_reason(task_id) if not row.is_final else None,
        p=progress,
        log_lines=log_lines[-LOG_LINES:],
        traceback=panel_data.last_traceback(log_lines) if row.status == Status.FAILED else None,
        result=panel_data.result_view(service.runtime.storage, row),
    )


@panel_bp.get("/tasks/<int:task_id>/bar")
def task_bar(task_id: int) -> tuple[str, int]:
    """The polled progress fragment; HTTP 286 tells htmx to stop polling once the task ended."""
    service = current_stask()
    row = service.tasks.get(task_id)
    progress = service.tasks.progress_many([row])[row.id]
    detail = request.args.get("detail") == "1"
    with_actions = request.args.get("actions") == "1"
    body = render_template(
        "stask/fragments/progress.html", task=row, p=progress, detail=detail, with_actions=with_actions
    )
    if not row.is_final:
        return body, 200
    if with_actions:  # the task page's buttons change with the final state: send them out of band
        result = panel_data.result_view(service.runtime.storage, row)
        body += render_template("stask/fragments/task_actions.html", task=row, p=progress, result=result, oob=True)
    return body, HTMX_STOP_POLLING


@panel_bp.get("/tasks/<int:task_id>/log")
def task_log(task_id: int) -> tuple[str, int]:
    service = current_stask()
    row = service.tasks.get(task_id)
    lines = service.runtime.storage.tail_log(task_id, LOG_LINES)
    body = render_template("stask/fragments/log.html", task=row, log_lines=lines)
    return body, HTMX_STOP_POLLING if row.is_final else 200


@panel_bp.post("/tasks/<int:task_id>/<any(retry, cancel, stop, delete):op>")
@write_required
def task_action(task_id: int, op: str) -> BaseResponse:
    tasks = current_stask().tasks
    try:
        if op == "retry":
            tasks.retry(task_id)
            record("task.retry", f"task:{task_id}")
            flash(_("Task #%(id)d is queued again.", id=task_id), "success")
        elif op == "delete":
            tasks.delete(task_id)
            record("task.delete", f"task:{task_id}")
            flash(_("Task #%(id)d deleted.", id=task_id), "success")
            return redirect(url_for("stask_panel.tasks"), code=303)
        else:
            row = tasks.cancel(task_id)
            record("task.cancel" if row.status == Status.CANCELLED else "task.stop", f"task:{task_id}")
            if row.status == Status.CANCELLED:
                flash(_("Task #%(id)d cancelled.", id=task_id), "success")
            else:
                flash(_("Stopping task #%(id)d… it ends as cancelled at its next progress report.", id=task_id), "info")
    except StaskError as exc:
        flash(str(exc), "error")
    return redirect(url_for("stask_panel.task", task_id=task_id), code=303)


from . import (  # noqa: E402,F401  (register their views on panel_bp)
    panel_audit,
    panel_groups,
    panel_notifications,
    panel_presets,
    panel_schedules,
    panel_triggers,
    panel_workers,
)
