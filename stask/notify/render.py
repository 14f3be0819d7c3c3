"""What a notification says: the webhook body (JSON or Slack) and the e-mail's subject and body.

E-mail templates are written by admins and rendered by workers, so they run in Jinja2's
immutable sandbox: no attribute starting with ``_``, no Python internals, no changing the
objects given; a refused access is an error with a message, not an empty string. ``*`` and
``**`` are checked before they run (``10**10**10`` would otherwise hang the compiler, which
folds constants), and the output is cut off at :data:`MAX_OUTPUT_CHARS`. What is left (a very
long loop) is bounded by the notifier task's own time limit.

The default texts are translated: ``language`` picks the catalogue through Flask-Babel when
the app has it, else straight from stask's catalogues (a worker process without the web part
has no Flask-Babel); with no language and no app, English.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import flask_babel
from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations
from flask import current_app, has_app_context
from jinja2 import Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["EVENTS", "FORMATS", "check_template", "email_message", "webhook_body"]

EVENTS = ("finished", "failed", "retrying", "cancelled", "stuck", "group_finished", "schedule_missed")
FORMATS = ("json", "slack")
#: The objects an event may carry (the API's dicts of each).
OBJECTS = ("task", "group", "schedule")
MAX_TEMPLATE_CHARS = 10_000
MAX_OUTPUT_CHARS = 100_000
MAX_SUBJECT_CHARS = 200
#: The longest error or message quoted in a Slack body or a default e-mail.
MAX_QUOTE_CHARS = 500
#: Where stask's compiled catalogues live (``<lang>/LC_MESSAGES/messages.mo``).
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"

Gettext = Callable[..., str]


# -- webhook bodies --------------------------------------------------------------------------------
def webhook_body(
    event: str,
    objects: Mapping[str, Any],
    sent_at: datetime,
    *,
    format: str = "json",
    language: str | None = "en",
) -> bytes:
    """The UTF-8 body POSTed for ``event``: compact JSON ``{"event", "task", "sent_at"}`` (with
    ``group`` or ``schedule`` when given), or a Slack incoming-webhook message (``slack``, whose
    text is in ``language``, English unless told)."""
    _check_event(event, objects)
    if format == "json":
        payload: dict[str, Any] = {"event": event, "task": objects.get("task")}
        payload.update({name: objects[name] for name in ("group", "schedule") if name in objects})
        payload["sent_at"] = iso_utc(sent_at)
    elif format == "slack":
        with _language(language) as _:
            payload = slack_message(event, objects, _)
    else:
        raise ValueError(f"unknown webhook format {format!r}: use one of {', '.join(FORMATS)}")
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, as the API writes times (a naive time is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def slack_message(event: str, objects: Mapping[str, Any], _: Gettext) -> dict[str, Any]:
    """``{"text", "blocks"}``: one readable line (what Mattermost and Rocket.Chat show), then the
    same in a block with the error or message quoted."""
    headline = event_text(event, objects, _)
    detail = _detail(objects)
    text = f"stask: {headline}" + (f": {_one_line(detail)[:200]}" if detail else "")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack(headline)}*"}}]
    if detail:
        quoted = "\n".join("> " + line for line in _slack(detail[:MAX_QUOTE_CHARS]).splitlines())
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quoted}})
    return {"text": text, "blocks": blocks}


def _slack(text: str) -> str:
    """Slack's own escaping: these three characters are its markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _detail(objects: Mapping[str, Any]) -> str:
    task = objects.get("task") or {}
    schedule = objects.get("schedule") or {}
    return str(task.get("error") or task.get("message") or schedule.get("last_skip_reason") or "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- the default texts -----------------------------------------------------------------------------
def event_text(event: str, objects: Mapping[str, Any], _: Gettext) -> str:
    """One sentence saying what happened, in the current language."""
    task = _task_label(objects.get("task"))
    group = _label(objects.get("group"))
    schedule = _label(objects.get("schedule"))
    texts = {
        "finished": lambda: _("Task %(task)s finished", task=task),
        "failed": lambda: _("Task %(task)s failed", task=task),
        "retrying": lambda: _("Task %(task)s failed and will be retried", task=task),
        "cancelled": lambda: _("Task %(task)s was cancelled", task=task),
        "stuck": lambda: _("Task %(task)s is stuck", task=task),
        "group_finished": lambda: _("Group %(group)s finished", group=group),
        "schedule_missed": lambda: _("Schedule %(schedule)s missed a run", schedule=schedule),
    }
    return texts[event]()


def _task_label(task: Mapping[str, Any] | None) -> str:
    if not task:
        return "?"
    return f"#{task.get('id')} {task.get('identifier')}.{task.get('action')}"


def _label(item: Mapping[str, Any] | None) -> str:
    if not item:
        return "?"
    return f"#{item.get('id')} {item.get('name') or ''}".rstrip()


def default_body(event: str, objects: Mapping[str, Any], _: Gettext) -> str:
    """The e-mail body when a rule has no template: the sentence, then the facts that matter."""
    lines = [event_text(event, objects, _) + ".", ""]

    def add(label: str, value: Any) -> None:
        if value not in (None, ""):
            lines.append(f"{label}: {value}")

    task = objects.get("task") or {}
    if task:
        add(_("Task"), f"#{task.get('id')}")
        add(_("Worker"), task.get("identifier"))
        add(_("Action"), task.get("action"))
        if task.get("attempts") is not None and task.get("max_attempts") is not None:
            add(_("Attempts"), _("%(done)s of %(total)s", done=task["attempts"], total=task["max_attempts"]))
        add(_("Error"), str(task.get("error") or "")[:MAX_QUOTE_CHARS])
        add(_("Message"), str(task.get("message") or "")[:MAX_QUOTE_CHARS])
        add(_("Created"), task.get("created_at"))
        add(_("Started"), task.get("started_at"))
        add(_("Ended at"), task.get("finished_at"))
        if event == "retrying":
            add(_("Next attempt"), task.get("start_at"))
    group = objects.get("group") or {}
    if group:
        add(_("Group"), _label(group))
        add(_("Tasks"), group.get("total"))
        add(_("Ended at"), group.get("ended_at"))
    schedule = objects.get("schedule") or {}
    if schedule:
        add(_("Schedule"), _label(schedule))
        if not task:
            add(_("Worker"), schedule.get("identifier"))
            add(_("Action"), schedule.get("action"))
        add(_("Reason"), schedule.get("last_skip_reason"))
        add(_("Next run"), schedule.get("next_run_at"))
    return "\n".join(lines) + "\n"


# -- e-mail ----------------------------------------------------------------------------------------
def email_message(
    event: str,
    objects: Mapping[str, Any],
    *,
    language: str | None,
    subject_template: str | None,
    body_template: str | None,
) -> tuple[str, str]:
    """``(subject, body)`` of the e-mail for ``event``: the rule's templates, or the defaults,
    in ``language``. :class:`ValueError` with a one-line reason when a template fails."""
    _check_event(event, objects)
    with _language(language) as _:
        text = event_text(event, objects, _)
        values = {
            "event": event,
            "event_text": text,
            "task": objects.get("task"),
            "group": objects.get("group"),
            "schedule": objects.get("schedule"),
        }
        subject = _one_line(_render("subject", subject_template, values)) if subject_template else ""
        subject = subject or f"[stask] {text}"  # a template that renders nothing still gives a subject
        body = _render("body", body_template, values) if body_template else default_body(event, objects, _)
    return subject[:MAX_SUBJECT_CHARS], body


def check_template(text: str) -> str:
    """``text`` when it compiles as a template; :class:`ValueError` with a one-line reason otherwise."""
    if not isinstance(text, str):
        raise ValueError("a template must be text")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"the template is too long: at most {MAX_TEMPLATE_CHARS} characters")
    _compile(text)
    return text


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, stricter: a refused attribute is an error, and operations that
    would build a huge number or string are refused before they run."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _huge_power(left, right):
            raise SecurityError("the power is too large")
        if operator == "*" and _huge_repeat(left, right):
            raise SecurityError(f"the result would be longer than {MAX_OUTPUT_CHARS} characters")
        if operator == "%" and isinstance(left, str):
            _refuse_wide(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's own signature
        _refuse_huge((*args, *kwargs.values()))
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            _refuse_wide(owner)
        return super().wrap_str_format(value)


def _huge_power(base: Any, exponent: Any) -> bool:
    if isinstance(base, int) and isinstance(exponent, int):
        return exponent > 0 and max(abs(base), 2).bit_length() * exponent > 10_000
    return False


def _huge_repeat(left: Any, right: Any) -> bool:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return len(sequence) * count > MAX_OUTPUT_CHARS
    return False


#: A conversion with a width or precision of six digits or more (``%999999s``, ``{:>999999}``).
_WIDE_FIELD = re.compile(r"[%:][^%:{}]{0,4}?[0-9]{6,}")


def _refuse_wide(format_string: str) -> None:
    if _WIDE_FIELD.search(format_string):
        raise SecurityError("a field this wide is not allowed")


def _refuse_huge(values: Iterable[Any]) -> None:
    """Widths and counts above :data:`MAX_OUTPUT_CHARS` (``center(10**9)``) are refused."""
    for value in values:
        if isinstance(value, int) and abs(value) > MAX_OUTPUT_CHARS:
            raise SecurityError(f"a number above {MAX_OUTPUT_CHARS} is not allowed here")


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_context/pass_environment marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _refuse_huge((*args, *kwargs.values()))
        if name == "format":
            _refuse_wide(next((a for a in args if isinstance(a, str)), ""))
        return function(*args, **kwargs)

    return guarded


#: Plain text (no autoescape); ``None`` renders as nothing rather than "None".
_ENVIRONMENT = _Sandbox(autoescape=False, finalize=lambda value: "" if value is None else value)
#: Filters whose arguments size their output.
for _name in ("center", "indent", "wordwrap", "format", "batch", "slice", "truncate"):
    _ENVIRONMENT.filters[_name] = _guarded_filter(_name, _ENVIRONMENT.filters[_name])


@functools.lru_cache(maxsize=64)
def _compile(text: str) -> Template:
    try:
        return _ENVIRONMENT.from_string(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # an admin's text: whatever fails to compile is reported, not raised as is
        raise ValueError(f"the template does not compile: {type(exc).__name__}: {exc}") from None


def _render(which: str, text: str, values: Mapping[str, Any]) -> str:
    if len(text) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"the {which} template is too long: at most {MAX_TEMPLATE_CHARS} characters")
    try:
        template = _compile(text)
    except ValueError as exc:
        raise ValueError(f"the {which} template does not compile: {exc}") from None
    parts: list[str] = []
    size = 0
    try:
        for part in template.generate(**values):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise ValueError(f"the {which} template wrote more than {MAX_OUTPUT_CHARS} characters")
            parts.append(part)
    except ValueError:
        raise
    except Exception as exc:  # an admin's template may raise anything; the delivery log shows it
        reason = _one_line(str(exc))[:300] or type(exc).__name__
        raise ValueError(f"the {which} template failed: {reason}") from None
    return "".join(parts)


def _check_event(event: str, objects: Mapping[str, Any]) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}: use one of {', '.join(EVENTS)}")
    unknown = sorted(set(objects) - set(OBJECTS))
    if unknown:
        raise ValueError(f"unknown objects {unknown}: an event carries {', '.join(OBJECTS)}")


# -- languages -------------------------------------------------------------------------------------
@contextmanager
def _language(language: str | None) -> Iterator[Gettext]:
    """A gettext in ``language`` (``None``: the current one; outside an app, English)."""
    if language is not None:
        try:
            Locale.parse(language)
        except (ValueError, TypeError, UnknownLocaleError):
            raise ValueError(f"unknown language {str(language)[:20]!r}") from None
    if has_app_context() and "babel" in current_app.extensions:
        if language is None:
            yield flask_babel.gettext
            return
        with flask_babel.force_locale(language):
            yield flask_babel.gettext
        return
    catalogue = Translations.load(str(TRANSLATIONS_DIR), [language]) if language else NullTranslations()

    def _(text: str, **values: Any) -> str:
        translated = catalogue.gettext(text)
        return translated % values if values else translated

    yield _
