"""``flask stask triggers list|create|rotate|delete``: inbound hook URLs from a shell.

A thin adapter over ``service.triggers`` (registered on ``flask stask`` by :mod:`stask.cli`).
``create`` and ``rotate`` print the token (and the signing secret) this once: nothing can show
them again. The URL printed is the hook's path, made absolute with ``--base-url`` (or the app's
``SERVER_NAME``): a shell does not know the address callers reach the app at.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app

from .cli import _audit, _every_page, clean_errors, stask_cli
from .service import current_stask
from .service.triggers import Issued, hook_path


def _details(row: Any) -> dict[str, Any]:
    """An audit row's details: names, never the token or the secret."""
    return {"name": row.name, "identifier": row.identifier, "action": row.action}


def _url(token: str, base_url: str | None) -> str:
    path = hook_path(current_stask().settings.url_prefix, token)
    server = current_app.config.get("SERVER_NAME")
    if base_url is None and server:
        base_url = f"{current_app.config.get('PREFERRED_URL_SCHEME') or 'http'}://{server}"
    return (base_url or "").rstrip("/") + path


def _print_issued(issued: Issued, base_url: str | None) -> None:
    click.echo(f"id: {issued.trigger.id}")
    if issued.token is not None:
        click.echo(f"url: {_url(issued.token, base_url)}")
        click.echo(f"token: {issued.token}")
    if issued.secret is not None:
        click.echo(f"secret: {issued.secret}")
    click.echo("(shown once: keep them; `flask stask triggers rotate` makes new ones)", err=True)


_BASE_URL = click.option(
    "--base-url", default=None, help="Where callers reach this app (https://tasks.example.com), for the URL printed."
)


@stask_cli.group("triggers")
@clean_errors
def triggers_group() -> None:
    """Inbound hook URLs that start a worker action or a preset: list, create, rotate, delete."""


@triggers_group.command("list")
@click.option("--identifier", default=None, help="Only this worker's triggers.")
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def triggers_list_command(identifier: str | None, as_json: bool) -> None:
    """List triggers (never their tokens)."""
    found = _every_page(current_stask().triggers.page, identifier)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in found], indent=2))
        return
    click.echo(f"{'id':>5} {'name':<32} {'worker.action':<32} {'enabled':<8} {'calls':>7} last call")
    for row in found:
        target = f"{row.identifier}.{row.action}" + (f" (preset {row.preset_id})" if row.preset_id else "")
        last = f"{row.last_called_at:%Y-%m-%d %H:%M:%S}" if row.last_called_at else "never"
        enabled = "yes" if row.enabled else "no"
        click.echo(f"{row.id:>5} {row.name[:32]:<32} {target[:32]:<32} {enabled:<8} {row.calls:>7} {last}")


@triggers_group.command("create")
@click.argument("name")
@click.option("--identifier", default=None, help="The worker (with --action).")
@click.option("--action", default=None, help="The worker's action (with --identifier).")
@click.option("--preset", "preset_id", type=int, default=None, help="Run this preset instead (its worker and action).")
@click.option("--signed", is_flag=True, help="Calls must carry a valid X-Stask-Signature (a secret is printed).")
@click.option("--rate-limit", type=int, default=None, help="Calls per minute (default STASK_TRIGGER_RATE_LIMIT).")
@click.option("--disabled", is_flag=True, help="Store it disabled (its URL answers 404 until enabled).")
@_BASE_URL
@clean_errors
def triggers_create_command(name: str, base_url: str | None, **options: Any) -> None:
    """Create a trigger; print its id, URL and token (and secret): shown once."""
    if options["preset_id"] is None and (options["identifier"] is None or options["action"] is None):
        raise click.ClickException("give --identifier and --action, or --preset")
    given = {key: options[key] for key in ("identifier", "action", "preset_id", "rate_limit")}
    fields: dict[str, Any] = {
        "name": name,
        "signed": options["signed"],
        "enabled": not options["disabled"],
        **{key: value for key, value in given.items() if value is not None},
    }
    issued = current_stask().triggers.create(fields, created_by="cli")
    _audit("trigger.create", f"trigger:{issued.trigger.id}", _details(issued.trigger))
    _print_issued(issued, base_url)


@triggers_group.command("rotate")
@click.argument("trigger_id", type=int)
@click.option("--secret", is_flag=True, help="Replace the signing secret too (signed triggers).")
@_BASE_URL
@clean_errors
def triggers_rotate_command(trigger_id: int, secret: bool, base_url: str | None) -> None:
    """A new token (the old URL stops at once); print it, shown once."""
    issued = current_stask().triggers.rotate(trigger_id, secret=secret)
    _audit("trigger.rotate", f"trigger:{trigger_id}", {**_details(issued.trigger), "secret": secret})
    _print_issued(issued, base_url)


@triggers_group.command("delete")
@click.argument("trigger_id", type=int)
@clean_errors
def triggers_delete_command(trigger_id: int) -> None:
    """Delete (revoke) a trigger: its URL answers 404 at once; its tasks are kept."""
    triggers = current_stask().triggers
    details = _details(triggers.get(trigger_id))
    triggers.delete(trigger_id)
    _audit("trigger.delete", f"trigger:{trigger_id}", details)
    click.echo(f"trigger {trigger_id} deleted")
