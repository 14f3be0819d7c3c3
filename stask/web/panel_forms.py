"""Turn the panel's HTML forms into checked values, collecting one message per bad field.

Both forms use the worker's typed fields (:mod:`stask.workers.fields`): the run form its
``action_fields``, the settings form its ``settings_fields`` (or ``default_settings``). The
fields check; this module reads form text and words each :class:`FieldError` in the user's language.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..enums import Priority
from ..exceptions import StaskError
from ..validation import parse_datetime
from ..workers.fields import Field, FieldError, as_field

#: Suffix of the checkbox that clears a secret setting (``<name>__clear``).
CLEAR_SUFFIX = "__clear"


def choice_options(spec: Field | Mapping[str, Any]) -> list[tuple[str, str]]:
    """``choices`` as (value, label) pairs; a plain list uses each value as its label."""
    return list(as_field(spec).choices)


def message(error: FieldError) -> str:
    """A field error in the user's language."""
    p = error.params
    match error.code:
        case "required":
            return _("This field is required.")
        case "integer":
            return _("Enter a whole number.")
        case "number":
            return _("Enter a finite number.")
        case "bool":
            return _("Enter a valid value.")
        case "string":
            return _("Enter text.")
        case "min":
            return _("Must be at least %(min)s.", min=p["min"])
        case "max":
            return _("Must be at most %(max)s.", max=p["max"])
        case "min_length":
            return _("Too short: at least %(min)s characters.", min=p["min_length"])
        case "max_length":
            return _("Too long: at most %(max)s characters.", max=p["max_length"])
        case "control":
            return _("Control characters are not allowed.")
        case "surrogate":
            return _("This text is not valid Unicode.")
        case "pattern":
            return _("Enter a value of the expected form.")
        case "choice":
            return _("Choose one of: %(choices)s.", choices=p["choices"])
        case "file":
            return _("Choose a file you uploaded for this worker.")
        case "json":
            return _("Enter valid JSON.")
        case "json_kind":
            return _("Enter a value of the same kind as the default.")
        case "unknown":
            return _("This worker no longer has this setting.")
    return _("Enter a valid value.")


def form_values(fields: Mapping[str, Field], form: MultiDict[str, str] | None = None) -> dict[str, Any]:
    """What each input shows: the submitted text, else the field's default (never a secret)."""
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if spec.secret:
            values[name] = ""
        elif form is not None and spec.type == "bool":
            values[name] = name in form
        elif form is not None and name in form:
            values[name] = form.get(name, "")
        else:
            values[name] = display(spec, spec.default)
    return values


def display(spec: Field, value: Any) -> Any:
    """A value as an input shows it: JSON as text, ``None`` as empty, text made printable."""
    if spec.type == "bool":
        return bool(value)
    if value is None:
        return ""
    if spec.type == "json" or not isinstance(value, (str, int, float)):
        return json.dumps(value, ensure_ascii=False, default=repr)
    return printable(str(value))


def printable(text: str) -> str:
    """``text`` with lone surrogates and control characters (but tab and newlines) replaced by U+FFFD,
    so a stale value can be shown on a page (it could not be encoded otherwise)."""
    return "".join(
        "\ufffd" if "\ud800" <= c <= "\udfff" or (unicodedata.category(c) == "Cc" and c not in "\t\n\r") else c
        for c in text
    )


def parse_run_form(
    fields: Mapping[str, Field], form: MultiDict[str, str], files: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``(data, errors)`` for a run form; ``errors`` maps field (or ``priority``/``start_at``) to a message."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in fields.items():
        if spec.type == "bool":
            data[name] = name in form
            continue
        raw = form.get(name, "")
        raw = raw if spec.type == "text" else raw.strip()
        if raw == "":
            if spec.required:
                errors[name] = _("This field is required.")
            elif spec.default is not None and spec.type != "file":
                data[name] = spec.default
            continue
        try:
            data[name] = spec.parse(raw, files)
        except FieldError as exc:
            errors[name] = message(exc)
    return data, errors


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


def settings_values(fields: Mapping[str, Field], stored: Mapping[str, Any]) -> dict[str, Any]:
    """What the settings form shows: each stored value (stale ones too, made printable) or the
    default; secret inputs stay empty."""
    return {
        name: "" if spec.secret else display(spec, stored[name] if stored.get(name) is not None else spec.default)
        for name, spec in fields.items()
    }


def parse_settings_form(
    fields: Mapping[str, Field], form: MultiDict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``(values, errors)``: every setting checked by its field, or a message for it.

    A secret left empty keeps its stored value (it is left out of ``values``); its
    ``<name>__clear`` checkbox sends ``None``, which removes the stored value.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in fields.items():
        if spec.type == "bool":
            values[name] = name in form
            continue
        raw = form.get(name, "")
        if spec.secret:
            if form.get(name + CLEAR_SUFFIX):
                values[name] = None
                continue
            if raw == "":
                continue
        if spec.type in ("int", "float") and raw.strip() == "":
            errors[name] = _("This field is required.")
            continue
        try:
            values[name] = spec.parse(raw)
        except FieldError as exc:
            errors[name] = message(exc)
    return values, errors
