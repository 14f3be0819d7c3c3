"""The Triggers pages: the list (target, enabled switch, last call, call count), the form that
creates one, a trigger's page (its settings and its last calls), rotate and revoke.

A token (and a signing secret) is shown on the page answering the POST that made it, and
never again: it is not flashed (the session may be a cookie), not stored, not in any GET.
Every write needs the admin role and the CSRF token; the read-only role sees the pages
without controls. Reads and writes go through ``service.triggers``.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..exceptions import InvalidField, StaskError
from ..models import Trigger
from ..service import Service, current_stask
from ..service.triggers import Issued, TriggerNameTaken
from ..validation import parse_digits
from .audit_trail import record
from .hooks import hook_url
from .panel import panel_bp
from .panel_support import is_htmx, write_required

PER_PAGE = 50
#: Presets offered as targets on the form (the API takes any).
PRESET_CHOICES = 200
#: The form's inputs.
FORM_FIELDS = ("name", "target", "rate_limit", "signed")


def trigger_details(trigger: Trigger) -> dict[str, Any]:
    """An audit row's details: names, never the token or the secret."""
    return {"name": trigger.name, "identifier": trigger.identifier, "action": trigger.action}


def _targets(service: Service) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The form's choices: (value, label) of each worker action, and of each preset."""
    actions = []
    for worker in service.workers.registered():
        for action in service.workers.describe(worker)["actions"]:
            actions.append((f"action:{worker.identifier}:{action}", f"{worker.identifier}.{action}"))
    presets = [
        (f"preset:{preset.id}", f"{preset.name} ({preset.identifier}.{preset.action})")
        for preset in service.presets.page(None, 1, PRESET_CHOICES).items
    ]
    return actions, presets


def _target_fields(value: str) -> dict[str, Any]:
    """``action:<identifier>:<action>`` or ``preset:<id>`` as the service's fields."""
    kind, _sep, rest = value.partition(":")
    if kind == "preset":
        number = parse_digits(rest)
        if number is not None:
            return {"preset_id": number}
    elif kind == "action":
        identifier, _sep, action = rest.partition(":")
        if identifier and action:
            return {"identifier": identifier, "action": action, "preset_id": None}
    raise InvalidField("target", _("Choose a worker action or a preset."))


def _form_fields() -> dict[str, Any]:
    """The form's values as the service takes them; a bad one raises InvalidField naming it."""
    form = request.form
    fields: dict[str, Any] = {"name": form.get("name", ""), "signed": form.get("signed") == "1"}
    fields.update(_target_fields(form.get("target", "")))
    rate_limit = parse_digits(form.get("rate_limit", "").strip())
    if rate_limit is None:
        raise InvalidField("rate_limit", _("Enter a whole number of calls per minute."))
    return {**fields, "rate_limit": rate_limit}


def _field_errors(exc: StaskError) -> dict[str, str]:
    """A refusal as form errors under the input it names, else ``_form``."""
    if isinstance(exc, TriggerNameTaken):
        return {"name": _("Another trigger has this name.")}
    name = getattr(exc, "field", None) if isinstance(exc, InvalidField) else None
    if name in ("identifier", "action", "preset_id"):
        name = "target"
    return {str(name) if name in FORM_FIELDS else "_form": str(exc)}


def _form_page(values: dict[str, Any], errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    actions, presets = _targets(current_stask())
    context = {"f": values, "errors": errors, "actions": actions, "presets": presets}
    return render_template("stask/trigger_form.html", **context), status


def _issued_page(issued: Issued, status: int = 200) -> tuple[str, int]:
    """The one page that shows a token (its URL) and a secret: the answer to the POST that made them."""
    url = hook_url(issued.token) if issued.token else None
    return render_template("stask/trigger_issued.html", t=issued.trigger, url=url, secret=issued.secret), status


# -- the list -------------------------------------------------------------------------------
@panel_bp.get("/triggers")
def triggers() -> str:
    number = parse_digits(request.args.get("page", "1")) or 1
    page = current_stask().triggers.page(None, min(max(number, 1), 1_000_000), PER_PAGE)
    return render_template("stask/triggers.html", page=page, pages=max(1, -(-page.total // PER_PAGE)))


@panel_bp.post("/triggers/<int:trigger_id>/enabled")
@write_required
def trigger_enabled(trigger_id: int) -> BaseResponse | str:
    """The switch: htmx gets the row back, a plain form a redirect."""
    enabled = request.form.get("enabled") == "1"
    trigger = current_stask().triggers.set_enabled(trigger_id, enabled)
    record("trigger.update", f"trigger:{trigger.id}", {**trigger_details(trigger), "fields": ["enabled"]})
    if is_htmx():
        return render_template("stask/fragments/trigger_row.html", t=trigger)
    if enabled:
        flash(_("Trigger “%(name)s” enabled.", name=trigger.name), "success")
    else:
        flash(_("Trigger “%(name)s” disabled: its URL answers 404.", name=trigger.name), "info")
    return redirect(url_for("stask_panel.triggers") + f"#trigger-{trigger.id}", code=303)


# -- creating -------------------------------------------------------------------------------
@panel_bp.route("/triggers/new", methods=["GET", "POST"])
def trigger_new() -> BaseResponse | tuple[str, int]:
    if request.method == "GET":
        rate_limit = current_stask().settings.trigger_rate_limit
        return _form_page({"name": "", "target": request.args.get("target", ""), "rate_limit": rate_limit}, {})
    return _create_from_form()


@write_required
def _create_from_form() -> BaseResponse | tuple[str, int]:
    service = current_stask()
    shown = {key: request.form.get(key, "") for key in FORM_FIELDS}
    try:
        issued = service.triggers.create(_form_fields(), created_by="panel")
    except StaskError as exc:
        service.db.session.rollback()
        return _form_page(shown, _field_errors(exc), 400)
    record("trigger.create", f"trigger:{issued.trigger.id}", trigger_details(issued.trigger))
    return _issued_page(issued, 201)


# -- one trigger ----------------------------------------------------------------------------
@panel_bp.route("/triggers/<int:trigger_id>", methods=["GET", "POST"])
def trigger_page(trigger_id: int) -> BaseResponse | tuple[str, int]:
    """Its settings (a form for the admin role) and its last calls; POST saves the form."""
    if request.method == "POST":
        return _update_from_form(trigger_id)
    return _trigger_page(current_stask().triggers.get(trigger_id), {})


def _trigger_page(trigger: Trigger, errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    service = current_stask()
    calls = service.triggers.calls(trigger.id)
    target = f"preset:{trigger.preset_id}" if trigger.preset_id else f"action:{trigger.identifier}:{trigger.action}"
    values = {"name": trigger.name, "target": target, "rate_limit": trigger.rate_limit, "signed": trigger.signed}
    if errors:
        values = {key: request.form.get(key, "") for key in FORM_FIELDS}
    actions, presets = _targets(service)
    context = {"t": trigger, "calls": calls, "f": values, "errors": errors, "actions": actions, "presets": presets}
    return render_template("stask/trigger.html", **context), status


@write_required
def _update_from_form(trigger_id: int) -> BaseResponse | tuple[str, int]:
    service = current_stask()
    trigger = service.triggers.get(trigger_id)
    try:
        fields = _form_fields()
        issued = service.triggers.update(trigger_id, fields)
    except StaskError as exc:
        service.db.session.rollback()
        return _trigger_page(service.triggers.get(trigger_id), _field_errors(exc), 400)
    record("trigger.update", f"trigger:{trigger.id}", {**trigger_details(issued.trigger), "fields": sorted(fields)})
    if issued.secret:  # signed was turned on: its secret, shown this once
        return _issued_page(issued)
    flash(_("Trigger “%(name)s” saved.", name=issued.trigger.name), "success")
    return redirect(url_for("stask_panel.trigger_page", trigger_id=trigger_id), code=303)


@panel_bp.post("/triggers/<int:trigger_id>/rotate")
@write_required
def trigger_rotate(trigger_id: int) -> BaseResponse | tuple[str, int]:
    """A new token (the old URL answers 404 at once); ``secret=1`` replaces the signing secret too."""
    secret = request.form.get("secret") == "1"
    issued = current_stask().triggers.rotate(trigger_id, secret=secret)
    record("trigger.rotate", f"trigger:{trigger_id}", {**trigger_details(issued.trigger), "secret": secret})
    return _issued_page(issued)


@panel_bp.post("/triggers/<int:trigger_id>/delete")
@write_required
def trigger_delete(trigger_id: int) -> BaseResponse:
    """Revoke: the trigger and its call log go, its URL answers 404 at once (its tasks stay)."""
    service = current_stask()
    trigger = service.triggers.get(trigger_id)
    details = trigger_details(trigger)
    service.triggers.delete(trigger_id)
    record("trigger.delete", f"trigger:{trigger_id}", details)
    flash(_("Trigger “%(name)s” revoked: its URL answers 404.", name=details["name"]), "success")
    return redirect(url_for("stask_panel.triggers"), code=303)
