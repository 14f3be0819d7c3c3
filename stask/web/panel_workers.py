"""Workers pages: one card per worker with its run forms, the settings page, discovery."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..enums import Priority, Status
from ..exceptions import StaskError
from ..models import Task, Worker
from . import panel_forms
from .panel import panel_bp
from .panel_support import is_htmx, stask_extension, write_required

#: Names with a drawing in ``static/stask/icons.svg``; any other icon shows a letter badge.
ICONS = frozenset(
    {
        "envelope",
        "file-csv",
        "broom",
        "gear",
        "comment",
        "database",
        "clock",
        "bolt",
        "bell",
        "chart",
        "cloud",
        "download",
        "upload",
        "user",
        "image",
        "layers",
        "search",
        "sync",
    }
)


def icon_name(worker: Worker) -> str | None:
    return worker.icon if worker.icon in ICONS else None


def worker_info(ext: Any, worker: Worker) -> dict[str, Any]:
    """What a card needs from the worker's class (which may fail to import)."""
    info: dict[str, Any] = {"actions": [], "fields": {}, "accepts_upload": False, "defaults": {}, "error": None}
    try:
        definition = ext.resolve_worker(worker.identifier)
        cls = definition.worker_class() if definition else None
    except Exception as exc:  # a plugin that no longer imports: the card says so, the page still works
        info["error"] = f"{type(exc).__name__}: {exc}"
        return info
    if cls is None:
        info["error"] = _("Worker class not found.")
        return info
    info["actions"] = cls.actions()
    info["fields"] = {action: dict(cls.action_fields.get(action, {})) for action in info["actions"]}
    info["accepts_upload"] = bool(cls.accepts_upload)
    info["defaults"] = dict(cls.default_settings)
    return info


def uploaded_files(ext: Any, identifier: str) -> list[str]:
    """Files uploaded for a worker (choices for its ``file`` fields)."""
    try:
        folder = ext.runtime.storage.worker_upload_dir(identifier)
    except StaskError:
        return []
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file())[:200]


def task_counts(ext: Any) -> tuple[dict[str, dict[int, int]], dict[str, Any]]:
    """Task counts per worker and status, and each worker's last start: one grouped query."""
    rows = ext.db.session.execute(
        sa.select(Task.identifier, Task.status, sa.func.count(), sa.func.max(Task.started_at)).group_by(
            Task.identifier, Task.status
        )
    ).all()
    ext.db.session.commit()
    counts: dict[str, dict[int, int]] = {}
    last: dict[str, Any] = {}
    for identifier, status, count, started in rows:
        counts.setdefault(identifier, {})[int(status)] = int(count)
        if started and (identifier not in last or started > last[identifier]):
            last[identifier] = started
    return counts, last


def run_section(ext: Any, worker: Worker, info: dict[str, Any], action: str, **extra: Any) -> dict[str, Any]:
    fields = info["fields"].get(action, {})
    return {
        "worker": worker,
        "action": action,
        "fields": fields,
        "values": extra.pop("values", None) or panel_forms.form_values(fields),
        "errors": extra.pop("errors", {}),
        "priority": extra.pop("priority", Priority.NORMAL.value),
        "start_at": extra.pop("start_at", ""),
        "files": uploaded_files(ext, worker.identifier),
        **extra,
    }


def _cards(ext: Any, override: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    counts, last = task_counts(ext)
    cards = []
    for worker in ext.get_workers():
        info = worker_info(ext, worker)
        sections = [
            (override or {}).get((worker.identifier, action)) or run_section(ext, worker, info, action)
            for action in info["actions"]
        ]
        cards.append(
            {
                "worker": worker,
                "icon": icon_name(worker),
                "info": info,
                "counts": counts.get(worker.identifier, {}),
                "total": sum(counts.get(worker.identifier, {}).values()),
                "last_run": last.get(worker.identifier),
                "sections": sections,
            }
        )
    return cards


@panel_bp.get("/workers")
def workers() -> str:
    ext = stask_extension()
    return render_template("stask/workers.html", cards=_cards(ext), statuses=list(Status))


@panel_bp.post("/workers/<identifier>/run/<action>")
@write_required
def run(identifier: str, action: str) -> Response | str | tuple[str, int]:
    """Start a task from a card. htmx gets the section back (with a live bar); plain forms a redirect."""
    ext = stask_extension()
    worker = ext.get_worker(identifier)
    info = worker_info(ext, worker)
    if action not in info["actions"]:
        flash(_("Worker %(worker)s has no action %(action)s.", worker=identifier, action=action), "error")
        return redirect(url_for("stask_panel.workers"), code=303)
    fields = info["fields"][action]
    files = uploaded_files(ext, identifier)
    data, errors = panel_forms.parse_run_form(fields, request.form, files)
    priority, start_at = panel_forms.parse_schedule(request.form, errors)
    task = None
    if not errors:
        try:
            task = ext.create(identifier, action, data, priority=priority, start_at=start_at)
        except StaskError as exc:
            errors["_form"] = str(exc)
    section = run_section(
        ext,
        worker,
        info,
        action,
        values=panel_forms.form_values(fields, request.form) if errors else None,
        errors=errors,
        priority=priority if errors else Priority.NORMAL.value,
        start_at=request.form.get("start_at", "") if errors else "",
        started=task,
    )
    if is_htmx():
        return render_template("stask/fragments/run_form.html", s=section)
    if task is not None:
        flash(_("Task #%(id)d started.", id=task.id), "success")
        return redirect(url_for("stask_panel.task", task_id=task.id), code=303)
    cards = _cards(ext, {(identifier, action): section})
    return render_template("stask/workers.html", cards=cards, statuses=list(Status)), 400


@panel_bp.post("/workers/<identifier>/active")
@write_required
def set_active(identifier: str) -> Response:
    ext = stask_extension()
    if request.form.get("active") == "1":
        ext.activate_worker(identifier)
        flash(_("Worker %(worker)s is active.", worker=identifier), "success")
    else:
        ext.deactivate_worker(identifier)
        flash(_("Worker %(worker)s is inactive: new tasks are refused.", worker=identifier), "info")
    return redirect(url_for("stask_panel.workers") + f"#worker-{identifier}", code=303)


@panel_bp.post("/workers/discover")
@write_required
def discover() -> Response:
    report = stask_extension().discover_workers()
    flash(
        _(
            "Discovery: %(found)d workers found, %(added)d added, %(updated)d updated.",
            found=len(report["workers"]),
            added=len(report["added"]),
            updated=len(report["updated"]),
        ),
        "success",
    )
    for name, reason in (report.get("invalid") or {}).items():
        flash(_("Invalid worker %(name)s: %(reason)s", name=name, reason=reason), "error")
    if report.get("missing"):
        flash(_("Registered but no longer installed: %(names)s", names=", ".join(report["missing"])), "warning")
    return redirect(url_for("stask_panel.workers"), code=303)


@panel_bp.route("/workers/<identifier>/settings", methods=["GET", "POST"])
def worker_settings(identifier: str) -> Response | tuple[str, int]:
    ext = stask_extension()
    worker = ext.get_worker(identifier)
    info = worker_info(ext, worker)
    if request.method == "POST":
        return _save_settings(ext, worker, info)
    values = panel_forms.settings_display(info["defaults"], worker.settings or {})
    return _settings_page(worker, info, values, {}), 200


def _settings_page(worker: Worker, info: dict[str, Any], values: dict[str, Any], errors: dict[str, str]) -> str:
    return render_template(
        "stask/worker_settings.html",
        worker=worker,
        info=info,
        icon=icon_name(worker),
        kinds=panel_forms.settings_fields(info["defaults"]),
        values=values,
        errors=errors,
    )


@write_required
def _save_settings(ext: Any, worker: Worker, info: dict[str, Any]) -> Response | tuple[str, int]:
    defaults = info["defaults"]
    clean, errors = panel_forms.parse_settings_form(defaults, request.form)
    if not errors:
        try:
            ext.update_worker_settings(worker.identifier, clean)
            flash(_("Settings of %(worker)s saved.", worker=worker.identifier), "success")
            return redirect(url_for("stask_panel.worker_settings", identifier=worker.identifier), code=303)
        except StaskError as exc:
            errors["_form"] = str(exc)
    values = {key: request.form.get(key, "") for key in defaults}
    for key, kind in panel_forms.settings_fields(defaults).items():
        if kind == "bool":
            values[key] = key in request.form
    return _settings_page(worker, info, values, errors), 400
