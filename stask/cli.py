"""``flask stask …``: run workers, the cron job, and manage tasks and workers from a shell."""

from __future__ import annotations

import functools
import getpass
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import click
import redis
import sqlalchemy.exc as sa_exc
from flask import current_app
from flask.cli import AppGroup

from .engine.outages import EXIT_OUTAGE, OutageTooLong
from .enums import QUEUE_ORDER, Priority
from .exceptions import StaskError
from .service import current_stask
from .service.audit import Actor
from .service.listing import MAX_PER_PAGE
from .service.schedules import changed_fields, field_values
from .service.sessions import Sessions

stask_cli = AppGroup("stask", help="Background tasks: workers, the cron job, tasks and worker plugins.")


def clean_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Refusals become one readable line on stderr and exit status 1, never a traceback.

    So does an unreachable database or Redis: the driver's first line, with any password
    masked (a connection URL can appear in it), instead of SQLAlchemy's page of context.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except StaskError as exc:
            raise click.ClickException(str(exc)) from None
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise click.ClickException(f"database unreachable: {first_line(exc.orig or exc)}") from None
        except sa_exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            raise click.ClickException(f"database unreachable: {first_line(exc.orig or exc)}") from None
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise click.ClickException(f"Redis unreachable: {first_line(exc)}") from None

    wrapper.refuses_cleanly = True  # type: ignore[attr-defined]  # the tests check every command has it
    return wrapper


#: ``scheme://user:secret@`` in a URL, and ``password=secret`` in a libpq connection string.
_SECRETS = (
    (re.compile(r"(\w+://[^:/@\s]*):[^@\s]*@"), r"\1:***@"),
    (re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE), r"\1***"),
)


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error's message, passwords masked."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _audit(action: str, target: str | None = None, details: dict[str, Any] | None = None) -> None:
    """One audit row for a change made from the shell: the OS user, with the admin role."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = "unknown"
    label = "cli:" + (re.sub(r"[^A-Za-z0-9_.@-]", "_", user)[:64] or "unknown")
    current_stask().audit.record(Actor(role="admin", kind="cli", label=label, client="local"), action, target, details)


def _bar(label: str) -> Callable[[int, int], None]:
    """A progress callback printing ``label: done/total`` on one refreshed line."""

    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        click.echo(f"\r{label}: {done}/{total}", nl=False, err=True)
        if end:
            click.echo("", err=True)

    return report


@stask_cli.command("worker")
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option(
    "--queues",
    "-q",
    default=",".join(QUEUE_ORDER),
    show_default=True,
    help="Comma-separated queues, served strictly in this order.",
)
@click.option(
    "--worker-class",
    "-w",
    default=None,
    help="fork (default: one process per task), simple (in-process) or a dotted path.",
)
@click.option(
    "--with-scheduler/--without-scheduler",
    default=True,
    show_default=True,
    help="Also move due delayed tasks and retries onto the queues.",
)
@click.option("--max-jobs", type=int, default=None, help="Exit after this many jobs.")
@clean_errors
def worker_command(
    burst: bool, queues: str, worker_class: str | None, with_scheduler: bool, max_jobs: int | None
) -> None:
    """Serve the high, normal and low queues."""
    from .engine.processes import build_worker, show_decisions

    names = [q.strip() for q in queues.split(",") if q.strip()]
    for name in names:
        Priority.parse(name)
    try:
        try:
            worker = build_worker(current_app._get_current_object(), names, worker_class)  # type: ignore[attr-defined]
        except (ImportError, AttributeError, TypeError) as exc:
            raise click.ClickException(f"cannot use worker class {worker_class!r}: {exc}") from None
        show_decisions()  # "task 12 failed: …" beside RQ's lines
        worker.work(burst=burst, with_scheduler=with_scheduler, max_jobs=max_jobs, logging_level="INFO")
    except OutageTooLong as exc:  # a supervisor restarts it: a non-zero status that is not a crash
        click.echo(f"Error: {first_line(RuntimeError(exc.reason))}", err=True)
        sys.exit(EXIT_OUTAGE)


@stask_cli.command("process")
@click.option("--limit", type=int, default=None, help="Run at most this many tasks.")
@clean_errors
def process_command(limit: int | None) -> None:
    """The cron job: fire due schedules, reconcile SQL with Redis, run every due task here, then exit."""
    current_stask().runtime.redis.ping()  # refuse in one line rather than fail attempts for want of Redis
    fired = current_stask().schedules.fire_due()
    if fired.created or fired.skipped:
        click.echo(f"schedules: {len(fired.created)} task(s) created, {fired.skipped} slot(s) skipped")
    finished = current_stask().recovery.process_pending_tasks(limit=limit, on_progress=_bar("tasks"))
    click.echo(f"{finished} task(s) finished")
    from .monitoring.alerts import deliver_alerts
    from .monitoring.event_watch import watch_events

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    deliver_alerts(app)
    if watch_events(app):  # stuck tasks, missed slots: their notifications are sent now
        current_stask().recovery.process_pending_tasks(limit=limit)


@stask_cli.command("create")
@click.argument("identifier")
@click.argument("action")
@click.option("--data", default="{}", help="Options as a JSON object.")
@click.option("--priority", default="normal", type=click.Choice([p.value for p in Priority]), show_default=True)
@click.option("--start-at", default=None, help="ISO 8601 date-time (UTC unless an offset is given).")
@click.option("--max-attempts", type=int, default=None)
@click.option("--depends-on", default=None, help="Wait for these task ids to end first (comma-separated).")
@click.option(
    "--on-parent-failure",
    type=click.Choice(["cancel", "run"]),
    default=None,
    help="When a parent fails or is cancelled: cancel this task (default) or run it anyway.",
)
@click.option(
    "--notify",
    multiple=True,
    help="Tell this address or URL when the task finishes or fails (repeatable; docs/notifications.md).",
)
@clean_errors
def create_command(
    identifier: str,
    action: str,
    data: str,
    priority: str,
    start_at: str | None,
    max_attempts: int | None,
    depends_on: str | None,
    on_parent_failure: str | None,
    notify: tuple[str, ...],
) -> None:
    """Create a task and print its id."""
    try:
        options = json.loads(data)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--data is not valid JSON: {exc}") from None
    task = current_stask().tasks.create(
        identifier,
        action,
        data=options,
        priority=priority,
        start_at=start_at,
        max_attempts=max_attempts,
        depends_on=depends_on,  # type: ignore[arg-type]  # "3,4": the service splits it
        on_parent_failure=on_parent_failure,
        notify=list(notify) or None,
    )
    _audit(
        "task.create",
        f"task:{task.id}",
        {"identifier": task.identifier, "action": task.action, "priority": task.priority},
    )
    click.echo(task.id)


@stask_cli.command("status")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def status_command(task_id: int, as_json: bool) -> None:
    """Show one task and the tail of its log."""
    tasks = current_stask().tasks
    task = tasks.get(task_id)
    info = tasks.progress(task_id)
    if as_json:
        click.echo(json.dumps({**task.to_dict(), **info}, indent=2))
        return
    click.echo(
        f"task {task.id}: {task.identifier}.{task.action} [{task.priority}] {task.status_text} "
        f"{info['progress']}% attempts {task.attempts}/{task.max_attempts}"
    )
    if info["message"]:
        click.echo(f"message: {info['message']}")
    if task.error:
        click.echo(f"error: {task.error}")
    if task.result:
        click.echo(f"result: {task.result}")
    for line in info["log_lines"]:
        click.echo(f"  {line}")


@stask_cli.command("stats")
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def stats_command(as_json: bool) -> None:
    """Task counts by status, and workers."""
    stats = current_stask().tasks.stats()
    if as_json:
        click.echo(json.dumps(stats))
        return
    for key, value in stats.items():
        click.echo(f"{key:>15}: {value}")


@stask_cli.command("retry")
@click.argument("task_id", type=int)
@clean_errors
def retry_command(task_id: int) -> None:
    """Queue a failed or cancelled task again."""
    task = current_stask().tasks.retry(task_id)
    _audit("task.retry", f"task:{task.id}")
    click.echo(f"task {task.id} queued again: {task.message}")  # what it was granted


@stask_cli.command("cancel")
@click.argument("task_id", type=int)
@clean_errors
def cancel_command(task_id: int) -> None:
    """Cancel a queued task, or ask a running one to stop."""
    task = current_stask().tasks.cancel(task_id)
    _audit("task.cancel" if task.is_final else "task.stop", f"task:{task.id}")
    click.echo(f"task {task.id} {'cancelled' if task.is_final else 'asked to stop'}")


@stask_cli.command("cleanup")
@click.option("--days", type=click.IntRange(min=0), default=30, show_default=True)
@clean_errors
def cleanup_command(days: int) -> None:
    """Delete ended tasks older than DAYS, with their logs and result files (and audit rows past
    STASK_AUDIT_RETENTION_DAYS, whatever DAYS says)."""
    removed = current_stask().tasks.cleanup(days=days, on_progress=_bar("deleted"))
    if removed:
        _audit("task.cleanup", "tasks", {"days": days, "count": removed})
    expired = current_stask().audit.cleanup()  # the audit log's own retention, never the tasks' days
    click.echo(f"{removed} task(s) deleted")
    if expired:
        click.echo(f"{expired} audit row(s) past STASK_AUDIT_RETENTION_DAYS deleted")


@stask_cli.command("discover")
@click.option("--strict", is_flag=True, help="Exit with status 2 when an invalid worker class was found.")
@clean_errors
def discover_command(strict: bool) -> None:
    """Register worker classes found in installed packages and STASK_WORKERS."""
    report = current_stask().workers.discover()
    _audit("worker.discover", None, {key: report[key] for key in ("added", "updated", "missing")})
    for key in ("added", "updated", "missing"):
        if report[key]:
            click.echo(f"{key}: {', '.join(report[key])}")
    for item in report["invalid"]:
        click.echo(f"invalid: {item['source']}: {item['reason']}", err=True)
    click.echo(f"{len(report['workers'])} valid worker(s)")
    if strict and report["invalid"]:
        sys.exit(2)


@stask_cli.command("workers")
@clean_errors
def workers_command() -> None:
    """List registered workers."""
    for row in current_stask().workers.registered():
        state = "active" if row.active else "inactive"
        click.echo(f"{row.identifier:<24} {state:<9} {row.scope:<16} {row.title}")


@stask_cli.command("activate")
@click.argument("identifier")
@clean_errors
def activate_command(identifier: str) -> None:
    """Let tasks be created for a worker."""
    current_stask().workers.set_active(identifier, True)
    _audit("worker.activate", f"worker:{identifier}")
    click.echo(f"{identifier} activated")


@stask_cli.command("deactivate")
@click.argument("identifier")
@clean_errors
def deactivate_command(identifier: str) -> None:
    """Refuse new tasks for a worker."""
    current_stask().workers.set_active(identifier, False)
    _audit("worker.deactivate", f"worker:{identifier}")
    click.echo(f"{identifier} deactivated")


@stask_cli.group("sessions")
@clean_errors
def sessions_group() -> None:
    """Sign-ins of the login page (kept in Redis)."""


@sessions_group.command("revoke")
@click.option("--role", type=click.Choice(["admin", "readonly"]), default=None, help="only this role's sign-ins")
@clean_errors
def sessions_revoke_command(role: str | None) -> None:
    """Sign every browser out at once (bearer tokens and STASK_AUTHORIZE are not sessions)."""
    ended = Sessions(current_stask().runtime).revoke_all(role)
    click.echo(f"{ended} sign-in(s) ended")


def _every_page(page: Callable[[str | None, int, int], Any], identifier: str | None) -> list[Any]:
    """Every row of a paged list (a CLI listing is not paged)."""
    rows: list[Any] = []
    number = 1
    while True:
        part = page(identifier, number, MAX_PER_PAGE)
        rows.extend(part.items)
        if number * part.per_page >= part.total:
            return rows
        number += 1


def _json_option(value: str | None, option: str = "--data") -> Any:
    """An option's JSON text parsed (None when not given); a one-line refusal when it is not JSON."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{option} is not valid JSON: {exc}") from None


# -- schedules -----------------------------------------------------------------------------------
def _schedule_fields(**options: Any) -> dict[str, Any]:
    """The options given on the command line as schedule fields (``--data`` parsed as JSON)."""
    fields = {key: value for key, value in options.items() if value is not None}
    if "data" in fields:
        fields["data"] = _json_option(fields["data"])
    return fields


def _schedule_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``schedule add`` and ``schedule update`` share (unset: not given)."""
    for option in reversed(
        [
            click.option("--cron", default=None, help="5-field cron expression or @hourly/@daily/@weekly/..."),
            click.option("--interval", type=int, default=None, help="Seconds between runs (instead of --cron)."),
            click.option("--name", default=None),
            click.option("--data", default=None, help="Options of each task, a JSON object."),
            click.option("--priority", type=click.Choice([p.value for p in Priority]), default=None),
            click.option("--timezone", default=None, help="IANA zone of the cron expression (default UTC)."),
            click.option("--misfire", type=click.Choice(["skip", "run_once", "catch_up"]), default=None),
            click.option("--overlap", type=click.Choice(["skip", "allow"]), default=None),
            click.option("--jitter", type=int, default=None, help="Delay each run by up to this many seconds."),
            click.option("--start-date", default=None, help="ISO 8601; no run before."),
            click.option("--end-date", default=None, help="ISO 8601; no run after."),
            click.option(
                "--preset",
                "preset_id",
                type=int,
                default=None,
                help="Run this preset (its worker, action, data and priority at each run; --data is merged over).",
            ),
        ]
    ):
        command = option(command)
    return command


def _schedule_columns(*values: Any) -> str:
    widths = (5, 28, 28, 16, 16, 8, 21, 0)
    cells = [
        f"{str(value)[: width or None]:{'>' if index == 0 else '<'}{width}}"
        for index, (value, width) in enumerate(zip(values, widths, strict=True))
    ]
    return " ".join(cells).rstrip()


def _schedule_line(row: Any) -> str:
    return _schedule_columns(
        row.id,
        row.name,
        f"{row.identifier}.{row.action}",
        row.cron or f"every {row.interval}s",
        row.timezone,
        "enabled" if row.enabled else "paused",
        f"{row.next_run_at:%Y-%m-%d %H:%M:%S}Z" if row.next_run_at else "-",
        row.source,
    )


@stask_cli.command("schedules")
@click.option("--identifier", default=None, help="Only this worker's schedules.")
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def schedules_command(identifier: str | None, as_json: bool) -> None:
    """List schedules with their next run (UTC)."""
    rows = _every_page(current_stask().schedules.page, identifier)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    click.echo(
        _schedule_columns("id", "name", "worker.action", "cron/interval", "timezone", "state", "next run", "source")
    )
    for row in rows:
        click.echo(_schedule_line(row))


@stask_cli.group("schedule")
@clean_errors
def schedule_group() -> None:
    """Add, change, remove, pause, resume or run a schedule."""


@schedule_group.command("add")
@click.argument("identifier")
@click.argument("action")
@_schedule_options
@click.option("--disabled", is_flag=True, help="Store it paused.")
@clean_errors
def schedule_add_command(identifier: str, action: str, disabled: bool, **options: Any) -> None:
    """Store a schedule of IDENTIFIER's ACTION and print its id."""
    fields = {"identifier": identifier, "action": action, **_schedule_fields(**options)}
    if disabled:
        fields["enabled"] = False
    row = current_stask().schedules.create(fields, created_by="cli")
    _audit("schedule.create", f"schedule:{row.id}", {"identifier": row.identifier, "action": row.action})
    click.echo(row.id)


@schedule_group.command("update")
@click.argument("schedule_id", type=int)
@_schedule_options
@click.option("--identifier", default=None)
@click.option("--action", default=None)
@clean_errors
def schedule_update_command(schedule_id: int, **options: Any) -> None:
    """Change the options given; the others are kept."""
    fields = _schedule_fields(**options)
    if not fields:
        raise click.ClickException("nothing to change: give at least one option")
    service = current_stask().schedules
    before = field_values(service.get(schedule_id))
    row = service.update(schedule_id, fields)
    _audit("schedule.update", f"schedule:{row.id}", {"fields": changed_fields(before, row)})
    click.echo(_schedule_line(row))


@schedule_group.command("remove")
@click.argument("schedule_id", type=int)
@clean_errors
def schedule_remove_command(schedule_id: int) -> None:
    """Delete a schedule (one declared in code can only be paused)."""
    current_stask().schedules.delete(schedule_id)
    _audit("schedule.delete", f"schedule:{schedule_id}")
    click.echo(f"schedule {schedule_id} removed")


@schedule_group.command("pause")
@click.argument("schedule_id", type=int)
@clean_errors
def schedule_pause_command(schedule_id: int) -> None:
    current_stask().schedules.set_enabled(schedule_id, False)
    _audit("schedule.pause", f"schedule:{schedule_id}")
    click.echo(f"schedule {schedule_id} paused")


@schedule_group.command("resume")
@click.argument("schedule_id", type=int)
@clean_errors
def schedule_resume_command(schedule_id: int) -> None:
    row = current_stask().schedules.set_enabled(schedule_id, True)
    _audit("schedule.resume", f"schedule:{schedule_id}")
    following = f"{row.next_run_at:%Y-%m-%d %H:%M:%S}Z" if row.next_run_at else "none"
    click.echo(f"schedule {schedule_id} resumed; next run {following}")


@schedule_group.command("run")
@click.argument("schedule_id", type=int)
@clean_errors
def schedule_run_command(schedule_id: int) -> None:
    """Create the schedule's task now and print its id."""
    task = current_stask().schedules.run_now(schedule_id)
    _audit("schedule.run", f"schedule:{schedule_id}", {"task": task.id})
    click.echo(task.id)


# -- presets -------------------------------------------------------------------------------------
def _preset_line(row: Any) -> str:
    cells = [f"{row.id:>5}", f"{row.name[:32]:<32}", f"{row.identifier}.{row.action}"[:32].ljust(32), row.priority]
    return " ".join(cells).rstrip()


def _preset_details(row: Any) -> dict[str, Any]:
    return {"name": row.name, "identifier": row.identifier, "action": row.action}


@stask_cli.command("presets")
@click.option("--identifier", default=None, help="Only this worker's presets.")
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def presets_command(identifier: str | None, as_json: bool) -> None:
    """List presets (saved runs of a worker action)."""
    rows = _every_page(current_stask().presets.page, identifier)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    click.echo(f"{'id':>5} {'name':<32} {'worker.action':<32} priority")
    for row in rows:
        click.echo(_preset_line(row))


@stask_cli.group("preset")
@clean_errors
def preset_group() -> None:
    """Add, change, remove or run a preset."""


@preset_group.command("add")
@click.argument("identifier")
@click.argument("action")
@click.option("--name", required=True, help="Unique for this worker.")
@click.option("--data", default=None, help="Options of each run, a JSON object.")
@click.option("--priority", type=click.Choice([p.value for p in Priority]), default=None)
@clean_errors
def preset_add_command(identifier: str, action: str, name: str, data: str | None, priority: str | None) -> None:
    """Store a preset of IDENTIFIER's ACTION and print its id."""
    fields: dict[str, Any] = {"name": name, "identifier": identifier, "action": action}
    if data is not None:
        fields["data"] = _json_option(data)
    if priority is not None:
        fields["priority"] = priority
    row = current_stask().presets.create(fields, created_by="cli")
    _audit("preset.create", f"preset:{row.id}", _preset_details(row))
    click.echo(row.id)


@preset_group.command("update")
@click.argument("preset_id", type=int)
@click.option("--name", default=None)
@click.option("--identifier", default=None)
@click.option("--action", default=None)
@click.option("--data", default=None, help="Replaces the preset's data, a JSON object.")
@click.option("--priority", type=click.Choice([p.value for p in Priority]), default=None)
@clean_errors
def preset_update_command(preset_id: int, data: str | None, **options: Any) -> None:
    """Change the options given; the others are kept."""
    fields = {key: value for key, value in options.items() if value is not None}
    if data is not None:
        fields["data"] = _json_option(data)
    if not fields:
        raise click.ClickException("nothing to change: give at least one option")
    row = current_stask().presets.update(preset_id, fields)
    _audit("preset.update", f"preset:{row.id}", {**_preset_details(row), "fields": sorted(fields)})
    click.echo(_preset_line(row))


@preset_group.command("remove")
@click.argument("preset_id", type=int)
@clean_errors
def preset_remove_command(preset_id: int) -> None:
    """Delete a preset (the tasks it made are kept)."""
    current_stask().presets.delete(preset_id)
    _audit("preset.delete", f"preset:{preset_id}")
    click.echo(f"preset {preset_id} removed")


@preset_group.command("run")
@click.argument("preset_id", type=int)
@click.option("--data", default=None, help="Merged over the preset's data (one level deep), a JSON object.")
@clean_errors
def preset_run_command(preset_id: int, data: str | None) -> None:
    """Create the preset's task now and print its id."""
    overrides = _json_option(data)
    if overrides is not None and not isinstance(overrides, dict):
        raise click.ClickException("--data must be a JSON object")
    task = current_stask().presets.run(preset_id, overrides)
    _audit("preset.run", f"preset:{preset_id}", {"task": task.id, "overrides": sorted(overrides or {})})
    _audit(
        "task.create",
        f"task:{task.id}",
        {"identifier": task.identifier, "action": task.action, "priority": task.priority},
    )
    click.echo(task.id)


# -- workflows: groups (docs/workflows.md) ----------------------------------------------------------
@stask_cli.group("group")
@clean_errors
def group_group() -> None:
    """Groups of tasks: create one from a JSON file, show one, cancel one."""


@group_group.command("create")
@click.option("--name", default=None, help="The group's name (default: '<identifier> x<count>').")
@click.option(
    "--tasks-json",
    "tasks_file",
    type=click.File("r"),
    required=True,
    help='A JSON list of task specs ({"identifier", "action", "data", ...}), or an object with "tasks", '
    '"on_complete" and "on_failure"; "-" reads standard input.',
)
@clean_errors
def group_create_command(name: str | None, tasks_file: Any) -> None:
    """Create a group and its tasks in one transaction; print its id."""
    try:
        loaded = json.load(tasks_file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--tasks-json is not valid JSON: {exc}") from None
    body = loaded if isinstance(loaded, dict) else {"tasks": loaded}
    unknown = set(body) - {"tasks", "on_complete", "on_failure", "name"}
    if unknown:
        raise click.ClickException(f"--tasks-json has unknown fields: {', '.join(sorted(unknown))}")
    group = current_stask().workflows.group(
        body.get("tasks"),  # type: ignore[arg-type]  # checked by the service
        name=name if name is not None else body.get("name"),
        on_complete=body.get("on_complete"),
        on_failure=body.get("on_failure"),
        created_by="cli",
    )
    _audit("group.create", f"group:{group.id}", {"name": group.name, "tasks": group.total})
    click.echo(group.id)


@group_group.command("show")
@click.argument("group_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@clean_errors
def group_show_command(group_id: int, as_json: bool) -> None:
    """A group's status, progress and counts by status."""
    view = current_stask().workflows.view(group_id).to_dict()
    if as_json:
        click.echo(json.dumps(view, indent=2))
        return
    counts = ", ".join(f"{status} {count}" for status, count in view["counts"].items() if count)
    click.echo(f"group {view['id']} {view['name']!r}: {view['status']} {view['progress']}% ({counts or 'no tasks'})")


@group_group.command("cancel")
@click.argument("group_id", type=int)
@clean_errors
def group_cancel_command(group_id: int) -> None:
    """Cancel the group's tasks that have not ended (running ones are asked to stop)."""
    cancelled, stopping = current_stask().workflows.cancel_group(group_id)
    _audit("group.cancel", f"group:{group_id}", {"cancelled": len(cancelled), "stopping": len(stopping)})
    click.echo(f"group {group_id}: {len(cancelled)} cancelled, {len(stopping)} asked to stop")


# Their commands register on stask_cli: notification rules and deliveries, triggers.
from . import cli_notifications, cli_rollups, cli_triggers  # noqa: E402,F401
