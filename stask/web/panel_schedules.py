"""The Schedules page: every schedule with its next and last runs, its recent runs as marks,
an enabled switch, "Run now", and a form whose cron expression is explained in words and
previewed (the next five slots) as it is typed.

Reads and writes go through ``service.schedules``; the page costs a fixed number of
statements whatever the number of schedules (a page of them, their recent runs in one query).
"""

from __future__ import annotations

import json
import zoneinfo
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from babel.dates import format_timedelta
from babel.units import format_unit
from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse

from ..exceptions import InvalidField, ScheduleNotFound, StaskError
from ..models import StoredSchedule, utcnow
from ..scheduling.slots import MISFIRE_POLICIES, OVERLAP_POLICIES, wall_time
from ..service import Service, current_stask
from ..validation import parse_datetime
from .audit_trail import record
from .panel import panel_bp
from .panel_support import is_htmx, write_required

#: Slots the form previews.
PREVIEW_SLOTS = 5
PER_PAGE = 50
#: cron-descriptor's catalogue for each panel language (it has no English-only fallback code).
DESCRIPTOR_LOCALES = {"en": "en_US", "uk": "uk_UA", "de": "de_DE", "fr": "fr_FR", "pl": "pl_PL", "ru": "ru_RU"}
#: The inputs of the form, as the API names them (``kind`` picks cron or interval).
FORM_FIELDS = (
    "name",
    "preset_id",
    "identifier",
    "action",
    "data",
    "priority",
    "kind",
    "cron",
    "interval",
    "timezone",
    "misfire",
    "overlap",
    "jitter",
    "start_date",
    "end_date",
)


# -- words and times ------------------------------------------------------------------------
def language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


def cron_words(expression: str, lang: str | None = None) -> str:
    """A cron expression in words, in the panel's language (English if the describer fails)."""
    from cron_descriptor import ExpressionDescriptor, Options  # type: ignore[import-untyped]

    lang = lang or language()
    code = DESCRIPTOR_LOCALES.get(lang, "en_US")
    options = Options(locale_code=code, use_24hour_time_format=True)
    try:
        words = str(ExpressionDescriptor(expression, options).get_description())
    except Exception:  # a describer bug must not break the form: the expression itself is valid
        return expression
    return _localise_names(words, lang) if lang != "en" else words


@lru_cache(maxsize=16)
def _name_map(lang: str) -> tuple[tuple[str, str], ...]:
    """English day and month names (cron-descriptor takes them from the C locale) and the
    language's own, longest first so "March" is not cut by "Mar"."""
    from babel.dates import get_day_names, get_month_names

    english_days, english_months = get_day_names("wide", locale="en"), get_month_names("wide", locale="en")
    days, months = get_day_names("wide", locale=lang), get_month_names("wide", locale=lang)
    pairs = [(english_days[i], days[i]) for i in range(7)] + [(english_months[i], months[i]) for i in range(1, 13)]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


def _localise_names(words: str, lang: str) -> str:
    for english, own in _name_map(lang):
        words = words.replace(english, own)
    return words


def interval_words(seconds: int) -> str:
    """ "Every 1 hour 30 minutes", exact (no rounding), in the panel's language."""
    lang = language()
    parts = []
    rest = seconds
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(format_unit(amount, f"duration-{unit}", length="long", locale=lang))
    return _("Every %(duration)s", duration=" ".join(parts))


def relative(when: datetime | None, now: datetime) -> str:
    """ "in 5 minutes" / "3 hours ago", localised."""
    if when is None:
        return ""
    return str(format_timedelta(when - now, add_direction=True, threshold=0.9, locale=language()))


def in_zone(instant: datetime, zone_name: str) -> str:
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = instant.replace(tzinfo=timezone.utc).astimezone(zone)
    return f"{wall_time(instant, zone):%Y-%m-%d %H:%M:%S} {local.tzname()}"


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def timing_words(row: Any) -> str:
    return cron_words(row.cron) if row.cron else interval_words(int(row.interval))


@panel_bp.app_context_processor
def _schedule_helpers() -> dict[str, Any]:
    return {"stask_schedule_words": timing_words, "stask_relative": relative}


# -- the list -------------------------------------------------------------------------------
@panel_bp.get("/schedules")
def schedules() -> str:
    service = current_stask()
    identifier = request.args.get("identifier", "").strip() or None
    number = request.args.get("page", "1")
    page_number = int(number) if number.isdigit() and 0 < int(number) <= 1_000_000 else 1
    try:
        page, runs = service.schedules.page_with_runs(identifier, page_number, PER_PAGE)
    except InvalidField:
        identifier = None
        page, runs = service.schedules.page_with_runs(None, page_number, PER_PAGE)
    return render_template(
        "stask/schedules.html",
        page=page,
        pages=max(1, -(-page.total // page.per_page)),
        runs=runs,
        identifier=identifier,
        now=utcnow(),
        args=request.args,
    )


def _row_context(service: Service, row: StoredSchedule) -> dict[str, Any]:
    return {"s": row, "runs": service.schedules.recent_runs([row.id]), "now": utcnow()}


@panel_bp.post("/schedules/<int:schedule_id>/enabled")
@write_required
def schedule_enabled(schedule_id: int) -> BaseResponse | str:
    """The switch: htmx gets the row back, a plain form a redirect."""
    service = current_stask()
    enabled = request.form.get("enabled") == "1"
    row = service.schedules.set_enabled(schedule_id, enabled)
    record("schedule.resume" if enabled else "schedule.pause", f"schedule:{row.id}")
    if is_htmx():
        return render_template("stask/fragments/schedule_row.html", **_row_context(service, row))
    if enabled:
        flash(_("Schedule %(name)s resumed.", name=row.name), "success")
    else:
        flash(_("Schedule %(name)s paused.", name=row.name), "info")
    return redirect(url_for("stask_panel.schedules") + f"#schedule-{row.id}", code=303)


@panel_bp.post("/schedules/<int:schedule_id>/run")
@write_required
def schedule_run(schedule_id: int) -> BaseResponse:
    service = current_stask()
    row = service.schedules.get(schedule_id)
    name = row.name
    try:
        task = service.schedules.run_now(schedule_id)
    except StaskError as exc:
        flash(str(exc), "error")
    else:
        record("schedule.run", f"schedule:{schedule_id}", {"task_id": task.id})
        link = Markup('<a href="{}">#{}</a>').format(url_for("stask_panel.task", task_id=task.id), task.id)
        flash(escape(_("Task %(task)s created by schedule %(name)s.")) % {"task": link, "name": name}, "success")
    return redirect(url_for("stask_panel.schedules") + f"#schedule-{schedule_id}", code=303)


@panel_bp.post("/schedules/<int:schedule_id>/delete")
@write_required
def schedule_delete(schedule_id: int) -> BaseResponse:
    service = current_stask()
    row = service.schedules.get(schedule_id)
    name = row.name
    try:
        service.schedules.delete(schedule_id)
    except StaskError as exc:
        flash(str(exc), "error")
    else:
        record("schedule.delete", f"schedule:{schedule_id}", {"name": name})
        flash(_("Schedule %(name)s deleted.", name=name), "success")
    return redirect(url_for("stask_panel.schedules"), code=303)


# -- the form -------------------------------------------------------------------------------
def _values_of(row: StoredSchedule | None) -> dict[str, Any]:
    """What the inputs show for a stored schedule (or a new one)."""
    if row is None:
        return {
            "kind": "cron",
            "cron": "0 * * * *",
            "timezone": "UTC",
            "priority": "normal",
            "data": "{}",
            "misfire": "run_once",
            "overlap": "skip",
            "jitter": "0",
            "enabled": True,
        }
    return {
        "name": row.name,
        "preset_id": str(row.preset_id or ""),
        "identifier": row.identifier,
        "action": row.action,
        "data": json.dumps(row.data or {}, ensure_ascii=False),
        "priority": row.priority,
        "kind": "cron" if row.cron else "interval",
        "cron": row.cron or "",
        "interval": str(row.interval or ""),
        "timezone": row.timezone,
        "enabled": row.enabled,
        "misfire": row.misfire,
        "overlap": row.overlap,
        "jitter": str(row.jitter),
        "start_date": f"{row.start_date:%Y-%m-%dT%H:%M}" if row.start_date else "",
        "end_date": f"{row.end_date:%Y-%m-%dT%H:%M}" if row.end_date else "",
    }


def _posted_values() -> dict[str, Any]:
    values: dict[str, Any] = {name: request.form.get(name, "") for name in FORM_FIELDS}
    values["enabled"] = request.form.get("enabled") == "1"
    return values


def _parse(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The API's fields from the form's text; the panel's own parse errors go to ``errors``."""
    fields: dict[str, Any] = {
        "name": values["name"].strip() or None,
        "identifier": values["identifier"],
        "action": values["action"],
        "priority": values["priority"] or "normal",
        "timezone": values["timezone"].strip() or "UTC",
        "enabled": bool(values["enabled"]),
        "misfire": values["misfire"],
        "overlap": values["overlap"],
    }
    preset = values["preset_id"].strip()
    fields["preset_id"] = int(preset) if preset.isdigit() and len(preset) <= 19 else None
    if preset and fields["preset_id"] is None:
        errors["preset_id"] = _("Choose a preset from the list.")
    if fields["preset_id"] is not None:  # the preset's worker, action and priority
        fields.update(identifier=None, action=None, priority=None)
    try:
        fields["data"] = json.loads(values["data"] or "{}")
        if not isinstance(fields["data"], dict):
            raise ValueError
    except ValueError:
        errors["data"] = _('Enter a JSON object, such as {"days": 7}.')
    if values["kind"] == "interval":
        fields["cron"], fields["interval"] = None, _whole(values["interval"], "interval", errors)
    else:
        fields["cron"], fields["interval"] = values["cron"], None
    fields["jitter"] = _whole(values["jitter"] or "0", "jitter", errors)
    for name in ("start_date", "end_date"):
        raw = values[name].strip()
        fields[name] = raw or None
        if raw:
            try:
                parse_datetime(raw, name)
            except StaskError:
                errors[name] = _("Enter a date and time such as 2026-01-31 12:00.")
    return fields


def _whole(raw: str, name: str, errors: dict[str, str]) -> int | None:
    text = raw.strip()
    if not text.isdigit() or len(text) > 9:
        errors[name] = _("Enter a whole number of seconds.")
        return None
    return int(text)


def _field_of(error: InvalidField) -> str:
    """The input an InvalidField belongs to (``data.days`` is the data input's)."""
    field = error.field.split(".", 1)[0]
    return field if field in FORM_FIELDS else "_form"


def _form_page(
    service: Service, row: StoredSchedule | None, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    workers = [w for w in service.workers.registered() if w.active or w.identifier == values.get("identifier")]
    identifier = values.get("identifier") or (workers[0].identifier if workers else "")
    values = {**values, "identifier": identifier}
    body = render_template(
        "stask/schedule_form.html",
        schedule=row,
        values=values,
        errors=errors,
        workers=workers,
        actions=_actions_of(service, identifier),
        presets=[preset for group in service.presets.by_worker().values() for preset in group],
        zones=zone_names(),
        misfires=MISFIRE_POLICIES,
        overlaps=OVERLAP_POLICIES,
        preview=_preview_context(service, values, row),
    )
    return body, status


def _actions_of(service: Service, identifier: str) -> list[str]:
    if not identifier:
        return []
    try:
        definition = service.workers.resolve(identifier)
        return list(definition.worker_class().actions()) if definition else []
    except Exception:  # a plugin that no longer imports: the form still shows, the save is refused
        return []


@panel_bp.route("/schedules/new", methods=["GET", "POST"])
def schedule_new() -> BaseResponse | tuple[str, int]:
    service = current_stask()
    if request.method == "POST":
        return _save(service, None)
    values = _values_of(None)
    wanted = request.args.get("identifier", "")
    if wanted:
        values["identifier"] = wanted
    preset_id = request.args.get("preset_id", "")
    if preset_id.isdigit() and len(preset_id) <= 19:  # "Schedule this preset" on the presets page
        try:
            preset = service.presets.get(int(preset_id))
        except StaskError:
            pass
        else:
            values.update(preset_id=str(preset.id), identifier=preset.identifier, action=preset.action)
            values.update(priority=preset.priority, name=preset.name)
    return _form_page(service, None, values, {})


@panel_bp.route("/schedules/<int:schedule_id>/edit", methods=["GET", "POST"])
def schedule_edit(schedule_id: int) -> BaseResponse | tuple[str, int]:
    service = current_stask()
    row = service.schedules.get(schedule_id)
    if request.method == "POST":
        return _save(service, row)
    return _form_page(service, row, _values_of(row), {})


@write_required
def _save(service: Service, row: StoredSchedule | None) -> BaseResponse | tuple[str, int]:
    values = _posted_values()
    errors: dict[str, str] = {}
    if row is not None and row.source == "code":
        fields: dict[str, Any] = {"enabled": values["enabled"]}  # the code owns the rest
    else:
        fields = _parse(values, errors)
    if not errors:
        try:
            if row is None:
                saved = service.schedules.create(fields, source="panel", created_by=_creator())
                record("schedule.create", f"schedule:{saved.id}", _details(saved))
                flash(_("Schedule %(name)s created.", name=saved.name), "success")
            else:
                saved = service.schedules.update(row.id, fields)
                record("schedule.update", f"schedule:{saved.id}", _details(saved))
                flash(_("Schedule %(name)s saved.", name=saved.name), "success")
            return redirect(url_for("stask_panel.schedules") + f"#schedule-{saved.id}", code=303)
        except InvalidField as exc:
            errors[_field_of(exc)] = str(exc)
        except ScheduleNotFound:
            raise
        except StaskError as exc:
            errors["_form"] = str(exc)
    if row is not None and row.source == "code":
        values = {**_values_of(row), "enabled": values["enabled"]}
    return _form_page(service, row, values, errors, 400)


def _creator() -> str:
    from .audit_trail import current_actor

    return current_actor().label[:191]


def _details(row: StoredSchedule) -> dict[str, Any]:
    return {"name": row.name, "identifier": row.identifier, "action": row.action, "enabled": row.enabled}


@panel_bp.get("/schedules/actions")
def schedule_actions() -> str:
    """The action select for the worker just picked (htmx swaps it in)."""
    service = current_stask()
    identifier = request.args.get("identifier", "")
    return render_template(
        "stask/fragments/schedule_actions.html", actions=_actions_of(service, identifier), selected=""
    )


# -- the preview ----------------------------------------------------------------------------
def _preview_context(service: Service, values: dict[str, Any], row: StoredSchedule | None) -> dict[str, Any]:
    """The words and the next slots of the timing typed so far, or the input's error."""
    kind = values.get("kind") or "cron"
    zone_name = (values.get("timezone") or "").strip() or "UTC"
    result: dict[str, Any] = {"words": "", "slots": [], "error": None, "field": None, "zone": zone_name}
    try:
        cron: str | None = None
        interval: int | None = None
        if kind == "interval":
            raw = str(values.get("interval") or "").strip()
            if not raw.isdigit() or not 1 <= int(raw) <= 366 * 86400:
                result.update(field="interval", error=_("Enter a whole number of seconds, at least 1."))
                return result
            interval = int(raw)
        else:
            cron = str(values.get("cron") or "")
        start = _date_or_none(values.get("start_date"))
        end = _date_or_none(values.get("end_date"))
        keep_anchor = row is not None and row.interval and not start
        slots = service.schedules.preview(
            cron,
            interval,
            zone_name,
            start,
            end,
            anchor=row.anchor if keep_anchor and row else None,
            count=PREVIEW_SLOTS,
        )
    except InvalidField as exc:
        result.update(field=exc.field, error=_preview_message(exc), detail=str(exc))
        return result
    result["words"] = interval_words(interval) if interval else cron_words(_normalised(cron))
    result["slots"] = [{"utc": slot, "local": in_zone(slot, zone_name)} for slot in slots]
    return result


def _normalised(cron: str | None) -> str:
    from ..scheduling.slots import parse_cron

    return parse_cron(cron)


def _date_or_none(raw: Any) -> datetime | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return parse_datetime(text)
    except StaskError:
        return None


def _preview_message(error: InvalidField) -> str:
    messages = {
        "cron": _("Enter a cron expression of 5 fields (minute hour day month weekday) or an alias such as @daily."),
        "timezone": _("Enter an IANA time zone such as Europe/Kyiv."),
        "interval": _("Enter a whole number of seconds, at least 1."),
        "end_date": _("The end date must not be before the start date."),
    }
    return messages.get(error.field, str(error))


@panel_bp.get("/schedules/preview")
def schedule_preview() -> Response:
    """The words and next slots for the inputs typed so far (htmx, as you type)."""
    service = current_stask()
    row = None
    raw_id = request.args.get("schedule_id", "")
    if raw_id.isdigit():
        try:
            row = service.schedules.get(int(raw_id))
        except ScheduleNotFound:
            row = None
    values = {
        name: request.args.get(name, "") for name in ("kind", "cron", "interval", "timezone", "start_date", "end_date")
    }
    body = render_template("stask/fragments/schedule_preview.html", preview=_preview_context(service, values, row))
    response = Response(body)
    response.vary.add("HX-Request")
    return response
