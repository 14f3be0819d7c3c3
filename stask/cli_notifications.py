"""``flask stask notifications list|create|delete|test`` and ``flask stask deliveries list|redeliver``.

Thin over ``service.notifications`` like the other commands: refusals are one line on stderr
and exit status 1; ``--json`` prints the API's objects (a rule's secret never: ``secret_set``).
Registered on :data:`stask.cli.stask_cli` when that module is imported.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .cli import _audit, clean_errors, stask_cli
from .service import current_stask
from .service import notification_rules as rules
from .service.listing import MAX_PER_PAGE
from .service.notifications import DELIVERY_STATUSES, parse_delivery_query, parse_rule_query


def _strings(options: dict[str, Any]) -> dict[str, str]:
    """Options as the lists' query parameters (the API's rules check them: ids in range, identifiers)."""
    return {key: "" if value is None else str(value) for key, value in options.items()}


def _details(rule: Any, fields: Any = None) -> dict[str, Any]:
    """An audit row's details: names and the channel, never a secret or an address."""
    details: dict[str, Any] = {
        "name": rule.name,
        "identifier": rule.identifier,
        "action": rule.action,
        "channel": rule.channel,
    }
    if fields is not None:
        details["fields"] = sorted(fields)
    return details


def _target(rule: Any) -> str:
    if rule.channel == "email":
        return ", ".join(rule.recipients or ())
    return f"{rule.format} {rule.url}"


def _rule_line(rule: Any) -> str:
    match = f"{rule.identifier or '*'}.{rule.action or '*'}"
    cells = [
        f"{rule.id:>5}",
        f"{rule.name[:28]:<28}",
        f"{match[:28]:<28}",
        f"{','.join(rule.events)[:30]:<30}",
        f"{'on' if rule.enabled else 'off':<4}",
        f"{rule.channel:<8}",
        _target(rule)[:60],
    ]
    return " ".join(cells).rstrip()


def _headers(values: tuple[str, ...]) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    for value in values:
        name, colon, text = value.partition(":")
        if not colon or not name.strip():
            raise click.ClickException(f"--header {value[:60]!r}: write it as 'Name: value'")
        headers[name.strip()] = text.strip()
    return headers or None


# -- rules ---------------------------------------------------------------------------------------
@stask_cli.group("notifications")
@clean_errors
def notifications_group() -> None:
    """Notification rules: list, create, delete, send a test (docs/notifications.md)."""


@notifications_group.command("list")
@click.option("--channel", type=click.Choice(rules.CHANNELS), default=None)
@click.option("--identifier", default=None, help="Only the rules naming this worker.")
@click.option("--task-id", type=int, default=None, help="The rules this task brought (notify=[...]) instead.")
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def notifications_list_command(channel: str | None, identifier: str | None, task_id: int | None, as_json: bool) -> None:
    """List rules by name (never a secret)."""
    service = current_stask().notifications
    rows: list[Any] = []
    number = 1
    while True:
        args = {
            "channel": channel,
            "identifier": identifier,
            "task_id": task_id,
            "page": number,
            "per_page": MAX_PER_PAGE,
        }
        page = service.list(parse_rule_query(_strings(args)))
        rows.extend(page.items)
        if number * page.per_page >= page.total:
            break
        number += 1
    if as_json:
        click.echo(json.dumps([service.to_dict(row) for row in rows], indent=2))
        return
    click.echo(f"{'id':>5} {'name':<28} {'worker.action':<28} {'events':<30} {'on':<4} {'channel':<8} target")
    for row in rows:
        click.echo(_rule_line(row))


@notifications_group.command("create")
@click.option("--name", required=True, help="Unique.")
@click.option("--channel", type=click.Choice(rules.CHANNELS), required=True)
@click.option("--event", "events", multiple=True, required=True, help=f"Repeat: {', '.join(rules.EVENTS)}.")
@click.option("--identifier", default=None, help="Only this worker's tasks (default: any worker).")
@click.option("--action", default=None, help="Only this action's tasks (default: any action).")
@click.option("--to", "recipients", multiple=True, help="E-mail: a recipient (repeat).")
@click.option("--subject", default=None, help="E-mail: the subject's template.")
@click.option("--body", default=None, help="E-mail: the body's template.")
@click.option("--url", default=None, help="Webhook: where to POST.")
@click.option("--secret", default=None, help="Webhook: HMAC key of X-Stask-Signature (never shown again).")
@click.option("--header", "headers", multiple=True, help="Webhook: an extra header, 'Name: value' (repeat).")
@click.option("--format", "body_format", type=click.Choice(rules.FORMATS), default=None, help="Webhook: the body.")
@click.option("--language", type=click.Choice(rules.LANGUAGES), default=None)
@click.option("--disabled", is_flag=True, help="Store it switched off.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored rule.")
@clean_errors
def notifications_create_command(
    recipients: tuple[str, ...],
    headers: tuple[str, ...],
    events: tuple[str, ...],
    body_format: str | None,
    disabled: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Store a rule and print its id."""
    fields: dict[str, Any] = {key: value for key, value in options.items() if value is not None}
    fields["events"] = list(events)
    if recipients:
        fields["to"] = list(recipients)
    if headers:
        fields["headers"] = _headers(headers)
    if body_format is not None:
        fields["format"] = body_format
    if disabled:
        fields["enabled"] = False
    service = current_stask().notifications
    rule = service.create(fields, created_by="cli")
    _audit("notification.create", f"notification:{rule.id}", _details(rule))
    click.echo(json.dumps(service.to_dict(rule), indent=2) if as_json else rule.id)


@notifications_group.command("delete")
@click.argument("rule_id", type=int)
@clean_errors
def notifications_delete_command(rule_id: int) -> None:
    """Delete a rule and its delivery log."""
    service = current_stask().notifications
    details = _details(service.get(rule_id))
    service.delete(rule_id)
    _audit("notification.delete", f"notification:{rule_id}", details)
    click.echo(f"notification rule {rule_id} deleted")


@notifications_group.command("test")
@click.argument("rule_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def notifications_test_command(rule_id: int, as_json: bool) -> None:
    """Send a sample event through a rule now and print what the receiver answered (exit 1: it failed)."""
    outcome = current_stask().notifications.send_test(rule_id)
    _audit("notification.test", f"notification:{rule_id}", {"ok": outcome.ok, "response_code": outcome.response_code})
    code = outcome.response_code if outcome.response_code is not None else "-"
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), indent=2))
    elif outcome.ok:
        click.echo(f"ok {code}: {outcome.excerpt}".rstrip())
    if not outcome.ok:
        raise click.ClickException(f"test failed ({code}): {outcome.error}: {outcome.excerpt}".splitlines()[0])


# -- the delivery log ----------------------------------------------------------------------------
@stask_cli.group("deliveries")
@clean_errors
def deliveries_group() -> None:
    """The delivery log of notification rules: list, redeliver."""


def _delivery_line(delivery: Any) -> str:
    code = delivery.response_code if delivery.response_code is not None else "-"
    cells = [
        f"{delivery.id:>6}",
        f"{delivery.created_at:%Y-%m-%d %H:%M:%S}Z",
        f"{delivery.notification_id:>5}",
        f"{delivery.event:<15}",
        f"{delivery.subject[:24]:<24}",
        f"{delivery.status:<9}",
        f"{delivery.attempts:>3}",
        f"{code!s:>4}",
        (delivery.error or delivery.response_excerpt or "").replace("\n", " ")[:50],
    ]
    return " ".join(cells).rstrip()


@deliveries_group.command("list")
@click.option("--notification-id", type=int, default=None, help="Only this rule's.")
@click.option("--status", type=click.Choice(DELIVERY_STATUSES), default=None)
@click.option("--task-id", type=int, default=None)
@click.option("--event", type=click.Choice(rules.EVENTS), default=None)
@click.option("--limit", type=click.IntRange(1, MAX_PER_PAGE), default=50, show_default=True, help="Newest first.")
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def deliveries_list_command(limit: int, as_json: bool, **filters: Any) -> None:
    """The newest deliveries (time in UTC, response code, start of the answer or the error)."""
    service = current_stask().notifications
    page = service.deliveries_page(parse_delivery_query(_strings({**filters, "per_page": limit})))
    if as_json:
        click.echo(json.dumps([service.delivery_dict(row) for row in page.items], indent=2))
        return
    click.echo(
        f"{'id':>6} {'created (UTC)':<20} {'rule':>5} {'event':<15} {'subject':<24} {'status':<9} try code answer"
    )
    for row in page.items:
        click.echo(_delivery_line(row))


@deliveries_group.command("redeliver")
@click.argument("delivery_id", type=int)
@clean_errors
def deliveries_redeliver_command(delivery_id: int) -> None:
    """Send a delivery again (a new notifier task)."""
    delivery = current_stask().notifications.redeliver(delivery_id)
    _audit("delivery.redeliver", f"delivery:{delivery_id}", {"notification": delivery.notification_id})
    click.echo(f"delivery {delivery_id} queued again ({delivery.status})")
