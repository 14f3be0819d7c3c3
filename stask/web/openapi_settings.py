"""Each registered worker's settings in the OpenAPI document.

:func:`add_worker_settings` adds a component ``WorkerSettings_<identifier>`` (one JSON Schema
property per setting, ``additionalProperties: false``) and a concrete path
``/api/workers/<identifier>/settings`` next to the templated one, so a client (and
schemathesis) sees every worker's rules: types, bounds, lengths, choices, and the characters
strings refuse. Lone surrogates are refused too, which a JSON Schema pattern cannot say
portably: the descriptions say it.
"""

from __future__ import annotations

import copy
import unicodedata
from typing import Any

from ..exceptions import StaskError
from ..service import Service
from ..workers.fields import Field
from .openapi_parts import char_class, json_body, ref

#: Documented for every string setting; ECMA-262 patterns cannot express it without the ``u`` flag.
STRING_NOTE = "No control characters and no lone surrogates."
_CONTROLS = [chr(c) for c in range(0x110000) if c < 0xA0 and unicodedata.category(chr(c)) == "Cc"]


def field_schema(spec: Field) -> dict[str, Any]:
    """The JSON Schema of one setting's value; ``null`` removes the stored value (the default applies)."""
    schema: dict[str, Any]
    low, high = spec.bounds
    if spec.type == "int":
        schema = {"type": "integer", "format": "int64", "minimum": low, "maximum": high}
    elif spec.type == "float":
        schema = {"type": "number"}
        if low is not None:
            schema["minimum"] = low
        if high is not None:
            schema["maximum"] = high
    elif spec.type == "bool":
        schema = {"type": "boolean"}
    elif spec.type == "choice":  # OpenAPI 3.0: an enum must list null itself for "nullable" to allow it
        schema = {"type": "string", "enum": [*spec.choice_values, None]}
    elif spec.type == "json":
        schema = {"type": "array"} if isinstance(spec.default, list) else {}
        if isinstance(spec.default, dict):
            schema = {"type": "object"}
    else:  # str, text (a setting is never a file)
        refused = [c for c in _CONTROLS if c not in spec.controls]
        schema = {"type": "string", "maxLength": spec.length_limit}
        if spec.min_length:
            schema["minLength"] = spec.min_length
        conditions: list[dict[str, Any]] = [{"not": {"pattern": char_class(refused)}}]
        if spec.required:
            conditions.append({"pattern": "\\S"})
        if spec.pattern is not None:
            conditions.append({"pattern": f"^(?:{spec.pattern})$"})
        schema["allOf"] = conditions
    described = " ".join(part for part in (spec.label, spec.help) if part)
    if spec.type in ("str", "text"):
        described = f"{described} {STRING_NOTE}".strip()
    if spec.secret:
        described = f"{described} Secret: never returned (shown as null).".strip()
    if described:
        schema["description"] = described
    if spec.default is not None and not spec.secret:
        schema["default"] = spec.default
    schema["nullable"] = True
    return schema


def settings_schema(fields: dict[str, Field]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: field_schema(spec) for name, spec in fields.items()},
    }


#: Members of the settings answer beyond ``settings``/``stored``/``defaults``.
VIEW_PROPERTIES: dict[str, Any] = {
    "invalid": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "Stored values that no longer validate (a plugin upgrade), with the reason; "
        "tasks receive the default instead",
    },
    "secrets_set": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Secret settings that have a stored value (their values are always null here)",
    },
    "fields": {
        "type": "object",
        "description": "Each setting's type, label, help and constraints",
        "additionalProperties": {
            "type": "object",
            "required": ["type", "label", "help", "required", "secret"],
            "properties": {
                "type": {"type": "string"},
                "label": {"type": "string"},
                "help": {"type": "string"},
                "required": {"type": "boolean"},
                "secret": {"type": "boolean"},
            },
        },
    },
}


def add_worker_settings(document: dict[str, Any], service: Service, prefix: str) -> None:
    """Add each registered worker's settings schema and concrete path to ``document`` (in place)."""
    prefix = prefix.rstrip("/")
    schemas = document["components"]["schemas"]
    view = schemas.get("Settings")
    if view is not None:
        view.setdefault("properties", {}).update(copy.deepcopy(VIEW_PROPERTIES))
    templated = document["paths"].get(f"{prefix}/api/workers/{{identifier}}/settings")
    if templated is None:
        return
    templated["put"]["description"] = (
        "A JSON object of setting -> value, checked by the worker's typed fields (each worker's "
        "schema: the component WorkerSettings_<identifier> and the path of that worker). Omitted "
        "settings are kept; null removes a stored value (the default applies again). A bad value is "
        "a 400 naming the setting, and then nothing is stored."
    )
    for row in service.workers.registered():
        try:
            fields = service.workers.setting_fields(row)
        except (StaskError, ValueError):  # a worker whose class no longer imports: only the templated path
            continue
        name = f"WorkerSettings_{row.identifier}"
        schemas[name] = settings_schema(fields)
        item = copy.deepcopy(templated)
        for method, operation in item.items():
            operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "identifier"]
            operation["summary"] = f"{operation['summary']} ({row.identifier})"
            operation["operationId"] = f"{method}_settings_of_{row.identifier}"
        item["put"]["requestBody"] = json_body(ref(name))
        document["paths"][f"{prefix}/api/workers/{row.identifier}/settings"] = item
