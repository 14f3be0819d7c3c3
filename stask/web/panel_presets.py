"""Presets pages: the list (run, edit, delete), "Save as preset" from a task, and the edit form.

Running and saving from a worker card go through :mod:`stask.web.panel_workers` (the run
form's second button) and :func:`run_preset` here. Every write needs the admin role; the
read-only role sees the list without controls.
"""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse

from ..enums import Priority
from ..exceptions import InvalidField, StaskError
from ..models import Preset, Task
from ..service import current_stask
from ..service.presets import PresetInUse, PresetNameTaken
from .audit_trail import created_details, record
from .panel import panel_bp
from .panel_support import write_required

#: Presets on the list page (the API pages through more).
LIST_LIMIT = 200


def preset_details(preset: Preset) -> dict[str, Any]:
    """An audit row's details: names, never the data (it may be private)."""
    return {"name": preset.name, "identifier": preset.identifier, "action": preset.action}


def field_errors(exc: StaskError) -> dict[str, str]:
    """A service refusal as form errors under the field it names (``name``, ``data.rows``, ...), else ``_form``."""
    if isinstance(exc, PresetNameTaken):
        return {"name": _("Another preset of this worker has this name.")}
    name = getattr(exc, "field", None) if isinstance(exc, InvalidField) else None
    return {str(name) if name else "_form": str(exc)}


def form_errors(errors: dict[str, str]) -> dict[str, str]:
    """Errors as the preset form shows them: ``data.rows`` under data, unknown names on the form."""
    shown: dict[str, str] = {}
    for key, text in errors.items():
        key = "data" if key.startswith("data.") else key
        shown[key if key in ("name", "identifier", "action", "data", "priority") else "_form"] = text
    return shown


def save_preset(fields: dict[str, Any]) -> tuple[Preset | None, dict[str, str]]:
    """Store a preset from a panel form: (the preset, {}) or (None, errors by field)."""
    try:
        preset = current_stask().presets.create(fields, created_by="panel")
    except StaskError as exc:
        return None, field_errors(exc)
    record("preset.create", f"preset:{preset.id}", preset_details(preset))
    return preset, {}


def started_message(task: Task, preset: Preset) -> Markup:
    """ "Task #N started from preset …" with a link to the task (the name escaped)."""
    link = Markup('<a href="{}">#{}</a>').format(url_for("stask_panel.task", task_id=task.id), task.id)
    return Markup(_("Task %(link)s started from preset “%(name)s”.", link=link, name=escape(preset.name)))


def _form_page(template_values: dict[str, Any], errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    return render_template("stask/preset_form.html", f=template_values, errors=form_errors(errors)), status


def _values(preset: Preset | Task | None = None, name: str = "") -> dict[str, Any]:
    """What the preset form shows, from a preset or a task (its data as pretty JSON)."""
    if preset is None:
        return {"name": name, "identifier": "", "action": "", "data": "{}", "priority": Priority.NORMAL.value}
    return {
        "name": getattr(preset, "name", name) if isinstance(preset, Preset) else name,
        "identifier": preset.identifier,
        "action": preset.action,
        "data": json.dumps(preset.data or {}, indent=2, ensure_ascii=False),
        "priority": preset.priority,
    }


def _parsed_form() -> tuple[dict[str, Any], dict[str, str]]:
    """The preset form's fields; a data text that is no JSON object is an error under data."""
    form = request.form
    fields: dict[str, Any] = {
        "name": form.get("name", ""),
        "identifier": form.get("identifier", "").strip(),
        "action": form.get("action", "").strip(),
        "priority": form.get("priority", Priority.NORMAL.value),
    }
    errors: dict[str, str] = {}
    raw = form.get("data", "").strip() or "{}"
    try:
        fields["data"] = json.loads(raw)
        if not isinstance(fields["data"], dict):
            raise ValueError
    except ValueError:
        errors["data"] = _('Enter a JSON object, such as {"rows": 10}.')
    return fields, errors


@panel_bp.get("/presets")
def presets() -> str:
    page = current_stask().presets.page(None, 1, LIST_LIMIT)
    return render_template("stask/presets.html", page=page)


@panel_bp.route("/presets/new", methods=["GET", "POST"])
def new_preset() -> BaseResponse | tuple[str, int]:
    """GET: the form, prefilled from ``?task=<id>``. POST: store it (``task_id`` takes that task's run)."""
    service = current_stask()
    if request.method == "GET":
        task_id = request.args.get("task", "")
        task = service.tasks.get(task_id) if task_id else None
        return _form_page({**_values(task), "task_id": task.id if task else None}, {})
    return _create_from_form()


@write_required
def _create_from_form() -> BaseResponse | tuple[str, int]:
    service = current_stask()
    task_id = request.form.get("task_id", "")
    if task_id and "identifier" not in request.form:  # the task page's short form: the task says the rest
        task = service.tasks.get(task_id)
        fields: dict[str, Any] = {
            "name": request.form.get("name", ""),
            "identifier": task.identifier,
            "action": task.action,
            "data": task.data or {},
            "priority": task.priority,
        }
        errors: dict[str, str] = {}
        shown = {**_values(task, fields["name"]), "task_id": task.id}
    else:
        fields, errors = _parsed_form()
        shown = {**{k: request.form.get(k, "") for k in ("name", "identifier", "action", "data", "priority")}}
    preset = None
    if not errors:
        preset, errors = save_preset(fields)
    if preset is None:
        return _form_page(shown, errors, 400)
    flash(_("Preset “%(name)s” saved.", name=preset.name), "success")
    return redirect(url_for("stask_panel.presets") + f"#preset-{preset.id}", code=303)


@panel_bp.route("/presets/<int:preset_id>/edit", methods=["GET", "POST"])
def edit_preset(preset_id: int) -> BaseResponse | tuple[str, int]:
    preset = current_stask().presets.get(preset_id)
    if request.method == "GET":
        return _form_page({**_values(preset), "id": preset.id}, {})
    return _update_from_form(preset)


@write_required
def _update_from_form(preset: Preset) -> BaseResponse | tuple[str, int]:
    fields, errors = _parsed_form()
    if not errors:
        try:
            current_stask().presets.update(preset.id, fields)
        except StaskError as exc:
            current_stask().db.session.rollback()
            errors = field_errors(exc)
    if errors:
        shown = {k: request.form.get(k, "") for k in ("name", "identifier", "action", "data", "priority")}
        return _form_page({**shown, "id": preset.id}, errors, 400)
    record("preset.update", f"preset:{preset.id}", {**preset_details(preset), "fields": sorted(fields)})
    flash(_("Preset “%(name)s” saved.", name=preset.name), "success")
    return redirect(url_for("stask_panel.presets") + f"#preset-{preset.id}", code=303)


@panel_bp.post("/presets/<int:preset_id>/delete")
@write_required
def delete_preset(preset_id: int) -> BaseResponse:
    service = current_stask()
    preset = service.presets.get(preset_id)
    name = preset.name
    try:
        service.presets.delete(preset_id)
    except PresetInUse as exc:  # schedules run it: say which, keep it
        flash(str(exc), "error")
        return redirect(url_for("stask_panel.presets"), code=303)
    record("preset.delete", f"preset:{preset_id}")
    flash(_("Preset “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("stask_panel.presets"), code=303)


@panel_bp.post("/presets/<int:preset_id>/run")
@write_required
def run_preset(preset_id: int) -> BaseResponse:
    """One click: a task with the preset's data; back to where the button was, with a link to it."""
    service = current_stask()
    preset = service.presets.get(preset_id)
    back = url_for("stask_panel.workers") + f"#worker-{preset.identifier}"
    if request.form.get("back") != "workers":
        back = url_for("stask_panel.presets") + f"#preset-{preset.id}"
    try:
        task = service.presets.run(preset_id)
    except StaskError as exc:
        flash(_("Preset “%(name)s” could not run: %(reason)s", name=preset.name, reason=str(exc)), "error")
        return redirect(back, code=303)
    record("preset.run", f"preset:{preset_id}", {"task": task.id, "overrides": []})
    record("task.create", f"task:{task.id}", created_details(task))
    flash(started_message(task, preset), "success")
    return redirect(back, code=303)
