"""Turn the panel's HTML forms into checked values, collecting one message per bad field.

The run form is built from a worker's ``action_fields``; the settings form from its
``default_settings`` (each setting keeps the type of its default).
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..enums import Priority
from ..exceptions import StaskError
from ..service.workers import coerce_setting
from ..validation import parse_datetime

FIELD_TYPES = ("str", "text", "int", "float", "bool", "choice", "file")


def choice_options(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """``choices`` as (value, label) pairs; a plain list uses each value as its label."""
    out = []
    for item in spec.get("choices") or []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
        else:
            out.append((str(item), str(item)))
    return out


def field_type(spec: dict[str, Any]) -> str:
    kind = str(spec.get("type", "str"))
    return kind if kind in FIELD_TYPES else "str"


def form_values(fields: dict[str, dict[str, Any]], form: MultiDict[str, str] | None = None) -> dict[str, Any]:
    """What each input shows: the submitted text, else the field's default."""
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if form is not None and field_type(spec) == "bool":
            values[name] = name in form
        elif form is not None and name in form:
            values[name] = form.get(name, "")
        else:
            values[name] = spec.get("default", "")
    return values


def parse_run_form(
    fields: dict[str, dict[str, Any]], form: MultiDict[str, str], files: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``(data, errors)`` for a run form; ``errors`` maps field (or ``priority``/``start_at``) to a message."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in fields.items():
        kind = field_type(spec)
        raw = form.get(name, "")
        if kind == "bool":
            data[name] = name in form
            continue
        raw = raw.strip() if kind != "text" else raw
        if raw == "":
            if spec.get("required"):
                errors[name] = _("This field is required.")
            elif "default" in spec and kind != "file":
                data[name] = spec["default"]
            continue
        try:
            data[name] = _convert(kind, raw, spec, files)
        except ValueError as exc:
            errors[name] = str(exc)
    return data, errors


def _convert(kind: str, raw: str, spec: dict[str, Any], files: list[str]) -> Any:
    if kind == "int":
        try:
            value: Any = int(raw)
        except ValueError:
            raise ValueError(_("Enter a whole number.")) from None
    elif kind == "float":
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(_("Enter a number.")) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(_("Enter a finite number."))
    elif kind == "choice":
        allowed = [v for v, _label in choice_options(spec)]
        if raw not in allowed:
            raise ValueError(_("Choose one of: %(choices)s.", choices=", ".join(allowed)))
        value = raw
    elif kind == "file":
        if raw not in files:
            raise ValueError(_("Choose a file you uploaded for this worker."))
        value = raw
    else:
        if len(raw) > 10_000:
            raise ValueError(_("Too long: at most 10000 characters."))
        value = raw
    if kind in ("int", "float"):
        low, high = spec.get("min"), spec.get("max")
        if low is not None and value < low:
            raise ValueError(_("Must be at least %(min)s.", min=low))
        if high is not None and value > high:
            raise ValueError(_("Must be at most %(max)s.", max=high))
    return value


def parse_schedule(form: MultiDict[str, str], errors: dict[str, str]) -> tuple[str, Any]:
    """Priority and start time (a ``datetime-local`` value, read as UTC)."""
    priority = form.get("priority", "normal")
    try:
        priority = Priority.parse(priority).value
    except StaskError:
        errors["priority"] = _("Choose high, normal or low.")
    start_at = None
    raw = form.get("start_at", "").strip()
    if raw:
        try:
            start_at = parse_datetime(raw)
        except StaskError:
            errors["start_at"] = _("Enter a date and time such as 2026-01-31 12:00.")
    return priority, start_at


def settings_fields(defaults: dict[str, Any]) -> dict[str, str]:
    """Input kind per setting, from the type of its default."""
    kinds = {}
    for key, default in defaults.items():
        if isinstance(default, bool):
            kinds[key] = "bool"
        elif isinstance(default, int):
            kinds[key] = "int"
        elif isinstance(default, float):
            kinds[key] = "float"
        elif isinstance(default, (list, dict)):
            kinds[key] = "json"
        else:
            kinds[key] = "str"
    return kinds


def settings_display(defaults: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Values the settings form shows: stored ones over defaults, lists/dicts as JSON text."""
    out = {}
    for key, default in defaults.items():
        value = current.get(key, default)
        out[key] = json.dumps(value, ensure_ascii=False) if isinstance(default, (list, dict)) else value
    return out


def parse_settings_form(defaults: dict[str, Any], form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(values, errors)``: every setting converted to its default's type, or a message."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, kind in settings_fields(defaults).items():
        raw: Any = key in form if kind == "bool" else form.get(key, "")
        if kind == "json":
            try:
                raw = json.loads(raw or "null")
            except ValueError:
                errors[key] = _("Enter valid JSON.")
                continue
        elif kind in ("int", "float") and str(raw).strip() == "":
            errors[key] = _("This field is required.")
            continue
        try:
            values[key] = coerce_setting(key, raw, defaults[key])
        except StaskError:
            errors[key] = {
                "int": _("Enter a whole number."),
                "float": _("Enter a number."),
                "json": _("Enter a value of the same kind as the default."),
            }.get(kind, _("Enter a valid value."))
    return values, errors
