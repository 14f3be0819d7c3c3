"""Alert rules evaluated from the data, and their delivery by webhook and email.

Every rule is silent when there is nothing to judge: an idle system raises nothing.
Each alert is ``{key, type, severity, message, value, threshold, since}``; ``since``
(when it started firing) is kept in Redis, so it survives restarts of the web process.

Settings (:class:`~stask.settings.Settings`, read once when the app starts; a threshold of 0
turns its rule off):

``STASK_ALERT_WINDOW_MINUTES`` (15)
    The window the failure-rate and p95 rules look at.
``STASK_ALERT_MIN_TASKS`` (5)
    Tasks that must have ended in the window before a rate or a p95 is judged.
``STASK_ALERT_FAILURE_RATE`` (0.25)
    ``failure_rate``: failed / (finished + failed) at or above this fraction.
``STASK_ALERT_P95_MS`` (600000)
    ``p95_run_time``: a worker's p95 run time above this many milliseconds. Per worker:
    ``STASK_ALERT_P95_MS_<IDENTIFIER>`` (identifier upper-cased, other characters as ``_``)
    or ``STASK_ALERT_P95_MS_WORKERS``, a JSON object ``{"csv_export": 120000}``
    (:meth:`Settings.p95_limit <stask.settings.Settings.p95_limit>`).
``STASK_ALERT_QUEUE_WAIT_SECONDS`` (300)
    ``queue_wait``: the oldest due task of a queue has waited longer than this.
``STASK_ALERT_STUCK_GRACE_SECONDS`` (60)
    ``stuck_tasks``: a running task past its timeout by this much, or one started more than
    ``STASK_HEARTBEAT_TTL`` seconds ago whose heartbeat key is gone.
``STASK_ALERT_BACKLOG_GRACE_SECONDS`` (60)
    ``no_worker``: due tasks waiting at least this long while no worker process serves the queues.
``STASK_ALERT_SCHEDULE_GRACE_SECONDS`` (300, at least 1)
    ``schedule_missed:<id>``: an enabled schedule's slot is this old without a task, or its last
    slot went without one for a reason other than the overlap policy (:mod:`.schedule_alerts`).
``STASK_ALERT_SCHEDULE_FAILURES`` (3)
    ``schedule_failing:<id>``: an enabled schedule's last this many runs all failed.
``database_unreachable`` and ``redis_unreachable`` have no threshold.

Delivery (:func:`deliver_alerts`, at most once per alert and channel per cool-down):
``STASK_ALERT_COOLDOWN`` (1800 s); ``STASK_ALERT_WEBHOOK_URL`` (JSON POST; with
``STASK_ALERT_WEBHOOK_SECRET`` the body is signed: header
``X-Stask-Signature: sha256=<hex HMAC-SHA256 of the body>``), ``STASK_ALERT_WEBHOOK_TIMEOUT``
(5 s); ``STASK_ALERT_EMAIL_TO`` (comma-separated), ``STASK_ALERT_EMAIL_FROM``
(``stask@localhost``), ``STASK_ALERT_SMTP_HOST`` (localhost), ``STASK_ALERT_SMTP_PORT`` (25),
``STASK_ALERT_SMTP_USER``, ``STASK_ALERT_SMTP_PASSWORD``, ``STASK_ALERT_SMTP_STARTTLS`` (false).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlparse

import redis
import sqlalchemy as sa
from flask import Flask

from ..engine.progress import decoded
from ..enums import Status
from ..models import Task, utcnow
from ..service import Service, store
from ..settings import Settings
from . import counters
from .alert_types import CRITICAL, WARNING, Alert
from .health import check_database, check_redis, live_workers, probe_redis, service_of
from .metrics import Stats, collect, iso
from .rolling import maintain_rollups
from .schedule_alerts import schedule_rules

log = logging.getLogger("stask")

#: Overdue running tasks counted, and tasks within their timeout examined, per evaluation.
STUCK_SCAN_LIMIT = 1000
#: Stuck task ids the alert's message names (the oldest first).
STUCK_SHOWN = 10
#: ``status = 50`` as a literal, not a bound parameter: it is the predicate of the partial index
#: the stuck-task rule reads (``ix_s_tasks_running_started_at``), and a planner only uses such an
#: index when it can see the query implies it (a generic plan's parameter is unknown).
RUNNING_ROWS = Task.status == sa.literal_column(str(int(Status.RUNNING)))
#: Cool-down claims taken while Redis was unreachable (per process; key -> expiry).
_local_sent: dict[str, float] = {}


# -- rules ------------------------------------------------------------------------------------
def _outcome_rules(settings: Settings, session: Any, now: datetime) -> list[Alert]:
    window = settings.alert_window_minutes
    minimum = max(1, settings.alert_min_tasks)
    parts = collect(session, now - timedelta(minutes=window), now)
    per_worker: dict[str, Stats] = {}
    overall = Stats()
    for (_hour, identifier, _action), stats in parts.items():
        per_worker.setdefault(identifier, Stats()).merge(stats)
        overall.merge(stats)
    alerts = []
    threshold = settings.alert_failure_rate
    judged = overall.finished + overall.failed
    if threshold > 0 and judged >= minimum and overall.failed / judged >= threshold:
        rate = round(overall.failed / judged, 4)
        alerts.append(
            Alert(
                "failure_rate",
                "failure_rate",
                WARNING,
                f"{overall.failed} of {judged} tasks failed in the last {window} min ({rate:.0%})",
                rate,
                threshold,
            )
        )
    for identifier, stats in sorted(per_worker.items()):
        limit = settings.p95_limit(identifier)
        p95 = stats.run.percentile(95)
        if limit > 0 and stats.run.count >= minimum and p95 is not None and p95 > limit:
            alerts.append(
                Alert(
                    f"p95_run_time:{identifier}",
                    "p95_run_time",
                    WARNING,
                    f"p95 run time of {identifier} is {p95} ms over the last {window} min (limit {limit} ms)",
                    p95,
                    limit,
                )
            )
    return alerts


#: Per queue (priority): how many tasks are due, and since when the oldest waits (``store.backlog``).
Backlog = dict[str, tuple[int, datetime | None]]


def _queue_rules(settings: Settings, backlog: Backlog, now: datetime) -> list[Alert]:
    limit = settings.alert_queue_wait_seconds
    alerts = []
    for queue, (count, oldest) in sorted(backlog.items()):
        if oldest is None:
            continue
        waited = round((now - oldest).total_seconds(), 1)
        if limit > 0 and waited > limit:
            alerts.append(
                Alert(
                    f"queue_wait:{queue}",
                    "queue_wait",
                    WARNING,
                    f"the oldest of {count} due tasks in queue {queue} has waited {waited:.0f} s",
                    waited,
                    limit,
                )
            )
    return alerts


def _no_worker_rule(app: Flask, backlog: Backlog, now: datetime) -> list[Alert]:
    grace = service_of(app).settings.alert_backlog_grace_seconds
    waiting = {
        q: count
        for q, (count, oldest) in backlog.items()
        if oldest is not None and (now - oldest).total_seconds() >= grace
    }
    if not waiting or live_workers(probe_redis(app)):
        return []
    count = sum(waiting.values())
    return [
        Alert(
            "no_worker",
            "no_worker",
            CRITICAL,
            f"{count} due tasks wait in {', '.join(sorted(waiting))} and no worker process is running",
            count,
            0,
        )
    ]


@dataclass
class Stuck:
    """What :func:`find_stuck` found: how many stuck tasks (overdue ones counted up to the scan
    limit), and the oldest of them."""

    count: int
    rows: list[Any]


def _cutoffs(service: Service, identifiers: set[str], now: datetime) -> dict[datetime, list[str]]:
    """Per start-time cut-off, the workers whose running tasks are overdue when started before it
    (timeout plus grace; one resolution per worker, all under one worker-cache version read)."""
    settings = service.settings
    grace, default_timeout = settings.alert_stuck_grace_seconds, settings.timeout
    groups: dict[datetime, list[str]] = {}
    with service.runtime.workers.pinned():  # one worker-cache version read for them all
        for identifier in sorted(identifiers):
            definition = service.workers.resolve(identifier)
            try:
                timeout = (definition.worker_class().timeout if definition else None) or default_timeout
            except ImportError:  # a plugin that no longer imports: judge it by the default timeout
                timeout = default_timeout
            groups.setdefault(now - timedelta(seconds=timeout + grace), []).append(identifier)
    return groups


def find_stuck(
    service: Service, session: Any, now: datetime, shown: int = STUCK_SCAN_LIMIT, running: set[str] | None = None
) -> Stuck:
    """Running tasks past their timeout by the grace, or older than the heartbeat TTL whose
    heartbeat is gone: how many, and the oldest ``shown`` (rows of id, identifier, action,
    attempts, started_at). The ``stuck_tasks`` alert and the ``stuck`` event.

    The database judges the timeouts (a cut-off per worker of the running rows, which
    ``s_task_counts`` lists, unless the caller has just read them: ``running``), so only the rows
    it shows and those still within their timeout come back: a thousand overdue rows were read
    one by one, 40 ms of a Performance page on MariaDB. Only the rows within their timeout are
    asked about in Redis. One statement, two without ``running``."""
    settings = service.settings
    if running is None:
        running = {ident for (ident, status), n in counters.counts(session).items() if status == Status.RUNNING and n}
    groups = _cutoffs(service, running, now)
    default = now - timedelta(seconds=settings.timeout + settings.alert_stuck_grace_seconds)
    overdue = sa.or_(
        *[sa.and_(Task.identifier.in_(names), Task.started_at < cutoff) for cutoff, names in groups.items()],
        # a worker that started running since the counts were read: the default timeout
        sa.and_(Task.identifier.not_in(sorted(running)), Task.started_at < default),
    )
    columns = (Task.id, Task.identifier, Task.action, Task.attempts, Task.started_at)
    oldest = (
        sa.select(*columns).where(RUNNING_ROWS, overdue).order_by(Task.started_at).limit(STUCK_SCAN_LIMIT).subquery()
    )
    # The overdue rows shown, each with how many there are; then the rows within their timeout
    # (0) older than the heartbeat TTL, which started after the earliest cut-off.
    late: Any = sa.select(*oldest.c, sa.func.count().over().label("overdue")).order_by(oldest.c.started_at).limit(shown)
    within: Any = (
        sa.select(*columns, sa.literal_column("0").label("overdue"))
        .where(
            RUNNING_ROWS,
            Task.started_at <= now - timedelta(seconds=settings.heartbeat_ttl),
            Task.started_at >= min([default, *groups]),
            sa.not_(overdue),
        )
        .order_by(Task.started_at)
        .limit(STUCK_SCAN_LIMIT)
    )
    rows = session.execute(sa.union_all(*(sa.select(part.subquery()) for part in (late, within)))).all()
    session.commit()
    overdue_rows = [row for row in rows if row.overdue]
    alive = service.runtime.live.alive([row.id for row in rows if not row.overdue])
    silent = [row for row in rows if not row.overdue and not alive[row.id]]
    shown_rows = sorted([*overdue_rows, *silent], key=lambda row: row.started_at)[:shown]
    return Stuck((overdue_rows[0].overdue if overdue_rows else 0) + len(silent), shown_rows)


def stuck_tasks(service: Service, session: Any, now: datetime) -> list[Any]:
    """The stuck running tasks, oldest first (:func:`find_stuck`, up to :data:`STUCK_SCAN_LIMIT`)."""
    return find_stuck(service, session, now).rows


def _stuck_rule(service: Service, session: Any, now: datetime, running: set[str] | None) -> list[Alert]:
    stuck = find_stuck(service, session, now, shown=STUCK_SHOWN, running=running)
    if not stuck.count:
        return []
    shown = ", ".join(str(row.id) for row in stuck.rows) + (" …" if stuck.count > len(stuck.rows) else "")
    return [
        Alert(
            "stuck_tasks",
            "stuck_tasks",
            WARNING,
            f"{stuck.count} running tasks are past their timeout or have no heartbeat: {shown}",
            stuck.count,
            0,
        )
    ]


def evaluate(
    app: Flask,
    now: datetime | None = None,
    *,
    checks: tuple[dict[str, Any], dict[str, Any]] | None = None,
    running: set[str] | None = None,
) -> list[dict[str, Any]]:
    """The alerts firing now (inside an app context). ``checks``: the database and Redis checks
    of :func:`~stask.monitoring.health.health`, ``running``: the workers with running tasks (from
    ``s_task_counts``), when the caller has just read them (the Performance page)."""
    now = now or utcnow()
    service = service_of(app)
    settings = service.settings
    session = service.db.session
    alerts: list[Alert] = []
    evaluated = {"database_unreachable", "redis_unreachable"}
    database, redis_check = checks or (check_database(app), check_redis(app))
    if not database["ok"]:
        alerts.append(
            Alert(
                "database_unreachable",
                "database_unreachable",
                CRITICAL,
                f"the database is unreachable: {database['error']}",
                None,
                None,
            )
        )
    if not redis_check["ok"]:
        alerts.append(
            Alert(
                "redis_unreachable",
                "redis_unreachable",
                CRITICAL,
                f"Redis is unreachable: {redis_check['error']}",
                None,
                None,
            )
        )
    if database["ok"]:
        alerts += _outcome_rules(settings, session, now)
        backlog = store.backlog(session, now)
        session.commit()
        alerts += _queue_rules(settings, backlog, now)
        alerts += schedule_rules(settings, session, now)
        evaluated |= {"failure_rate", "p95_run_time", "queue_wait", "schedule_missed", "schedule_failing"}
        if redis_check["ok"]:
            alerts += _no_worker_rule(app, backlog, now)
            alerts += _stuck_rule(service, session, now, running)
            evaluated |= {"no_worker", "stuck_tasks"}
    _stamp_since(app, alerts, evaluated, now)
    return [asdict(alert) for alert in alerts]


def _stamp_since(app: Flask, alerts: list[Alert], evaluated: set[str], now: datetime) -> None:
    """Record when each alert started firing; forget alerts of evaluated rules that stopped."""
    key = service_of(app).runtime.keys.alerts_since
    stamp = iso(now)
    try:
        client = probe_redis(app)
        pipe = client.pipeline(transaction=False)
        for alert in alerts:
            pipe.hsetnx(key, alert.key, stamp or "")
        pipe.hgetall(key)
        known = decoded(pipe.execute()[-1])
        firing = {alert.key for alert in alerts}
        stale = [k for k in known if k not in firing and k.split(":", 1)[0] in evaluated]
        if stale:
            client.hdel(key, *stale)
    except redis.RedisError:
        known = {}
    for alert in alerts:
        alert.since = known.get(alert.key, stamp)


# -- delivery ---------------------------------------------------------------------------------
def _claim(app: Flask, channel: str, alert_key: str, cooldown: int) -> bool:
    """True once per alert and channel per cool-down (SET NX EX; a local fallback if Redis is down)."""
    key = service_of(app).runtime.keys.alert_sent(channel, alert_key)
    try:
        return bool(probe_redis(app).set(key, iso(utcnow()) or "", nx=True, ex=cooldown))
    except redis.RedisError:
        now = time.monotonic()
        if _local_sent.get(key, 0) > now:
            return False
        _local_sent[key] = now + cooldown
        return True


def _release(app: Flask, channel: str, alert_key: str) -> None:
    """A failed delivery does not use up the cool-down: the next pass tries again."""
    key = service_of(app).runtime.keys.alert_sent(channel, alert_key)
    _local_sent.pop(key, None)
    try:
        probe_redis(app).delete(key)
    except redis.RedisError:
        pass  # nothing was stored in Redis then either


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(app: Flask, alert: dict[str, Any]) -> None:
    settings = service_of(app).settings
    url = settings.alert_webhook_url
    if urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"STASK_ALERT_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    body = json.dumps({"event": "stask.alert", "alert": alert, "sent_at": iso(utcnow())}).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "stask-alerts"}
    if settings.alert_webhook_secret:
        headers["X-Stask-Signature"] = sign(settings.alert_webhook_secret, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=settings.alert_webhook_timeout) as response:
        response.read()


def send_email(app: Flask, alert: dict[str, Any]) -> None:
    settings = service_of(app).settings
    message = EmailMessage()
    message["Subject"] = f"[stask] {alert['severity']}: {alert['message']}"[:200]
    message["From"] = settings.alert_email_from
    message["To"] = ", ".join(settings.alert_email_to)
    message.set_content(json.dumps(alert, indent=2))
    with smtplib.SMTP(settings.alert_smtp_host, settings.alert_smtp_port, timeout=10) as smtp:
        if settings.alert_smtp_starttls:
            smtp.starttls()
        if settings.alert_smtp_user:
            smtp.login(settings.alert_smtp_user, settings.alert_smtp_password)
        smtp.send_message(message)


def deliver_alerts(app: Flask, alerts: list[dict[str, Any]] | None = None) -> dict[str, int]:
    """Send each firing alert to the configured channels, once per cool-down; returns how many went out.

    Cheap when nothing is configured (no evaluation at all). Call it from the worker
    processes' periodic maintenance (one process at a time holds the reconcile lock) and when the
    alerts endpoint is read. Delivery errors are logged, never raised. Called without ``alerts``
    (the maintenance pass), it first rolls up the hours that closed (:func:`maintain_rollups`:
    one small statement when none did).
    """
    if alerts is None:  # the maintenance pass, not a read of the alerts endpoint
        maintain_rollups(app)
    settings = service_of(app).settings
    channels = []
    if settings.alert_webhook_url:
        channels.append(("webhook", send_webhook))
    if settings.alert_email_to:
        channels.append(("email", send_email))
    sent = {name: 0 for name, _send in channels}
    if not channels:
        return sent
    with app.app_context():
        if alerts is None:
            alerts = evaluate(app)
        cooldown = max(1, settings.alert_cooldown)
        for alert in alerts:
            for name, send in channels:
                if not _claim(app, name, alert["key"], cooldown):
                    continue
                try:
                    send(app, alert)
                    sent[name] += 1
                except Exception:  # a broken channel must not break the caller; logged with traceback
                    log.exception("stask: delivering alert %s by %s failed", alert["key"], name)
                    _release(app, name, alert["key"])
    return sent
