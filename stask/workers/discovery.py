"""Find worker classes in installed packages (entry-point group ``stask.workers``) and in ``STASK_WORKERS``.

Each candidate is validated; a broken plugin is reported with a reason instead of
stopping discovery for everyone else.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from .base import ICON_RE, IDENTIFIER_RE, BaseWorker
from .fields import check_defaults
from .i18n import declaration_problem

ENTRY_POINT_GROUP = "stask.workers"


@dataclass
class DiscoveryResult:
    workers: dict[str, type[BaseWorker]] = field(default_factory=dict)
    invalid: list[dict[str, str]] = field(default_factory=list)


def import_object(path: str) -> Any:
    """Import ``package.module:Class`` (or ``package.module.Class``)."""
    module_name, _, attr = path.partition(":")
    if not attr:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ImportError(f"{path!r} is not an import path of the form 'module:Class'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def validate_worker_class(cls: Any) -> str | None:
    """Return why ``cls`` breaks the plugin contract, or ``None`` when it is fine."""
    if not isinstance(cls, type) or not issubclass(cls, BaseWorker) or cls is BaseWorker:
        return "not a subclass of stask.BaseWorker"
    if not isinstance(cls.identifier, str) or not IDENTIFIER_RE.fullmatch(cls.identifier):
        return "identifier must be 1-64 lowercase letters, digits, '_', '-' or '.'"
    for name in ("scope", "title", "description"):
        if not isinstance(getattr(cls, name), str):
            return f"{name} must be a string"
    if not isinstance(cls.icon, str) or not ICON_RE.fullmatch(cls.icon):
        return "icon must be an icon name such as 'envelope' (lowercase, digits, '-'), never HTML"
    if not isinstance(cls.default_settings, dict) or not isinstance(cls.settings_fields, dict):
        return "default_settings and settings_fields must be dicts"
    if not isinstance(cls.action_fields, dict) or not all(isinstance(v, dict) for v in cls.action_fields.values()):
        return "action_fields must be a dict of dicts (action -> field name -> Field or dict)"
    try:
        check_defaults(cls.setting_fields())
        for action in cls.action_fields:
            cls.form_fields(action)
    except (TypeError, ValueError) as exc:
        return f"invalid field declaration: {exc}"
    for name in ("max_attempts", "timeout"):
        value = getattr(cls, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            return f"{name} must be a positive integer or None"
    if cls.backoff is not None and (
        not isinstance(cls.backoff, tuple)
        or len(cls.backoff) != 2
        or not all(isinstance(v, (int, float)) for v in cls.backoff)
    ):
        return "backoff must be a (base, cap) tuple of seconds or None"
    if not cls.actions():
        return "no task_<action> method"
    return declaration_problem(cls)


def _candidates(extra_paths: str) -> list[tuple[str, Any]]:
    """(source, loader) pairs; loading is deferred so one import error stays one report."""
    found: list[tuple[str, Any]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.append((f"entry point {ep.name} = {ep.value}", ep.load))
    for path in (p.strip() for p in extra_paths.split(",")):
        if path:
            found.append((f"STASK_WORKERS {path}", lambda path=path: import_object(path)))
    return found


def discover(extra_paths: str = "") -> DiscoveryResult:
    result = DiscoveryResult()
    sources: dict[str, str] = {}
    for source, load in _candidates(extra_paths):
        try:
            cls = load()
        except Exception as exc:  # a broken plugin must not break discovery
            result.invalid.append({"source": source, "reason": f"import failed: {exc}"})
            continue
        reason = validate_worker_class(cls)
        if reason is None and cls.identifier in result.workers and result.workers[cls.identifier] is not cls:
            reason = f"identifier {cls.identifier!r} is already used by {sources[cls.identifier]}"
        if reason:
            result.invalid.append({"source": source, "reason": reason})
            continue
        result.workers[cls.identifier] = cls
        sources.setdefault(cls.identifier, source)
    return result
