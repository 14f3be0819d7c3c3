"""Workers pages: one card per worker with its run forms, the settings page, discovery."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..enums import Priority, Status
from ..exceptions import StaskError
from ..models import Worker
from ..service import Service, current_stask
from ..service.workers import InvalidSettings
from ..workers.fields import Field, effective
from . import panel_forms, panel_i18n, panel_presets
from .audit_trail import created_details, discovery_details, record, settings_details
from .panel import api_url, panel_bp
from .panel_support import is_htmx, write_required
from .uploads import UploadPolicy

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


def worker_info(service: Service, worker: Worker) -> dict[str, Any]:
    """What a card needs from the worker's class (which may fail to import)."""
    info: dict[str, Any] = {
        "actions": [],
        "fields": {},
        "accepts_upload": False,
        "upload": None,
        "upload_in_form": False,
        "settings": {},
        "error": None,
        "action_labels": {},
    }
    try:
        definition = service.workers.resolve(worker.identifier)
        cls = definition.worker_class() if definition else None
    except Exception as exc:  # a plugin that no longer imports: the card says so, the page still works
        info["error"] = f"{type(exc).__name__}: {exc}"
        return info
    if cls is None:
        info["error"] = _("Worker class not found.")
        return info
    try:
        info["fields"] = {action: panel_i18n.fields(cls, cls.form_fields(action)) for action in cls.actions()}
        info["settings"] = panel_i18n.fields(cls, cls.setting_fields())
    except ValueError as exc:  # a declaration discovery would refuse: said on the card, not a 500
        info["error"] = str(exc)
        return info
    info["actions"] = cls.actions()
    info["action_labels"] = {action: panel_i18n.worker_text(cls, action) for action in info["actions"]}
    info["accepts_upload"] = bool(cls.accepts_upload)
    if cls.accepts_upload and definition is not None:
        info["upload"] = upload_control(worker.identifier, UploadPolicy.from_settings(definition.settings()))
        info["upload_in_form"] = any(
            spec.type == "file" for fields in info["fields"].values() for spec in fields.values()
        )
    return info


def upload_control(identifier: str, policy: UploadPolicy) -> dict[str, Any]:
    """What the panel's upload script needs: where to send, in which pieces, what the server takes."""
    return {
        "url": api_url(f"worker/{identifier}/upload"),
        "chunk": policy.chunk_bytes,
        "max": policy.max_bytes,
        "accept": ",".join(f".{extension}" for extension in policy.extensions),
    }


def run_section(service: Service, worker: Worker, info: dict[str, Any], action: str, **extra: Any) -> dict[str, Any]:
    fields = info["fields"].get(action, {})
    return {
        "worker": worker,
        "action": action,
        "action_label": info["action_labels"].get(action, action),
        "fields": fields,
        "values": extra.pop("values", None) or panel_forms.form_values(fields),
        "errors": extra.pop("errors", {}),
        "priority": extra.pop("priority", Priority.NORMAL.value),
        "start_at": extra.pop("start_at", ""),
        "files": service.workers.uploaded_files(worker.identifier),
        "upload": info.get("upload"),
        **extra,
    }


def _cards(service: Service, override: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    counts, last = service.workers.task_summary()
    schedules = service.schedules.by_worker()  # one statement for every card
    presets = service.presets.by_worker()  # one statement for every card
    cards = []
    for worker in service.workers.registered():
        info = worker_info(service, worker)
        sections = [
            (override or {}).get((worker.identifier, action)) or run_section(service, worker, info, action)
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
                "schedules": schedules.get(worker.identifier, ([], 0)),
                "presets": presets.get(worker.identifier, []),
            }
        )
    return cards


@panel_bp.get("/workers")
def workers() -> str:
    service = current_stask()
    return render_template("stask/workers.html", cards=_cards(service), statuses=list(Status))


@panel_bp.post("/workers/<identifier>/run/<action>")
@write_required
def run(identifier: str, action: str) -> BaseResponse | str | tuple[str, int]:
    """Start a task from a card. htmx gets the section back (with a live bar); plain forms a redirect."""
    service = current_stask()
    worker = service.workers.get(identifier)
    info = worker_info(service, worker)
    if action not in info["actions"]:
        flash(_("Worker %(worker)s has no action %(action)s.", worker=identifier, action=action), "error")
        return redirect(url_for("stask_panel.workers"), code=303)
    fields = info["fields"][action]
    files = service.workers.uploaded_files(identifier)
    data, errors = panel_forms.parse_run_form(fields, request.form, files)
    priority, start_at = panel_forms.parse_schedule(request.form, errors)
    if request.form.get("intent") == "preset":  # the second button: store this run, do not start it
        return _save_run_as_preset(service, worker, info, action, data, priority, errors)
    task = None
    if not errors:
        try:
            task = service.tasks.create(identifier, action, data, priority=priority, start_at=start_at)
            record("task.create", f"task:{task.id}", created_details(task))
        except StaskError as exc:
            errors["_form"] = str(exc)
    section = run_section(
        service,
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
    cards = _cards(service, {(identifier, action): section})
    return render_template("stask/workers.html", cards=cards, statuses=list(Status)), 400


def _save_run_as_preset(
    service: Service,
    worker: Worker,
    info: dict[str, Any],
    action: str,
    data: dict[str, Any],
    priority: str,
    errors: dict[str, str],
) -> BaseResponse | str | tuple[str, int]:
    """The run form's "Save as preset": the same fields, stored as a preset named ``preset_name``."""
    errors.pop("start_at", None)  # a preset has no start time
    name = request.form.get("preset_name", "")
    if not name.strip():
        errors["preset_name"] = _("Give the preset a name.")
    saved = None
    if not errors:
        fields = {"name": name, "identifier": worker.identifier, "action": action, "data": data, "priority": priority}
        saved, refused = panel_presets.save_preset(fields)
        for key, text in refused.items():
            field = key.removeprefix("data.")
            errors["preset_name" if key == "name" else field if field in info["fields"][action] else "_form"] = text
    fields_of_action = info["fields"][action]
    section = run_section(
        service,
        worker,
        info,
        action,
        values=panel_forms.form_values(fields_of_action, request.form),
        errors=errors,
        priority=priority if errors else Priority.NORMAL.value,
        start_at=request.form.get("start_at", ""),
        preset_name=name if errors else "",
        saved=saved,
    )
    if is_htmx():
        return render_template("stask/fragments/run_form.html", s=section)
    if saved is not None:
        flash(_("Preset “%(name)s” saved.", name=saved.name), "success")
        return redirect(url_for("stask_panel.workers") + f"#worker-{worker.identifier}", code=303)
    cards = _cards(service, {(worker.identifier, action): section})
    return render_template("stask/workers.html", cards=cards, statuses=list(Status)), 400


@panel_bp.post("/workers/<identifier>/active")
@write_required
def set_active(identifier: str) -> BaseResponse:
    service = current_stask()
    if request.form.get("active") == "1":
        service.workers.set_active(identifier, True)
        record("worker.activate", f"worker:{identifier}")
        flash(_("Worker %(worker)s is active.", worker=identifier), "success")
    else:
        service.workers.set_active(identifier, False)
        record("worker.deactivate", f"worker:{identifier}")
        flash(_("Worker %(worker)s is inactive: new tasks are refused.", worker=identifier), "info")
    return redirect(url_for("stask_panel.workers") + f"#worker-{identifier}", code=303)


@panel_bp.post("/workers/discover")
@write_required
def discover() -> BaseResponse:
    report = current_stask().workers.discover()
    record("worker.discover", None, discovery_details(report))
    flash(
        _(
            "Discovery: %(found)d workers found, %(added)d added, %(updated)d updated.",
            found=len(report["workers"]),
            added=len(report["added"]),
            updated=len(report["updated"]),
        ),
        "success",
    )
    for item in report.get("invalid") or []:  # a list of {"source", "reason"}, as the API and CLI read it
        flash(_("Invalid worker %(name)s: %(reason)s", name=item["source"], reason=item["reason"]), "error")
    if report.get("missing"):
        flash(_("Registered but no longer installed: %(names)s", names=", ".join(report["missing"])), "warning")
    return redirect(url_for("stask_panel.workers"), code=303)


@panel_bp.route("/workers/<identifier>/settings", methods=["GET", "POST"])
def worker_settings(identifier: str) -> BaseResponse | tuple[str, int]:
    service = current_stask()
    worker = service.workers.get(identifier)
    info = worker_info(service, worker)
    if request.method == "POST":
        return _save_settings(service, worker, info)
    values = panel_forms.settings_values(info["settings"], worker.settings or {})
    return _settings_page(worker, info, values, {}), 200


def _settings_page(worker: Worker, info: dict[str, Any], values: dict[str, Any], errors: dict[str, str]) -> str:
    """The form; a stored value that no longer validates (a plugin upgrade) gets a warning."""
    stored = worker.settings or {}
    declared: dict[str, Field] = info["settings"]
    _values, invalid = effective(declared, stored) if not info["error"] else ({}, {})
    return render_template(
        "stask/worker_settings.html",
        worker=worker,
        title=panel_i18n.worker_text(worker, worker.title or worker.identifier),
        info=info,
        icon=icon_name(worker),
        fields=declared,
        values=values,
        errors=errors,
        stale={
            key: {"message": panel_forms.message(error), "stored": _stale_text(declared.get(key), stored[key])}
            for key, error in invalid.items()
        },
        secrets_set={key for key, spec in declared.items() if spec.secret and stored.get(key) is not None},
        defaults={key: panel_forms.display(spec, spec.default) for key, spec in declared.items()},
    )


def _stale_text(spec: Field | None, value: Any) -> str:
    """A stale stored value as text for the warning (a secret is never shown)."""
    if spec is not None and spec.secret:
        return "••••"
    return json.dumps(value, ensure_ascii=True, default=repr)


@write_required
def _save_settings(service: Service, worker: Worker, info: dict[str, Any]) -> BaseResponse | tuple[str, int]:
    declared: dict[str, Field] = info["settings"]
    clean, errors = panel_forms.parse_settings_form(declared, request.form)
    if not errors:
        try:
            before = dict(worker.settings or {})
            row = service.workers.update_settings(worker.identifier, clean)
            record(
                "worker.settings",
                f"worker:{worker.identifier}",
                settings_details(worker.identifier, before, row.settings),
            )
            flash(_("Settings of %(worker)s saved.", worker=worker.identifier), "success")
            return redirect(url_for("stask_panel.worker_settings", identifier=worker.identifier), code=303)
        except InvalidSettings as exc:
            errors.update({key: panel_forms.message(error) for key, error in exc.errors.items()})
        except StaskError as exc:
            errors["_form"] = str(exc)
    values = panel_forms.form_values(declared, request.form)
    return _settings_page(worker, info, values, errors), 400
