"""schemathesis's engine (all phases, all checks) against a live stask app, one operation at a time.

Used by ``tests/api/test_fuzzing.py`` (a fixed seed, few examples, part of the suite) and by
``make fuzz`` (``tests/api/long_fuzz.py``: many examples, several seeds, PostgreSQL). The
engine is the one the ``schemathesis run`` command drives: examples, coverage (which finds
"rejects valid input" and "accepts invalid input" systematically: boundaries, missing and
empty values, wrong types, unexpected methods) and fuzzing, every check enabled.

Operations run one at a time, reads first and deletions last, and the app is put back
(workers active, seeded tasks present) between them, so that a generated ``deactivate`` or
``DELETE`` does not turn every later operation's success path into a 409 or a 404.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import schemathesis
import sqlalchemy as sa
from flask import Flask
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import from_schema
from schemathesis.engine.events import EngineFinished, FatalError, NonFatalError, ScenarioFinished
from werkzeug.serving import WSGIRequestHandler, make_server

from stask.enums import Status
from stask.models import Delivery, Notification
from stask.service import current_stask
from tests.support.api import AUTH_CONFIG, create, run_all, set_row

DOCUMENT = "/stask/api/openapi.json"
#: The fuzzed app's settings: the suite's tokens, and no lockout (``ignored_auth`` sends bad
#: tokens on purpose; throttled, every later request would be a 429 and test nothing).
FUZZ_CONFIG = {
    **AUTH_CONFIG,
    "STASK_LOGIN_MAX_FAILURES": 1_000_000,
    # "Send test" of the seeded rules stays on this machine: mail to files, a webhook to a closed local port.
    "STASK_EMAIL_BACKEND": "files",
    "STASK_WEBHOOK_ALLOW_PRIVATE": True,
}
#: The notification rules the seed stores (ids 1 and 2); rules the operations create are removed
#: between operations, so that "send test" never reaches a generated host.
SEEDED_RULES = 2

#: Operations left out entirely, with the reason. None: every documented operation is fuzzed,
#: including any added later (the list comes from the live document).
EXCLUDED: dict[str, str] = {}
_UPLOAD_REASON = (
    "whether a file is taken depends on the worker's settings (extensions, size) and on the chunk "
    "protocol's state (the upload_id an earlier answer gave, a Content-Range that matches the part's "
    "length and continues the stored file), which a request schema cannot state; every other check runs"
)
_SCHEDULE_REASON = (
    "a schedule is refused for what no request schema can state: a worker that is not registered, an "
    "action that worker lacks, data its action fields refuse, a cron expression that is no valid cron "
    "(or never matches a date), a zone the tz database lacks, cron and interval both or neither, jitter "
    "not shorter than the interval, an end_date before now or start_date, a change to a schedule declared "
    "in code (409); every other check runs, and a seeded schedule gives the other operations a real one"
)
_PRESET_REASON = (
    "a preset names a registered worker and one of its actions, and its data must pass that action's "
    "fields: which workers, actions and fields exist is known at run time, not in a request schema "
    "(the server answers 400 naming the field); every other check runs"
)
_TRIGGER_REASON = (
    "a trigger names a registered worker and one of its actions, or an existing preset (whose worker and "
    "action, if given too, must be its own): which exist is known at run time, not in a request schema "
    "(the server answers 400 naming the field); every other check runs, and a seeded trigger gives the "
    "other operations a real one"
)
_RULE_REASON = (
    "a notification rule is refused for what no request schema can state: a worker that is not registered or "
    "an action it lacks, a channel's required field missing or the other channel's given (OpenAPI 3.0 has no "
    "if/then), and what the transports refuse: an address or a host name that is not one, a header name that "
    "is no HTTP token or is stask's own, a template that does not compile; every other check runs"
)
#: Checks switched off for one operation, with the reason (``tests/api/test_fuzzing.py`` checks
#: that each operation named here is still in the document, so the list cannot outlive its cause).
NOT_CHECKED: dict[str, dict[str, str]] = {
    "POST /stask/task/{task_id}/upload": {"positive_data_acceptance": _UPLOAD_REASON},
    "POST /stask/worker/{identifier}/upload": {"positive_data_acceptance": _UPLOAD_REASON},
    "POST /stask/api/schedules": {"positive_data_acceptance": _SCHEDULE_REASON},
    "PUT /stask/api/schedules/{schedule_id}": {"positive_data_acceptance": _SCHEDULE_REASON},
    "POST /stask/api/presets": {"positive_data_acceptance": _PRESET_REASON},
    "PUT /stask/api/presets/{preset_id}": {"positive_data_acceptance": _PRESET_REASON},
    "POST /stask/api/triggers": {"positive_data_acceptance": _TRIGGER_REASON},
    "PUT /stask/api/triggers/{trigger_id}": {"positive_data_acceptance": _TRIGGER_REASON},
    "POST /stask/api/presets/{preset_id}/run": {
        "positive_data_acceptance": "the data a run may give is checked against the fields of the preset's "
        "action, which the path's id names and no request schema can follow; every other check runs"
    },
    "POST /stask/api/notifications": {"positive_data_acceptance": _RULE_REASON},
    "PUT /stask/api/notifications/{notification_id}": {"positive_data_acceptance": _RULE_REASON},
    "PUT /stask/api/workers/{identifier}/settings": {
        "positive_data_acceptance": "the templated path's body is any object; which keys and values a "
        "worker takes is stated on its concrete path (/stask/api/workers/<identifier>/settings, "
        "from stask/web/openapi_settings.py), which every check covers"
    },
}


@dataclass
class Report:
    """What one run found: failures by check, errors, and the status codes each operation answered."""

    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    cases: int = 0
    operations: list[str] = field(default_factory=list)

    def merge(self, other: Report) -> None:
        self.failures += other.failures
        self.errors += other.errors
        self.cases += other.cases
        self.operations += other.operations
        for label, codes in other.statuses.items():
            self.statuses.setdefault(label, set()).update(codes)

    def summary(self) -> str:
        lines = [
            f"{len(self.operations)} operations, {self.cases} requests, {len(self.failures)} failures, "
            f"{len(self.errors)} errors"
        ]
        lines += [f"FAIL {line}" for line in self.failures]
        lines += [f"ERROR {line}" for line in self.errors]
        return "\n".join(lines)


def config(*, seed: int, examples: int, token: str, label: str | None = None) -> SchemathesisConfig:
    """Every check (but those :data:`NOT_CHECKED` turns off for ``label``), every phase but
    stateful; the same seed generates the same requests."""
    off = NOT_CHECKED.get(label or "", {})
    return SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "suppress-health-check": ["all"],
            "headers": {"Authorization": f"Bearer {token}"},
            "workers": 1,
            "checks": {"enabled": True, **{check: {"enabled": False} for check in off}},
            # The seed decides what is generated (``deterministic`` would ignore it: every seed the same).
            "generation": {"max-examples": examples, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
        }
    )


def seed(app: Flask) -> None:
    """Tasks in every state with small ids (which generated requests try first), a result file, a
    schedule next to the code's (so that reading, changing, pausing and running a schedule reach real
    work), and a trigger (so do reading, changing, rotating and deleting one)."""
    _restart_ids(app)
    written = create(app, "echo", "write_file", data={"text": "a,b\n"})
    run_all(app)
    failed, cancelled, running = create(app), create(app), create(app)
    create(app, "importer", "load")
    set_row(app, failed, status=int(Status.FAILED), attempts=1, error="boom")
    set_row(app, cancelled, status=int(Status.CANCELLED))
    set_row(app, running, status=int(Status.RUNNING), attempts=1)
    assert written == 1
    with app.app_context():
        service = current_stask()
        service.schedules.create({"identifier": "echo", "action": "say", "interval": 3600})
        service.triggers.create({"name": "fuzzed", "identifier": "echo", "action": "say"})
        mail = {"name": "fuzz mail", "events": ["failed"], "channel": "email", "to": ["ops@example.com"]}
        hook = {"name": "fuzz hook", "events": ["finished"], "channel": "webhook", "url": "http://127.0.0.1:9/hook"}
        rules = [service.notifications.create(mail).id, service.notifications.create(hook).id]
        assert rules == list(range(1, SEEDED_RULES + 1)), rules
        delivery = {"event": "finished", "subject": "task:1", "task_id": 1, "payload": {}, "status": "failed"}
        service.db.session.add(Delivery(notification_id=rules[1], **delivery))
        service.db.session.commit()
        service.db.session.remove()


#: Tables whose ids the fuzz run restarts past the rows still there.
RESTARTED_TABLES = ("s_tasks", "s_schedules", "s_triggers", "s_notifications", "s_deliveries")


def _restart_ids(app: Flask) -> None:
    """Ids from 1 on every database (the suite empties tables between tests, sequences go on), or
    past the rows still there (a schedule declared in code, stored by discover)."""
    with app.app_context():
        db = app.extensions["stask"].db
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            for table in RESTARTED_TABLES:
                next_id = f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table})"
                db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {next_id}, false)"))
        elif dialect in ("mysql", "mariadb"):
            for table in RESTARTED_TABLES:
                db.session.execute(sa.text(f"ALTER TABLE {table} AUTO_INCREMENT = 1"))  # InnoDB: max(id) + 1 at least
        db.session.commit()
        db.session.remove()


def restore(app: Flask) -> None:
    """Between operations: every worker active again (a generated "deactivate" must not hide the
    next operations' success paths), and only the seeded notification rules (a generated one may
    name any host: "send test" must not reach it)."""
    with app.app_context():
        ext = app.extensions["stask"]
        for worker in ext.get_workers():
            if not worker.active:
                ext.activate_worker(worker.identifier)
        ext.db.session.execute(sa.delete(Delivery).where(Delivery.notification_id > SEEDED_RULES))
        ext.db.session.execute(sa.delete(Notification).where(Notification.id > SEEDED_RULES))
        ext.db.session.commit()
        ext.db.session.remove()


def _order(label: str) -> int:
    """Reads first, then writes, deletions and bulk last: the seeded tasks stay for the others."""
    method, _, path = label.partition(" ")
    if method == "GET":
        return 0
    return 2 if method == "DELETE" or path.endswith("/bulk") else 1


#: Request fields the fuzz run sends only empty, with the reason: the rest of their operation keeps
#: every check (``tests/notifications/test_task_notify.py`` and the rules' API tests cover them).
NARROWED = {
    ("CreateRequest", "notify"): _RULE_REASON.replace("a notification rule is", "a task's own notification rule is"),
    ("RunRequest", "notify"): _RULE_REASON.replace("a notification rule is", "a task's own notification rule is"),
}


def narrowed(document: dict[str, Any]) -> dict[str, Any]:
    """The document with each :data:`NARROWED` field reduced to null or an empty list."""
    document = copy.deepcopy(document)
    for (schema, name), reason in NARROWED.items():
        document["components"]["schemas"][schema]["properties"][name] = {
            "type": "array",
            "maxItems": 0,
            "nullable": True,
            "description": f"narrowed for fuzzing: {reason}",
        }
    return document


def run(app: Flask, *, seed: int, examples: int, token: str, reset: Callable[[], None]) -> Report:
    """Run the engine on every documented operation of ``app``; ``reset`` restores the data between them."""
    report = Report()
    document = narrowed(app.test_client().get(DOCUMENT, headers={"Authorization": f"Bearer {token}"}).get_json())
    with serving(app) as base_url:
        for label in operations(document):
            if label in EXCLUDED:
                continue
            reset()
            schema = schemathesis.openapi.from_dict(
                document, config=config(seed=seed, examples=examples, token=token, label=label)
            )
            schema.config.update(base_url=base_url)
            method, _, path = label.partition(" ")
            report.merge(_execute(schema.include(method=method, path=path), label))
    return report


def operations(document: dict[str, Any]) -> list[str]:
    """Every operation of the document as "METHOD /path", reads first and deletions last."""
    labels = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    ]
    return sorted(labels, key=lambda label: (_order(label), label))


class _QuietHandler(WSGIRequestHandler):
    """No access log: a run sends thousands of requests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app behind werkzeug's HTTP server on a free port (one request at a time): its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="fuzzed-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _execute(schema: Any, label: str) -> Report:
    report = Report(operations=[label])
    for event in from_schema(schema).execute():
        if isinstance(event, ScenarioFinished):
            recorder = event.recorder
            if recorder.label != label:  # the filter must leave exactly this operation
                report.errors.append(f"{label}: the engine ran {recorder.label} too")
            for interaction in recorder.interactions.values():
                report.cases += 1
                if interaction.response is not None:
                    report.statuses.setdefault(label, set()).add(interaction.response.status_code)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    case = recorder.cases[case_id].value
                    interaction = recorder.interactions.get(case_id)
                    status = interaction.response.status_code if interaction and interaction.response else None
                    first_line = failure.message.splitlines()[0] if failure.message else ""
                    report.failures.append(
                        f"{label}: {check.name}: {failure.title} [{status}] -- "
                        f"{case.method} {case.formatted_path} query={case.query!r} body={_short(case.body)!r} "
                        f"headers={_short(case.headers)!r} :: {first_line}"
                    )
        elif isinstance(event, NonFatalError):
            report.errors.append(f"{label}: {event.info.title}: {event.info.message}"[:500])
        elif isinstance(event, FatalError):
            report.errors.append(f"{label}: fatal: {event.exception!r}"[:500])
        elif isinstance(event, EngineFinished):
            report.failures += [f"{label}: after run: {f.title}: {f.message}" for f in event.failures]
    return report


def _short(value: Any) -> Any:
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."
