"""Groups pages: the list (newest first, each with its progress), one group's page with one live
progress bar (an htmx fragment polled every second until the group ends), its counts by status,
its first members, and "Retry failed in this group" / "Cancel group" (admin only).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response as BaseResponse

from ..exceptions import StaskError
from ..service import current_stask
from ..service.listing import TaskPage, parse_task_query
from .audit_trail import record
from .panel import panel_bp
from .panel_support import HTMX_STOP_POLLING, write_required

#: Members listed on a group's page (the task list, filtered by the group, shows them all).
MEMBERS_SHOWN = 50
#: Groups on the list page.
LIST_LIMIT = 50


@panel_bp.get("/groups")
def groups() -> str:
    views, total = current_stask().workflows.page(1, LIST_LIMIT)
    return render_template("stask/groups.html", views=views, total=total)


@panel_bp.get("/groups/<int:group_id>")
def group(group_id: int) -> str:
    view = current_stask().workflows.view(group_id)
    return render_template("stask/group.html", v=view, members=_members(group_id))


def _members(group_id: int) -> TaskPage:
    """The group's first members, through the task list's own filter."""
    query = {"group_id": str(group_id), "sort": "id", "order": "asc", "per_page": str(MEMBERS_SHOWN)}
    return current_stask().tasks.page(parse_task_query(query))


@panel_bp.get("/groups/<int:group_id>/bar")
def group_bar(group_id: int) -> tuple[str, int]:
    """The polled bar and counts; HTTP 286 stops htmx polling once the group ended."""
    view = current_stask().workflows.view(group_id)
    body = render_template("stask/fragments/group_progress.html", v=view)
    if view.group.status == "running":
        return body, 200
    # ended: the buttons, the details and the members change too: send them out of band
    body += render_template("stask/fragments/group_actions.html", v=view, oob=True)
    body += render_template("stask/fragments/group_body.html", v=view, members=_members(group_id), oob=True)
    return body, HTMX_STOP_POLLING


@panel_bp.post("/groups/<int:group_id>/cancel")
@write_required
def group_cancel(group_id: int) -> BaseResponse:
    try:
        cancelled, stopping = current_stask().workflows.cancel_group(group_id)
    except StaskError as exc:
        flash(str(exc), "error")
    else:
        record("group.cancel", f"group:{group_id}", {"cancelled": len(cancelled), "stopping": len(stopping)})
        flash(
            _("%(cancelled)s cancelled, %(stopping)s stopping.", cancelled=len(cancelled), stopping=len(stopping)),
            "success",
        )
    return redirect(url_for("stask_panel.group", group_id=group_id), code=303)


@panel_bp.post("/groups/<int:group_id>/retry-failed")
@write_required
def group_retry_failed(group_id: int) -> BaseResponse:
    try:
        retried = current_stask().workflows.retry_failed(group_id)
    except StaskError as exc:
        flash(str(exc), "error")
    else:
        record("group.retry_failed", f"group:{group_id}", {"retried": len(retried)})
        done = len(retried)
        flash(ngettext("%(num)d task queued again.", "%(num)d tasks queued again.", done), "success")
    return redirect(url_for("stask_panel.group", group_id=group_id), code=303)
