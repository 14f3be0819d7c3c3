"""Alert rules evaluated from the data, and their delivery by webhook and email.

Every rule is silent when there is nothing to judge: an idle system raises nothing.
Each alert is ``{key, type, severity, message, value, threshold, since}``; ``since``
(when it started firing) is kept in Redis, so it survives restarts of the web process.

Settings (app config first, then the environment; a threshold of 0 turns its rule off):

``STASK_ALERT_WINDOW_MINUTES`` (15)
    The window the failure-rate and p95 rules look at.
``STASK_ALERT_MIN_TASKS`` (5)
    Tasks that must have ended in the window before a rate or a p95 is judged.
``STASK_ALERT_FAILURE_RATE`` (0.25)
    ``failure_rate``: failed / (finished + failed) at or above this fraction.
``STASK_ALERT_P95_MS`` (600000)
    ``p95_run_time``: a worker's p95 run time above this many milliseconds. Per worker:
    ``STASK_ALERT_P95_MS_<IDENTIFIER>`` (identifier upper-cased, other characters as ``_``)
    or ``STASK_ALERT_P95_MS_WORKERS``, a JSON object ``{"csv_export": 120000}``.
``STASK_ALERT_QUEUE_WAIT_SECONDS`` (300)
    ``queue_wait``: the oldest due task of a queue has waited longer than this.
``STASK_ALERT_STUCK_GRACE_SECONDS`` (60)
    ``stuck_tasks``: a running task past its timeout by this much, or one started more than
    ``STASK_HEARTBEAT_TTL`` seconds ago whose heartbeat key is gone.
``STASK_ALERT_BACKLOG_GRACE_SECONDS`` (60)
    ``no_worker``: due tasks waiting at least this long while no RQ worker serves the queues.
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
import re
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

from ..enums import CLAIMABLE, Status
from ..models import Task, utcnow
from .health import check_database, check_redis, live_workers, probe_redis, setting
from .metrics import Stats, collect, iso

log = logging.getLogger("stask")

CRITICAL, WARNING = "critical", "warning"
#: Running tasks examined per evaluation (the oldest first).
STUCK_SCAN_LIMIT = 1000
#: Cool-down claims taken while Redis was unreachable (per process; key -> expiry).
_local_sent: dict[str, float] = {}


@dataclass
class Alert:
    key: str
    type: str
    severity: str
    message: str
    value: float | int | None
    threshold: float | int | None
    since: str | None = None


def p95_limit(app: Flask, identifier: str) -> int:
    """The p95 limit of one worker: its own setting, the JSON mapping, or the global one."""
    own = setting(app, "STASK_ALERT_P95_MS_" + re.sub(r"[^A-Z0-9]", "_", identifier.upper()), -1)
    if own >= 0:
        return int(own)
    mapping = app.config.get("STASK_ALERT_P95_MS_WORKERS") or setting(app, "STASK_ALERT_P95_MS_WORKERS", "")
    if isinstance(mapping, str) and mapping.strip():
        try:
            mapping = json.loads(mapping)
        except ValueError:
            log.warning("STASK_ALERT_P95_MS_WORKERS is not valid JSON; ignored")
            mapping = {}
    if isinstance(mapping, dict) and identifier in mapping:
        return int(mapping[identifier])
    return int(setting(app, "STASK_ALERT_P95_MS", 600_000))


# -- rules ------------------------------------------------------------------------------------
def _outcome_rules(app: Flask, session: Any, now: datetime) -> list[Alert]:
    window = setting(app, "STASK_ALERT_WINDOW_MINUTES", 15)
    minimum = max(1, setting(app, "STASK_ALERT_MIN_TASKS", 5))
    parts = collect(session, now - timedelta(minutes=window), now, rollups=False)
    per_worker: dict[str, Stats] = {}
    overall = Stats()
    for (_hour, identifier, _action), stats in parts.items():
        per_worker.setdefault(identifier, Stats()).merge(stats)
        overall.merge(stats)
    alerts = []
    threshold = setting(app, "STASK_ALERT_FAILURE_RATE", 0.25)
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
        limit = p95_limit(app, identifier)
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


def _backlog(session: Any, now: datetime) -> dict[str, tuple[datetime, int]]:
    """Per queue: when its oldest due task became due, and how many are due."""
    due = sa.func.coalesce(Task.start_at, Task.created_at)
    rows = session.execute(
        sa.select(Task.priority, sa.func.min(due), sa.func.count())
        .where(Task.status.in_([int(s) for s in CLAIMABLE]), due <= now)
        .group_by(Task.priority)
    ).all()
    return {row[0]: (row[1], int(row[2])) for row in rows}


def _queue_rules(app: Flask, backlog: dict[str, tuple[datetime, int]], now: datetime) -> list[Alert]:
    limit = setting(app, "STASK_ALERT_QUEUE_WAIT_SECONDS", 300)
    alerts = []
    for queue, (oldest, count) in sorted(backlog.items()):
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


def _no_worker_rule(app: Flask, backlog: dict[str, tuple[datetime, int]], now: datetime) -> list[Alert]:
    grace = setting(app, "STASK_ALERT_BACKLOG_GRACE_SECONDS", 60)
    waiting = {q: count for q, (oldest, count) in backlog.items() if (now - oldest).total_seconds() >= grace}
    if not waiting or live_workers(probe_redis(app)):
        return []
    count = sum(waiting.values())
    return [
        Alert(
            "no_worker",
            "no_worker",
            CRITICAL,
            f"{count} due tasks wait in {', '.join(sorted(waiting))} and no RQ worker is running",
            count,
            0,
        )
    ]


def _stuck_rule(app: Flask, session: Any, now: datetime) -> list[Alert]:
    stask = app.extensions["stask"]
    ttl = int(app.config["STASK_HEARTBEAT_TTL"])
    grace = setting(app, "STASK_ALERT_STUCK_GRACE_SECONDS", 60)
    running = session.execute(
        sa.select(Task.id, Task.identifier, Task.started_at)
        .where(Task.status == int(Status.RUNNING), Task.started_at <= now - timedelta(seconds=ttl))
        .order_by(Task.started_at)
        .limit(STUCK_SCAN_LIMIT)
    ).all()
    session.commit()
    if not running:
        return []
    alive = app.extensions["stask.runtime"].live.alive([row.id for row in running])
    default_timeout = int(app.config["STASK_TIMEOUT"])
    stuck = []
    for row in running:
        definition = stask.resolve_worker(row.identifier)
        try:
            timeout = (definition.worker_class().timeout if definition else None) or default_timeout
        except ImportError:  # a plugin that no longer imports: judge it by the default timeout
            timeout = default_timeout
        overdue = (now - row.started_at).total_seconds() > timeout + grace
        if overdue or not alive[row.id]:
            stuck.append(row.id)
    if not stuck:
        return []
    shown = ", ".join(str(i) for i in stuck[:10]) + (" …" if len(stuck) > 10 else "")
    return [
        Alert(
            "stuck_tasks",
            "stuck_tasks",
            WARNING,
            f"{len(stuck)} running tasks are past their timeout or have no heartbeat: {shown}",
            len(stuck),
            0,
        )
    ]


def evaluate(app: Flask, now: datetime | None = None) -> list[dict[str, Any]]:
    """The alerts firing now (inside an app context)."""
    now = now or utcnow()
    session = app.extensions["stask"].db.session
    alerts: list[Alert] = []
    evaluated = {"database_unreachable", "redis_unreachable"}
    database, redis_check = check_database(app), check_redis(app)
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
        alerts += _outcome_rules(app, session, now)
        backlog = _backlog(session, now)
        session.commit()
        alerts += _queue_rules(app, backlog, now)
        evaluated |= {"failure_rate", "p95_run_time", "queue_wait"}
        if redis_check["ok"]:
            alerts += _no_worker_rule(app, backlog, now)
            alerts += _stuck_rule(app, session, now)
            evaluated |= {"no_worker", "stuck_tasks"}
    _stamp_since(app, alerts, evaluated, now)
    return [asdict(alert) for alert in alerts]


def _stamp_since(app: Flask, alerts: list[Alert], evaluated: set[str], now: datetime) -> None:
    """Record when each alert started firing; forget alerts of evaluated rules that stopped."""
    key = f"{app.config['STASK_REDIS_PREFIX']}:alerts:since"
    stamp = iso(now)
    try:
        client = probe_redis(app)
        pipe = client.pipeline(transaction=False)
        for alert in alerts:
            pipe.hsetnx(key, alert.key, stamp)
        pipe.hgetall(key)
        known = {k.decode(): v.decode() for k, v in pipe.execute()[-1].items()}
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
    key = f"{app.config['STASK_REDIS_PREFIX']}:alerts:sent:{channel}:{alert_key}"
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
    key = f"{app.config['STASK_REDIS_PREFIX']}:alerts:sent:{channel}:{alert_key}"
    _local_sent.pop(key, None)
    try:
        probe_redis(app).delete(key)
    except redis.RedisError:
        pass  # nothing was stored in Redis then either


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(app: Flask, alert: dict[str, Any]) -> None:
    url = str(setting(app, "STASK_ALERT_WEBHOOK_URL", ""))
    if urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"STASK_ALERT_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    body = json.dumps({"event": "stask.alert", "alert": alert, "sent_at": iso(utcnow())}).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "stask-alerts"}
    secret = str(setting(app, "STASK_ALERT_WEBHOOK_SECRET", ""))
    if secret:
        headers["X-Stask-Signature"] = sign(secret, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=setting(app, "STASK_ALERT_WEBHOOK_TIMEOUT", 5.0)) as response:
        response.read()


def send_email(app: Flask, alert: dict[str, Any]) -> None:
    recipients = [a.strip() for a in str(setting(app, "STASK_ALERT_EMAIL_TO", "")).split(",") if a.strip()]
    message = EmailMessage()
    message["Subject"] = f"[stask] {alert['severity']}: {alert['message']}"[:200]
    message["From"] = str(setting(app, "STASK_ALERT_EMAIL_FROM", "stask@localhost"))
    message["To"] = ", ".join(recipients)
    message.set_content(json.dumps(alert, indent=2))
    host = str(setting(app, "STASK_ALERT_SMTP_HOST", "localhost"))
    with smtplib.SMTP(host, setting(app, "STASK_ALERT_SMTP_PORT", 25), timeout=10) as smtp:
        if setting(app, "STASK_ALERT_SMTP_STARTTLS", False):
            smtp.starttls()
        user = str(setting(app, "STASK_ALERT_SMTP_USER", ""))
        if user:
            smtp.login(user, str(setting(app, "STASK_ALERT_SMTP_PASSWORD", "")))
        smtp.send_message(message)


def deliver_alerts(app: Flask, alerts: list[dict[str, Any]] | None = None) -> dict[str, int]:
    """Send each firing alert to the configured channels, once per cool-down; returns how many went out.

    Cheap when nothing is configured (no evaluation at all). Call it from the workers'
    periodic maintenance (one process at a time holds the reconcile lock) and when the
    alerts endpoint is read. Delivery errors are logged, never raised.
    """
    channels = []
    if setting(app, "STASK_ALERT_WEBHOOK_URL", ""):
        channels.append(("webhook", send_webhook))
    if setting(app, "STASK_ALERT_EMAIL_TO", ""):
        channels.append(("email", send_email))
    sent = {name: 0 for name, _send in channels}
    if not channels:
        return sent
    with app.app_context():
        if alerts is None:
            alerts = evaluate(app)
        cooldown = max(1, setting(app, "STASK_ALERT_COOLDOWN", 1800))
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
