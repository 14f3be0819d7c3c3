"""Typed fields: one declaration for a worker's settings and for its actions' run forms.

A :class:`Field` says what a value may be (type, bounds, length, choices); the same object
checks a JSON value (:meth:`Field.validate`, the API and the service) and a form's text
(:meth:`Field.parse`, the panel). Errors are :class:`FieldError` with a ``code`` and parameters,
so the service words them in English naming the field and the panel translates them.

Rules that hold for every field, declared or not:

* ``int``: a JSON integer (never a bool or a float), always bounded: declared ``min``/``max``,
  else ±(2**53 - 1), the integers every JSON reader keeps exact.
* ``float``: a finite number. ``str``/``text``: no lone surrogates (no valid UTF-8, databases
  and pages refuse them) and no control characters (``text`` keeps tab, CR and LF; a field may
  allow others with ``allowed_controls``), at most ``max_length`` characters (10,000 unless declared).
* ``choice``: one of ``choices`` (compared as strings). ``json``: any JSON value under 1 MB; a
  field derived from a list or dict default keeps that kind.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..exceptions import InvalidInput
from ..validation import parse_data

FIELD_TYPES = ("str", "text", "int", "float", "bool", "choice", "file", "json")
#: Bounds of an ``int`` field that declares none: the integers every JSON reader keeps exact.
INT_LIMIT = 2**53 - 1
#: Longest ``str``/``text`` value unless a field declares ``max_length``.
MAX_LENGTH = 10_000
#: Control characters a ``text`` field keeps (a textarea submits CR LF line ends).
TEXT_CONTROLS = "\t\n\r"
_DIGITS = re.compile(r"[+-]?[0-9]+")


class FieldError(ValueError):
    """A value a field refuses: ``code`` names the rule, ``params`` fill the message."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(english(code, params))


#: English wording of each rule (the service's messages); the panel has its own translated set.
MESSAGES = {
    "required": "is required",
    "integer": "must be a whole number",
    "number": "must be a finite number",
    "bool": "must be true or false",
    "string": "must be a string",
    "min": "must be at least {min}",
    "max": "must be at most {max}",
    "min_length": "must be at least {min_length} character(s) long",
    "max_length": "must be at most {max_length} character(s) long",
    "control": "must not contain control characters",
    "surrogate": "must not contain lone surrogates (invalid Unicode)",
    "pattern": "does not have the expected form",
    "choice": "must be one of: {choices}",
    "file": "must name a file uploaded for this worker",
    "json": "must be valid JSON",
    "json_kind": "must be a JSON {kind}",
    "unknown": "is not a setting of this worker",
}


def english(code: str, params: Mapping[str, Any]) -> str:
    return MESSAGES.get(code, "is not valid").format(**params)


@dataclass(frozen=True)
class Field:
    """One typed value: a setting or a run-form input (see the module docstring for the rules)."""

    type: str = "str"
    default: Any = None
    min: int | float | None = None
    max: int | float | None = None
    #: Allowed values of a ``choice`` field: values, or ``(value, label)`` pairs.
    choices: tuple[tuple[str, str], ...] = ()
    required: bool = False
    label: str = ""
    help: str = ""
    #: Never shown back by the API or the panel once stored (passwords, tokens).
    secret: bool = False
    min_length: int = 0
    max_length: int | None = None
    #: A regular expression a ``str``/``text`` value must match in full (published in OpenAPI).
    pattern: str | None = None
    #: Control characters this ``str``/``text`` field accepts (``text`` defaults to tab, CR, LF).
    allowed_controls: str | None = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"type must be one of {', '.join(FIELD_TYPES)}, not {self.type!r}")
        pairs = []
        for item in self.choices or ():
            if isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((str(item[0]), str(item[1])))
            else:
                pairs.append((str(item), str(item)))
        object.__setattr__(self, "choices", tuple(pairs))
        if self.type == "choice" and not pairs:
            raise ValueError("a choice field needs choices")
        for name in ("min", "max"):
            bound = getattr(self, name)
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound)
            ):
                raise ValueError(f"{name} must be a finite number")
            if bound is not None and self.type == "int" and not isinstance(bound, int):
                raise ValueError(f"{name} of an int field must be an integer")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is larger than max")
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 1):
            raise ValueError("max_length must be a positive integer")
        if self.pattern is not None:
            re.compile(self.pattern)

    # -- what the constraints are -----------------------------------------------------------
    @property
    def bounds(self) -> tuple[int | float | None, int | float | None]:
        """``(min, max)`` in force: an ``int`` field is always bounded."""
        if self.type == "int":
            low = -INT_LIMIT if self.min is None else max(int(self.min), -INT_LIMIT)
            high = INT_LIMIT if self.max is None else min(int(self.max), INT_LIMIT)
            return low, high
        return self.min, self.max

    @property
    def length_limit(self) -> int:
        return self.max_length if self.max_length is not None else MAX_LENGTH

    @property
    def controls(self) -> str:
        if self.allowed_controls is not None:
            return self.allowed_controls
        return TEXT_CONTROLS if self.type == "text" else ""

    @property
    def choice_values(self) -> list[str]:
        return [value for value, _label in self.choices]

    # -- checking -----------------------------------------------------------------------------
    def validate(self, value: Any, files: list[str] | None = None) -> Any:
        """The value as stored, or :class:`FieldError`. JSON types are strict (``"5"`` is no int)."""
        kind = self.type
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise FieldError("integer")
            return self._bounded(value)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FieldError("number")
            try:
                number = float(value)
            except OverflowError:
                raise FieldError("number") from None
            if not math.isfinite(number):
                raise FieldError("number")
            return self._bounded(number)
        if kind == "bool":
            if not isinstance(value, bool):
                raise FieldError("bool")
            return value
        if kind == "json":
            return self._json(value)
        if not isinstance(value, str):
            raise FieldError("string")
        if kind == "choice":
            if value not in self.choice_values:
                raise FieldError("choice", choices=", ".join(self.choice_values))
            return value
        if kind == "file":
            if files is None or value not in files:
                raise FieldError("file")
            return value
        return self._text(value)

    def parse(self, raw: str, files: list[str] | None = None) -> Any:
        """A form's text converted to this field's type, then validated (``bool`` is a checkbox:
        the caller passes whether it was ticked)."""
        kind = self.type
        if kind == "int":
            text = raw.strip()
            if not _DIGITS.fullmatch(text) or len(text) > 40:  # ASCII digits: int() also takes "1_0" and "١"
                raise FieldError("integer")
            return self.validate(int(text))
        if kind == "float":
            try:
                number = float(raw.strip())
            except ValueError:
                raise FieldError("number") from None
            return self.validate(number)
        if kind == "bool":
            return self.validate(raw.strip().lower() in ("1", "true", "on", "yes"))
        if kind == "json":
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                raise FieldError("json") from None
            return self.validate(value)
        return self.validate(raw, files)

    def _bounded(self, number: int | float) -> int | float:
        low, high = self.bounds
        if low is not None and number < low:
            raise FieldError("min", min=low)
        if high is not None and number > high:
            raise FieldError("max", max=high)
        return number

    def _text(self, value: str) -> str:
        allowed = self.controls
        for char in value:
            if "\ud800" <= char <= "\udfff":
                raise FieldError("surrogate")
            if unicodedata.category(char) == "Cc" and char not in allowed:
                raise FieldError("control")
        if self.required and not value.strip():
            raise FieldError("required")
        if len(value) < self.min_length:
            raise FieldError("min_length", min_length=self.min_length)
        if len(value) > self.length_limit:
            raise FieldError("max_length", max_length=self.length_limit)
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise FieldError("pattern")
        return value

    def _json(self, value: Any) -> Any:
        try:
            loaded = parse_data({"v": value})["v"]
        except InvalidInput:
            raise FieldError("json") from None
        kind = type(self.default)
        if kind is list and not isinstance(loaded, list):
            raise FieldError("json_kind", kind="array")
        if kind is dict and not isinstance(loaded, dict):
            raise FieldError("json_kind", kind="object")
        return loaded

    def describe(self) -> dict[str, Any]:
        """What a client needs to build an input (secret defaults are not shown)."""
        low, high = self.bounds
        out: dict[str, Any] = {
            "type": self.type,
            "label": self.label,
            "help": self.help,
            "required": self.required,
            "secret": self.secret,
            "default": None if self.secret else self.default,
        }
        if self.type in ("int", "float"):
            out["min"], out["max"] = low, high
        if self.type in ("str", "text"):
            out["min_length"], out["max_length"] = self.min_length, self.length_limit
            if self.pattern is not None:
                out["pattern"] = self.pattern
        if self.type == "choice":
            out["choices"] = [list(pair) for pair in self.choices]
        return out


_FIELD_NAMES = frozenset(f.name for f in fields(Field))


def as_field(spec: Field | Mapping[str, Any]) -> Field:
    """A :class:`Field` from a ``Field`` or a plain dict (``action_fields`` style); unknown keys refused."""
    if isinstance(spec, Field):
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(f"a field is a Field or a dict, not {type(spec).__name__}")
    unknown = set(spec) - _FIELD_NAMES
    if unknown:
        raise ValueError(f"unknown field option(s): {', '.join(sorted(map(str, unknown)))}")
    values = dict(spec)
    if "choices" in values:
        values["choices"] = tuple(values["choices"] or ())
    return Field(**values)


def field_from_default(default: Any) -> Field:
    """A setting declared only by its default (``default_settings``): its type, default bounds."""
    if isinstance(default, bool):
        return Field(type="bool", default=default)
    if isinstance(default, int):
        return Field(type="int", default=default)
    if isinstance(default, float):
        return Field(type="float", default=default)
    if isinstance(default, (list, dict)):
        return Field(type="json", default=default)
    if default is None:
        return Field(type="json", default=None)
    return Field(type="str", default=str(default))


def normalise(specs: Mapping[str, Field | Mapping[str, Any]]) -> dict[str, Field]:
    """Every spec as a :class:`Field`; raises ``ValueError`` naming the bad one."""
    out: dict[str, Field] = {}
    for name, spec in specs.items():
        try:
            out[str(name)] = as_field(spec)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"field {name!r}: {exc}") from None
    return out


def check_defaults(declared: Mapping[str, Field]) -> None:
    """A setting's default must pass its own field (``None`` means "not set")."""
    for name, spec in declared.items():
        if spec.type == "file":
            raise ValueError(f"setting {name!r}: a setting cannot be a file field")
        if spec.default is None:
            continue
        try:
            spec.validate(spec.default)
        except FieldError as exc:
            raise ValueError(f"setting {name!r}: its default {exc}") from None


def effective(declared: Mapping[str, Field], stored: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, FieldError]]:
    """``(values, invalid)``: each setting's stored value if it still validates, else its default;
    ``invalid`` says why a stored value (or a stored key no longer declared) was not used."""
    values: dict[str, Any] = {}
    invalid: dict[str, FieldError] = {}
    for name, spec in declared.items():
        if name in stored and stored[name] is not None:
            try:
                values[name] = spec.validate(stored[name])
                continue
            except FieldError as exc:
                invalid[name] = exc
        values[name] = spec.default
    for name in stored:
        if name not in declared:
            invalid[name] = FieldError("unknown")
    return values, invalid
