"""What a notification rule may say: every field's rule, the channel's cross-field rules, and
the ``notify=[...]`` shorthand of a single task, checked in one place for the API, the panel,
the CLI and task creation.

**Every bad field is named.** :meth:`RuleChecker.check` collects one message per bad field
(``InvalidRule.errors``, in field order) instead of stopping at the first, so a form can show
each message next to its input; the API's message joins them. Nothing is stored on a refusal.

**A channel's fields belong to it.** An e-mail rule needs ``to`` and may have ``subject`` and
``body``; a webhook rule needs ``url`` and may have ``secret``, ``headers`` and ``format``. A
field of the other channel is refused (400), never dropped silently: a client that sent it
meant something. ``null`` is "not set" and is accepted for either channel.

**The transports decide what a URL, a header, an address or a template is**
(:func:`stask.notify.webhook.check_url` with ``STASK_WEBHOOK_ALLOW_PRIVATE``,
:func:`~stask.notify.webhook.check_headers`, :func:`stask.notify.email.check_addresses`,
:func:`stask.notify.render.check_template`); this module adds the sizes and types the OpenAPI
document states, and the worker and action lookups of schedules and presets.

A change checks only the fields it gives (and those they decide: a new worker's actions, a new
channel's fields), so a rule stored under other settings can still be switched off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import InvalidField
from ..models import Notification
from ..notify import email, render, webhook
from ..notify.email import check_addresses
from ..notify.render import check_template
from ..notify.webhook import check_headers, check_url
from ..validation import ACTION_RE
from ..workers.base import BaseWorker
from .workers import WorkerService, is_identifier

#: Events a rule may follow (``docs/notifications.md`` says what each one means): the renderers'.
EVENTS: tuple[str, ...] = render.EVENTS
#: Events a task's own rule (``notify=[...]``) may follow: those about the task itself.
TASK_EVENTS = ("finished", "failed", "retrying", "cancelled", "stuck")
#: What a task's own rule follows unless it says otherwise.
DEFAULT_TASK_EVENTS = ("finished", "failed")
CHANNELS = ("email", "webhook")
FORMATS: tuple[str, ...] = render.FORMATS
#: The panel's languages (``stask.web.i18n.LANGUAGES``; the service may not import the web).
LANGUAGES = ("en", "de", "fr", "pl", "ru", "uk")

#: The fields a client may write (the API contract); the others are read-only.
FIELDS = (
    "name",
    "identifier",
    "action",
    "events",
    "channel",
    "to",
    "url",
    "secret",
    "headers",
    "format",
    "enabled",
    "language",
    "subject",
    "body",
)
EMAIL_FIELDS = ("to", "subject", "body")
WEBHOOK_FIELDS = ("url", "secret", "headers", "format")
#: The fields of each channel: a rule of the other channel refuses them.
CHANNEL_FIELDS = {"email": EMAIL_FIELDS, "webhook": WEBHOOK_FIELDS}
#: The fields a task's own rule may give (it follows its task: no name, worker or action).
TASK_RULE_FIELDS = tuple(name for name in FIELDS if name not in ("name", "identifier", "action"))
#: API field -> column, where they differ.
COLUMNS = {"to": "recipients", "subject": "subject_template", "body": "body_template"}

MAX_NAME = 120
#: The column's size (``s_notifications.secret``).
MAX_SECRET = 255
#: The transports' limits, stated once there.
MAX_RECIPIENTS = email.MAX_RECIPIENTS
MAX_ADDRESS = email.MAX_ADDRESS_CHARS
MAX_URL = webhook.MAX_URL_CHARS
MAX_HEADERS = webhook.MAX_HEADERS
MAX_HEADER_CHARS = webhook.MAX_HEADER_CHARS
MAX_SUBJECT = render.MAX_SUBJECT_CHARS
MAX_BODY = render.MAX_TEMPLATE_CHARS
#: Rules a single task may bring (``notify=[...]``).
MAX_TASK_RULES = 10

#: What a header's value may be (the webhook transport's rule): printable ASCII and tabs, one line.
HEADER_VALUE_PATTERN = "^[\\u0009\\u0020-\\u007e]*$"
#: What a webhook URL may look like here (the transport then checks its host): http or https, no
#: spaces or control characters. The OpenAPI document states the same pattern.
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\u0000-\u0020\u007f-\u009f]+$"
_URL_RE = re.compile(URL_PATTERN)  # always with fullmatch
#: Names of the rules tasks bring (``task 12 #1``): reserved, so a task's rules never collide
#: with a name someone chose (names are unique).
TASK_RULE_NAME_RE = re.compile(r"\Atask [0-9]+ #[0-9]+\Z")
#: Characters no name, secret or subject may hold (controls; PostgreSQL refuses NUL in text).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: A body may keep tab and line breaks.
_BODY_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


class InvalidRule(InvalidField):
    """Some fields of a rule are wrong; ``errors`` maps each one to its message (400)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(next(iter(errors)), "; ".join(errors.values()))
        self.errors = errors


def api_values(row: Notification) -> dict[str, Any]:
    """A stored rule as the API's writable fields (the secret included: the caller must not show it)."""
    email = row.channel == "email"
    return {
        "name": row.name,
        "identifier": row.identifier,
        "action": row.action,
        "events": list(row.events or ()),
        "channel": row.channel,
        "to": list(row.recipients) if row.recipients is not None else None,
        "url": row.url,
        "secret": row.secret,
        "headers": dict(row.headers) if row.headers is not None else None,
        "format": None if email else row.format,
        "enabled": row.enabled,
        "language": row.language,
        "subject": row.subject_template,
        "body": row.body_template,
    }


def _text(value: Any, field: str, *, maximum: int, minimum: int = 1, controls: re.Pattern[str] = _CONTROL_RE) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    if not minimum <= len(value) <= maximum:
        raise ValueError(f"{field} must be {minimum} to {maximum} characters")
    if controls.search(value) or _SURROGATE_RE.search(value):
        raise ValueError(f"{field} must not contain control characters or invalid Unicode")
    return value


def _optional_text(value: Any, field: str, **limits: Any) -> str | None:
    return None if value is None else _text(value, field, **limits)


def _transport(check: Callable[[Any], Any], value: Any) -> Any:
    """A transport's check; its ValueError (a one-line reason) becomes ours."""
    try:
        return check(value)
    except ValueError as exc:
        raise ValueError(str(exc).splitlines()[0] if str(exc) else "is not valid") from None


class RuleChecker:
    """Checks rules against the registered workers and the webhook address policy."""

    def __init__(self, workers: WorkerService, allow_private: bool) -> None:
        self.workers = workers
        self.allow_private = allow_private

    # -- the whole rule ----------------------------------------------------------------------
    def check(
        self, fields: Mapping[str, Any], *, current: Notification | None = None, task_rule: bool = False
    ) -> dict[str, Any]:
        """Column values of the rule ``fields`` describe (over ``current``'s, for a change).

        Raises :class:`InvalidRule` naming every bad field. ``task_rule``: a task's own rule
        (no name, worker or action; only the events about a task).
        """
        allowed = TASK_RULE_FIELDS if task_rule else FIELDS
        if not isinstance(fields, Mapping):
            raise InvalidField("rule", "a notification rule must be a JSON object")
        errors: dict[str, str] = {}
        for key in fields:
            if key not in allowed:
                errors[str(key)[:40]] = f"{str(key)[:40]}: unknown or read-only field; allowed are {', '.join(allowed)}"
        values = self._merged(fields, current, task_rule)
        given = set(fields) if current is not None else set(allowed)
        if "channel" in fields and current is not None and fields["channel"] != current.channel:
            given |= set(CHANNEL_FIELDS.get(str(fields["channel"]), ()))
        if "identifier" in fields:
            given.add("action")
        self._check_fields(values, given & set(allowed), errors, task_rule, current)
        if "channel" not in errors:
            self._check_channel(values, errors)
        if "events" not in errors and "group_finished" in (values["events"] or ()):
            if values["identifier"] is not None or values["action"] is not None:
                errors["events"] = (
                    "events: group_finished is told to rules for any worker and any action (identifier and "
                    "action null): give it a rule of its own"
                )
        if errors:
            raise InvalidRule({key: errors[key] for key in _ordered(errors)})
        return _columns(values)

    def _merged(self, fields: Mapping[str, Any], current: Notification | None, task_rule: bool) -> dict[str, Any]:
        """The rule after the change: ``current``'s values (a new channel drops the old one's) and ``fields``."""
        if current is None:
            base: dict[str, Any] = {
                "name": None,
                "identifier": None,
                "action": None,
                "events": list(DEFAULT_TASK_EVENTS) if task_rule else None,
                "channel": None,
                "enabled": True,
                "language": None,
            }
            base |= {name: None for name in (*EMAIL_FIELDS, *WEBHOOK_FIELDS)}
            if fields.get("channel") == "webhook":
                base["format"] = "json"
        else:
            base = api_values(current)
            channel = fields.get("channel", current.channel)
            if channel != current.channel:
                base |= {name: None for name in CHANNEL_FIELDS.get(current.channel, ())}
                if channel == "webhook":
                    base["format"] = "json"
        return base | {key: value for key, value in fields.items() if key in FIELDS}

    def _check_fields(
        self,
        values: dict[str, Any],
        given: set[str],
        errors: dict[str, str],
        task_rule: bool,
        current: Notification | None,
    ) -> None:
        """Each given field by its own rule; ``values`` gets the cleaned value, ``errors`` the reason."""
        worker: type[BaseWorker] | None = None
        checks: dict[str, Callable[[Any], Any]] = {
            "name": lambda v: self._name(v, current),
            "events": lambda v: _events(v, TASK_EVENTS if task_rule else EVENTS),
            "channel": _channel,
            "to": self._recipients,
            "url": self._url,
            "secret": lambda v: _optional_text(v, "secret", maximum=MAX_SECRET),
            "headers": _headers,
            "format": _format,
            "enabled": _enabled,
            "language": _language,
            "subject": lambda v: self._template(v, "subject", MAX_SUBJECT, _CONTROL_RE),
            "body": lambda v: self._template(v, "body", MAX_BODY, _BODY_CONTROL_RE),
        }
        if "identifier" in given or "action" in given:
            try:
                worker = self._worker(values["identifier"])
            except ValueError as exc:
                errors["identifier"] = f"identifier: {exc}"
                given.discard("action")  # no worker to check it against
        if "action" in given and "identifier" not in errors:
            try:
                values["action"] = self._action(values["action"], values["identifier"], worker)
            except ValueError as exc:
                errors["action"] = f"action: {exc}"
        for name, check in checks.items():
            if name not in given or (values[name] is None and name in (*EMAIL_FIELDS, *WEBHOOK_FIELDS)):
                continue  # a channel's field left unset: the channel's rules below decide
            try:
                values[name] = check(values[name])
            except ValueError as exc:
                errors[name] = f"{name}: {exc}"

    def _check_channel(self, values: dict[str, Any], errors: dict[str, str]) -> None:
        """An e-mail rule needs ``to``, a webhook rule ``url``; neither takes the other's fields."""
        channel = values["channel"]
        if channel is None:
            return
        required = "to" if channel == "email" else "url"
        if values[required] is None and required not in errors:
            what = "at least one address" if channel == "email" else "the URL to POST to"
            errors[required] = f"{required}: a rule of channel {channel} needs {what}"
        other = "webhook" if channel == "email" else "email"
        for name in CHANNEL_FIELDS[other]:
            if values[name] is not None:
                errors[name] = f"{name}: only {other} rules have {name}; this rule's channel is {channel}"

    # -- single fields -----------------------------------------------------------------------
    def _name(self, value: Any, current: Notification | None) -> str:
        if value is None:
            raise ValueError("name is required")
        name = _text(value, "name", maximum=MAX_NAME).strip()
        if not name:
            raise ValueError("name must not be only spaces")
        if TASK_RULE_NAME_RE.fullmatch(name) and (current is None or current.name != name):
            raise ValueError("names like 'task 12 #1' are kept for the rules tasks bring; choose another")
        return name

    def _worker(self, identifier: Any) -> type[BaseWorker] | None:
        """The registered worker's class (``None``: any worker), as schedules and presets look it up."""
        if identifier is None:
            return None
        if not is_identifier(identifier):
            raise ValueError(f"{str(identifier)[:70]!r} is not a worker identifier (null: any worker)")
        definition = self.workers.resolve(identifier)
        if definition is None:
            raise ValueError(f"no worker {identifier!r} (run `flask stask discover`)")
        try:
            return definition.worker_class()
        except ImportError as exc:
            raise ValueError(f"worker {identifier!r} cannot be loaded: {exc}") from None

    def _action(self, action: Any, identifier: str | None, worker: type[BaseWorker] | None) -> str | None:
        if action is None:
            return None
        if not isinstance(action, str) or not ACTION_RE.fullmatch(action):
            raise ValueError(f"{str(action)[:70]!r} must be 1-64 letters, digits, '_' or '-' (null: any action)")
        if worker is not None:
            if worker.action_callable(action) is None:
                raise ValueError(f"worker {identifier!r} has no action {action!r}; use {', '.join(worker.actions())}")
            return action
        for row in self.workers.registered():  # any worker: one of them must have it
            definition = self.workers.resolve(row.identifier)
            try:
                if definition is not None and definition.worker_class().action_callable(action) is not None:
                    return action
            except ImportError:
                continue
        raise ValueError(f"no registered worker has an action {action!r}")

    def _recipients(self, value: Any) -> list[str]:
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_RECIPIENTS:
            raise ValueError(f"to must be a list of 1 to {MAX_RECIPIENTS} e-mail addresses")
        for item in value:
            _text(item, "each address", maximum=MAX_ADDRESS)
        addresses = list(_transport(check_addresses, list(value)))
        if len({address.lower() for address in addresses}) != len(addresses):
            raise ValueError("to must not name an address twice")
        return addresses

    def _url(self, value: Any) -> str:
        url = _text(value, "url", maximum=MAX_URL)
        if not _URL_RE.fullmatch(url):
            raise ValueError("url must be an http:// or https:// URL without spaces")
        return str(_transport(lambda v: check_url(v, allow_private=self.allow_private), url))

    def _template(self, value: Any, field: str, maximum: int, controls: re.Pattern[str]) -> str | None:
        text = _optional_text(value, field, maximum=maximum, controls=controls)
        return None if text is None else str(_transport(check_template, text))


def _events(value: Any, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"events must be a non-empty list of: {', '.join(allowed)}")
    for event in value:
        if event not in allowed:
            raise ValueError(f"{str(event)[:40]!r} is no event here; use {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise ValueError("events must not name an event twice")
    return list(value)


def _channel(value: Any) -> str:
    if value not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    return str(value)


def _headers(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or len(value) > MAX_HEADERS:
        raise ValueError(f"headers must be an object of at most {MAX_HEADERS} names and string values")
    return dict(_transport(check_headers, value))


def _format(value: Any) -> str:
    if value not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return str(value)


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("enabled must be true or false")
    return value


def _language(value: Any) -> str | None:
    if value is not None and value not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, or null for the default")
    return None if value is None else str(value)


def _ordered(errors: Mapping[str, str]) -> list[str]:
    """Error keys in the order of the fields (unknown fields first: they are the plainest mistake)."""
    return sorted(errors, key=lambda key: FIELDS.index(key) if key in FIELDS else -1)


def _columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values of checked API values (an e-mail rule keeps the format column's default)."""
    columns = {COLUMNS.get(name, name): values[name] for name in FIELDS}
    if columns["format"] is None:
        columns["format"] = "json"
    return columns


def parse_task_notify(value: Any, checker: RuleChecker) -> list[dict[str, Any]]:
    """``notify=[...]`` of one task: the column values of each rule (no name, no task id yet).

    Each item is a rule object without name, identifier and action (events default to
    ``finished`` and ``failed``; the channel follows from ``to`` or ``url`` when not given), or
    a string: an http(s) URL (a JSON webhook) or an e-mail address. Refusals name the item.
    """
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or len(value) > MAX_TASK_RULES:
        raise InvalidField(
            "notify", f"notify must be a list of at most {MAX_TASK_RULES} rules, e-mail addresses or URLs"
        )
    rules = []
    for index, item in enumerate(value):
        fields = _shorthand(item, index)
        try:
            rules.append(checker.check(fields, task_rule=True))
        except InvalidField as exc:
            raise InvalidField("notify", f"notify[{index}]: {exc}") from None
    return rules


def _shorthand(item: Any, index: int) -> dict[str, Any]:
    """A notify item as rule fields: a URL is a JSON webhook, an address an e-mail rule."""
    if isinstance(item, str):
        if re.match(r"https?://", item, re.IGNORECASE):
            return {"channel": "webhook", "url": item}
        if "@" in item:
            return {"channel": "email", "to": [item]}
        raise InvalidField("notify", f"notify[{index}]: give an e-mail address, an http(s) URL or a rule object")
    if not isinstance(item, Mapping):
        raise InvalidField("notify", f"notify[{index}]: give an e-mail address, an http(s) URL or a rule object")
    fields = dict(item)
    if "channel" not in fields and ("to" in fields) != ("url" in fields):
        fields["channel"] = "email" if "to" in fields else "webhook"
    return fields


__all__ = [
    "CHANNELS",
    "EVENTS",
    "FIELDS",
    "FORMATS",
    "LANGUAGES",
    "TASK_EVENTS",
    "InvalidRule",
    "RuleChecker",
    "api_values",
    "parse_task_notify",
]
