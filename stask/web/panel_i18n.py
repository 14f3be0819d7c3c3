"""A worker's texts in the panel's language (the resolver is :mod:`stask.workers.i18n`).

The locale is the panel's own (:mod:`stask.web.i18n`: the switch, the cookie, the browser).
Templates call ``stask_worker_text(worker, text)`` for a worker's title or description and
``stask_task_text(task, text)`` for a message a task wrote (stored in English, translated here
when its worker ships a translation). The JSON API does not come through here: it answers in
English, the language rows are stored in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g
from flask_babel import get_locale

from ..service import current_stask
from ..workers import i18n
from ..workers.base import BaseWorker
from ..workers.fields import Field
from .panel import panel_bp


def current_locale() -> str:
    """The panel's locale as text (``uk``, ``pt_BR``); English outside a request."""
    locale = get_locale()
    return str(locale) if locale else "en"


def worker_text(source: Any, text: str) -> str:
    """``text`` of a worker (a class, a ``Worker`` row, a definition) in the panel's language."""
    return i18n.worker_text(source, text, current_locale())


def fields(source: Any, declared: Mapping[str, Field]) -> dict[str, Field]:
    """Fields with their label, help and choice labels in the panel's language."""
    return i18n.localised_fields(source, declared, current_locale())


def task_worker(identifier: str) -> type[BaseWorker] | None:
    """The class of a task's worker, looked up once per request (a registry lookup each)."""
    cache: dict[str, type[BaseWorker] | None] = g.setdefault("stask_task_workers", {})
    if identifier not in cache:
        definition = current_stask().workers.resolve(identifier)
        cache[identifier] = i18n.worker_class_of(definition) if definition is not None else None
    return cache[identifier]


def task_text(task: Any, text: str | None) -> str | None:
    """A message ``task`` wrote (its progress, its result, its error) in the panel's language."""
    if not text:
        return text
    return i18n.worker_text(task_worker(task.identifier), text, current_locale())


@panel_bp.record_once
def _install(state: Any) -> None:
    state.app.jinja_env.globals.update(stask_worker_text=worker_text, stask_task_text=task_text)
