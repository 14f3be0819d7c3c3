"""The Notifications pages: the rules (what they match, their events, channel and target, never a
secret), the form (the channel's fields shown by the choice, each refusal next to its input), a
rule's page with its delivery log and a "redeliver" button per delivery, and "send test", whose
answer (status code and the start of the receiver's body) htmx shows in place.

Reads and writes go through ``service.notifications``; every write needs the admin role and
leaves an audit row; the read-only role sees the pages without controls.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from ..exceptions import InvalidField, NotificationNotFound, StaskError
from ..models import Notification
from ..service import Service, current_stask
from ..service import notification_rules as rules
from ..service.notification_rules import InvalidRule
from ..service.notifications import NotificationNameTaken, TestOutcome, parse_delivery_query, parse_rule_query
from .api_notifications import rule_details
from .audit_trail import current_actor, record
from .panel import panel_bp
from .panel_support import is_htmx, write_required

#: The inputs of the form, as the API names them (``secret_clear`` empties a stored secret).
FORM_FIELDS = rules.FIELDS
#: Characters of a receiver's answer a row shows (the whole excerpt is its title).
SHORT_EXCERPT = 80


def _query(args: MultiDict[str, str], **fixed: Any) -> MultiDict[str, str]:
    """The request's page arguments only (filters the page does not offer are not passed on)."""
    kept = MultiDict({key: args.get(key, "") for key in ("page", "per_page", "status", "event") if key in args})
    kept.update(fixed)
    return kept


@panel_bp.get("/notifications")
def notifications() -> str:
    service = current_stask().notifications
    try:
        page = service.list(parse_rule_query(_query(request.args)))
    except StaskError:
        page = service.list(parse_rule_query({}))
    template = "stask/fragments/notification_table.html" if is_htmx() else "stask/notifications.html"
    return render_template(template, page=page, args=_query(request.args))


@panel_bp.get("/notifications/<int:rule_id>")
def notification(rule_id: int) -> str:
    """A rule and its delivery log (newest first; ``status`` and ``event`` filter it)."""
    service = current_stask().notifications
    rule = service.get(rule_id)
    args = _query(request.args)
    try:
        log = service.deliveries_page(parse_delivery_query(args, notification_id=rule.id))
    except StaskError:
        args = MultiDict()
        log = service.deliveries_page(parse_delivery_query({}, notification_id=rule.id))
    context = {"rule": rule, "log": log, "args": args, "short": SHORT_EXCERPT}
    if is_htmx():
        return render_template("stask/fragments/delivery_log.html", **context)
    return render_template("stask/notification.html", **context)


# -- the form -------------------------------------------------------------------------------
def _values_of(rule: Notification | None) -> dict[str, Any]:
    """What the inputs show for a stored rule (or a new one); never its secret."""
    if rule is None:
        return {"channel": "email", "events": ["failed"], "enabled": True, "format": "json", "secret_set": False}
    return {
        "name": rule.name,
        "identifier": rule.identifier or "",
        "action": rule.action or "",
        "events": list(rule.events or ()),
        "channel": rule.channel,
        "to": "\n".join(rule.recipients or ()),
        "url": rule.url or "",
        "secret_set": bool(rule.secret),
        "headers": "\n".join(f"{name}: {value}" for name, value in (rule.headers or {}).items()),
        "format": rule.format,
        "enabled": rule.enabled,
        "language": rule.language or "",
        "subject": rule.subject_template or "",
        "body": rule.body_template or "",
    }


def _posted_values(rule: Notification | None) -> dict[str, Any]:
    """The form as typed (shown again on a refusal; the secret input stays empty)."""
    form = request.form
    values: dict[str, Any] = {name: form.get(name, "") for name in FORM_FIELDS if name not in ("events", "secret")}
    values["events"] = form.getlist("events")
    values["enabled"] = form.get("enabled") == "1"
    values["secret_set"] = bool(rule is not None and rule.secret)
    values["secret_clear"] = form.get("secret_clear") == "1"
    return values


def _parse(values: dict[str, Any], rule: Notification | None, errors: dict[str, str]) -> dict[str, Any]:
    """The API's fields from the form's text: only the chosen channel's (the other's inputs are hidden)."""
    channel = values["channel"]
    fields: dict[str, Any] = {
        "name": values["name"],
        "identifier": values["identifier"].strip() or None,
        "action": values["action"].strip() or None,
        "events": values["events"],
        "channel": channel,
        "enabled": values["enabled"],
        "language": values["language"] or None,
    }
    if channel == "email":
        addresses = [part.strip() for line in values["to"].splitlines() for part in line.split(",")]
        fields["to"] = [address for address in addresses if address] or None
        fields["subject"] = values["subject"].strip() or None
        fields["body"] = values["body"] if values["body"].strip() else None
    elif channel == "webhook":
        fields["url"] = values["url"].strip() or None
        fields["format"] = values["format"] or "json"
        fields["headers"] = _headers(values["headers"], errors)
        secret = request.form.get("secret", "")
        if values["secret_clear"]:
            fields["secret"] = None
        elif secret:
            fields["secret"] = secret
        elif rule is None:
            fields["secret"] = None
    if rule is not None and rule.task_id is not None:  # a task's rule: no name, worker or action to change
        for name in ("name", "identifier", "action"):
            fields.pop(name)
    return fields


def _headers(text: str, errors: dict[str, str]) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            errors["headers"] = _("Write one header per line, as Name: value.")
            return None
        headers[name.strip()] = value.strip()
    return headers or None


def _errors_of(exc: StaskError) -> dict[str, str]:
    """A service refusal as form errors under the inputs it names, else on the form."""
    if isinstance(exc, NotificationNameTaken):
        return {"name": _("Another rule has this name.")}
    if isinstance(exc, InvalidRule):
        return {key if key in FORM_FIELDS else "_form": text for key, text in exc.errors.items()}
    if isinstance(exc, InvalidField) and exc.field in FORM_FIELDS:
        return {exc.field: str(exc)}
    return {"_form": str(exc)}


def _form_page(
    service: Service, rule: Notification | None, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    body = render_template(
        "stask/notification_form.html",
        rule=rule,
        values=values,
        errors=errors,
        workers=service.workers.registered(),
        events=rules.EVENTS if rule is None or rule.task_id is None else rules.TASK_EVENTS,
        formats=rules.FORMATS,
        languages=rules.LANGUAGES,
    )
    return body, status


@panel_bp.route("/notifications/new", methods=["GET", "POST"])
def notification_new() -> BaseResponse | tuple[str, int]:
    service = current_stask()
    if request.method == "POST":
        return _save(service, None)
    return _form_page(service, None, _values_of(None), {})


@panel_bp.route("/notifications/<int:rule_id>/edit", methods=["GET", "POST"])
def notification_edit(rule_id: int) -> BaseResponse | tuple[str, int]:
    service = current_stask()
    rule = service.notifications.get(rule_id)
    if request.method == "POST":
        return _save(service, rule)
    return _form_page(service, rule, _values_of(rule), {})


@write_required
def _save(service: Service, rule: Notification | None) -> BaseResponse | tuple[str, int]:
    values = _posted_values(rule)
    errors: dict[str, str] = {}
    fields = _parse(values, rule, errors)
    if not errors:
        try:
            if rule is None:
                saved = service.notifications.create(fields, created_by=current_actor().label[:191])
                record("notification.create", f"notification:{saved.id}", rule_details(saved))
            else:
                saved = service.notifications.update(rule.id, fields)
                record("notification.update", f"notification:{saved.id}", rule_details(saved, fields))
        except NotificationNotFound:
            raise
        except StaskError as exc:
            service.db.session.rollback()
            errors = _errors_of(exc)
        else:
            flash(_("Rule “%(name)s” saved.", name=saved.name), "success")
            return redirect(url_for("stask_panel.notification", rule_id=saved.id), code=303)
    if rule is not None:
        rule = service.notifications.get(rule.id)
    return _form_page(service, rule, values, errors, 400)


# -- actions --------------------------------------------------------------------------------
@panel_bp.post("/notifications/<int:rule_id>/delete")
@write_required
def notification_delete(rule_id: int) -> BaseResponse:
    service = current_stask().notifications
    rule = service.get(rule_id)
    name, details = rule.name, rule_details(rule)
    service.delete(rule_id)
    record("notification.delete", f"notification:{rule_id}", details)
    flash(_("Rule “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("stask_panel.notifications"), code=303)


@panel_bp.post("/notifications/<int:rule_id>/test")
@write_required
def notification_test(rule_id: int) -> BaseResponse | str:
    """Send a sample event now: htmx gets the receiver's answer in place, a plain form a flash."""
    service = current_stask().notifications
    rule = service.get(rule_id)
    outcome = service.send_test(rule_id)
    record("notification.test", f"notification:{rule_id}", {"ok": outcome.ok, "response_code": outcome.response_code})
    if is_htmx():
        return render_template("stask/fragments/notification_test.html", outcome=outcome, rule=rule)
    flash(_test_words(outcome), "success" if outcome.ok else "error")
    back = url_for("stask_panel.notifications") + f"#rule-{rule_id}"
    if request.form.get("back") == "rule":
        back = url_for("stask_panel.notification", rule_id=rule_id)
    return redirect(back, code=303)


def _test_words(outcome: TestOutcome) -> str:
    code = outcome.response_code if outcome.response_code is not None else "—"
    if outcome.ok:
        return _("Test sent: the receiver answered %(code)s. %(excerpt)s", code=code, excerpt=outcome.excerpt)
    return _(
        "Test failed (%(code)s): %(error)s %(excerpt)s", code=code, error=outcome.error or "", excerpt=outcome.excerpt
    )


@panel_bp.post("/deliveries/<int:delivery_id>/redeliver")
@write_required
def delivery_redeliver(delivery_id: int) -> BaseResponse | str:
    """Send a delivery again: htmx gets its row back (queued), a plain form the rule's page."""
    service = current_stask().notifications
    rule_id = service.delivery(delivery_id).notification_id
    try:
        delivery = service.redeliver(delivery_id)
    except StaskError as exc:
        if is_htmx():
            return render_template("stask/fragments/notification_test.html", outcome=None, error=str(exc))
        flash(str(exc), "error")
        return redirect(url_for("stask_panel.notification", rule_id=rule_id), code=303)
    record("delivery.redeliver", f"delivery:{delivery_id}", {"notification": delivery.notification_id})
    if is_htmx():
        return render_template("stask/fragments/delivery_row.html", d=delivery, short=SHORT_EXCERPT)
    flash(_("Delivery %(id)s queued again.", id=delivery_id), "success")
    return redirect(url_for("stask_panel.notification", rule_id=rule_id) + f"#delivery-{delivery_id}", code=303)
