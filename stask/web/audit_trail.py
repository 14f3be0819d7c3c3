"""Who is acting, and from where: the web side of the audit log (:mod:`stask.service.audit`).

Each view that changes state calls :func:`record` once, after the change happened (a refused
request raises before it and records nothing). The actor is derived from the request's
authentication, never from anything secret: a session is named by
:func:`~stask.web.auth.session_reference`, a bearer token by its role and position in
``STASK_API_TOKEN`` / ``STASK_READONLY_TOKEN`` (``token:admin#2``), a host-authorised user
(``STASK_AUTHORIZE``) as ``host``, an anonymous request (a failed login) as ``anonymous``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from ..service import current_stask
from ..service.audit import Actor, capped
from . import auth


def _token_label() -> str:
    """``token:<role>#<position>`` of the bearer token in use (compared as digests, never stored)."""
    given = auth._digest(auth._bearer() or "")
    settings = current_stask().settings
    for role, tokens in ((auth.ADMIN, settings.api_tokens), (auth.READONLY, settings.readonly_tokens)):
        for position, candidate in enumerate(tokens, 1):
            if hmac.compare_digest(given, auth._digest(candidate)):
                return f"token:{role}#{position}"
    return "token:unknown"


def current_actor() -> Actor:
    """The actor of the current request (its role, how it signed in, a label, its address)."""
    role = auth.current_role()
    via = auth.authenticated_by()
    client = auth._client_address()
    if role is None:
        return Actor(role=None, kind="anonymous", label="anonymous", client=client)
    if via == "bearer":
        return Actor(role=role, kind="token", label=_token_label(), client=client)
    if via == "host":
        return Actor(role=role, kind="host", label="host", client=client)
    reference = auth.session_reference()
    return Actor(role=role, kind="session", label=f"session:{reference or 'unknown'}", client=client)


def record(action: str, target: str | None = None, details: Mapping[str, Any] | None = None) -> None:
    """One audit row for a change the current request made (a write failure is logged, not raised)."""
    current_stask().audit.record(current_actor(), action, target, details)


def settings_details(
    identifier: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``{"keys": [...]}``: the settings whose effective value (stored over default) changed.

    Names only, never values: some settings are secret.
    """
    definition = current_stask().workers.resolve(identifier)
    defaults: Mapping[str, Any] = dict(definition.worker_class().default_settings) if definition else {}
    old, new = {**defaults, **(before or {})}, {**defaults, **(after or {})}
    return {"keys": sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))}


def created_details(task: Any) -> dict[str, Any]:
    """What a creation's row says: worker, action, priority (the task's data may be private)."""
    return {"identifier": task.identifier, "action": task.action, "priority": task.priority}


def discovery_details(report: Mapping[str, Any]) -> dict[str, Any]:
    """A discovery's row: the names added, updated and missing, and how many entries were invalid."""
    details: dict[str, Any] = {key: capped(list(report.get(key) or [])) for key in ("added", "updated", "missing")}
    details["invalid"] = len(report.get("invalid") or [])
    return details
