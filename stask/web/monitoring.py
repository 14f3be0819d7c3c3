"""Monitoring endpoints and the Performance page.

JSON: ``/performance/summary``, ``/performance/workers``, ``/performance/alerts``,
``/cache/stats``, ``POST /cache/clear`` (admin), ``/health`` (public; 200 or 503) and
``/metrics`` (Prometheus text). The Performance page is one full page plus named
fragments (charts, workers, alerts, cache, health) that htmx polls; the same fragment
URLs render on their own, so the page also works with JavaScript off.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..exceptions import InvalidInput, StaskError, UnknownWorker
from ..monitoring import metrics
from ..monitoring.alerts import deliver_alerts, evaluate
from ..monitoring.health import health
from ..monitoring.prometheus import CONTENT_TYPE, render
from ..service import current_stask
from ..workers.base import IDENTIFIER_RE
from . import auth, figures
from .audit_trail import record
from .charts import hour_label, line_chart
from .monitoring_openapi import OPENAPI_PATHS

_PACKAGE = Path(__file__).resolve().parent.parent
monitoring_bp = Blueprint("stask_monitoring", __name__, template_folder=str(_PACKAGE / "templates"))
auth.protect(monitoring_bp)
#: ``public`` marks a view anonymous-friendly (auth.py also exempts ``<prefix>/health`` by path).
_public: Callable[[Any], Any] = getattr(auth, "public", lambda view: view)
_require_write: Callable[[Any], Any] = getattr(auth, "require_write", lambda view: view)

#: Windows offered by the page's selector (any 1..MAX_HOURS works through the URL).
HOUR_CHOICES = (1, 6, 24, 72, 168, 720)
FRAGMENTS = ("charts", "workers", "alerts", "cache", "health")
#: Seconds between htmx refreshes of the page's fragments.
REFRESH_SECONDS = 15

__all__ = ["OPENAPI_PATHS", "monitoring_bp"]


def json_error(code: str, message: str, status: int) -> Response:
    try:
        from .errors import json_error as shared
    except ImportError:  # the shared module is not there: same shape, built here
        response = jsonify({"success": False, "error": {"code": code, "message": message}})
        response.status_code = status
        return response
    return shared(code, message, status)


def json_view(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """JSON endpoints answer refusals in the one error shape, whatever the client accepts."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        try:
            return view(*args, **kwargs)
        except StaskError as exc:
            return json_error(exc.code, str(exc), exc.http_status)

    return wrapper


def _session() -> Any:
    return current_stask().db.session


def _hours() -> int:
    return metrics.parse_hours(request.args.get("hours"))


def _identifier() -> str | None:
    identifier = request.args.get("identifier")
    if identifier is None:
        return None
    if not IDENTIFIER_RE.fullmatch(identifier):
        raise InvalidInput(f"invalid worker identifier {identifier!r}")
    return identifier


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def cache_stats() -> dict[str, Any]:
    """The worker cache's shared counters plus how many definitions the shared level holds."""
    runtime = current_stask().runtime
    stats = runtime.workers.stats()
    pattern = runtime.keys.cached_workers_pattern
    stats["l2_size"] = sum(1 for _key in runtime.redis.scan_iter(match=pattern, count=500))
    return stats


# -- JSON ----------------------------------------------------------------------------------------
@monitoring_bp.get("/performance/summary")
@json_view
def performance_summary() -> Response:
    return jsonify({"success": True, "summary": metrics.summary(_session(), _hours())})


@monitoring_bp.get("/performance/workers")
@json_view
def performance_workers() -> Response:
    hours, identifier = _hours(), _identifier()
    workers = metrics.worker_stats(_session(), hours, identifier=identifier)
    if identifier and not workers:
        raise UnknownWorker(f"no worker {identifier!r}: check the name or run `flask stask discover`")
    return jsonify({"success": True, "hours": hours, "workers": workers})


@monitoring_bp.get("/performance/alerts")
@json_view
def performance_alerts() -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    alerts = evaluate(app)
    deliver_alerts(app, alerts)
    return jsonify({"success": True, "count": len(alerts), "alerts": alerts})


@monitoring_bp.get("/cache/stats")
@json_view
def cache_stats_view() -> Response:
    return jsonify({"success": True, "cache": cache_stats()})


@monitoring_bp.post("/cache/clear")
@_require_write
@json_view
def cache_clear() -> Response | str:
    """Forget every cached worker definition (both levels); counters are kept."""
    current_stask().runtime.workers.invalidate()
    record("cache.clear", "cache:workers")
    if _is_htmx():
        return render_template("stask/fragments/performance_cache.html", cache=cache_stats(), cleared=True)
    if request.form and not request.is_json:  # a plain form post from the page without JavaScript
        return redirect(url_for(".performance"), code=303)  # type: ignore[return-value]
    return jsonify({"success": True, "cache": cache_stats()})


@monitoring_bp.get("/health")
@_public
def health_view() -> Response:
    result = health(current_app._get_current_object())  # type: ignore[attr-defined]
    body: dict[str, Any] = {"success": result["ok"], **result}
    if not result["ok"]:
        failed = sorted(name for name, check in result["checks"].items() if check["required"] and not check["ok"])
        body["error"] = {"code": "unhealthy", "message": "failing checks: " + ", ".join(failed)}
    response = jsonify(body)
    response.status_code = 200 if result["ok"] else 503
    return response


@monitoring_bp.get("/metrics")
def prometheus_metrics() -> Response:
    return Response(render(current_app._get_current_object()), mimetype=None, content_type=CONTENT_TYPE)  # type: ignore[attr-defined]


# -- the Performance page ------------------------------------------------------------------------
def _charts(summary: dict[str, Any]) -> list[Any]:
    points = summary["series"]
    labels = [hour_label(p["hour"]) for p in points]
    failure = [None if p["failure_rate"] is None else round(p["failure_rate"] * 100, 2) for p in points]
    run_ms = [p["run_ms_p95"] for p in points]
    # The whole series in one unit, picked by its largest value: an axis of 0, 2, 4, 6 sec.
    unit, size = figures.pick_unit(max((v for v in run_ms if v is not None), default=0), figures.DURATION_MS)
    run = [None if v is None else v / size for v in run_ms]
    return [
        line_chart(
            "throughput",
            _("Throughput"),
            _("tasks/min"),
            labels,
            [p["throughput_per_minute"] for p in points],
            number=figures.number,
        ),
        line_chart("failure", _("Failure rate"), "%", labels, failure, number=figures.number),
        line_chart("p95", _("p95 run time"), figures.unit_symbol(unit), labels, run, number=figures.number),
    ]


def _fragment_context(name: str, hours: int) -> dict[str, Any]:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if name == "charts":
        summary = metrics.summary(_session(), hours)
        return {"summary": summary, "charts": _charts(summary)}
    if name == "workers":
        return {"workers": metrics.worker_stats(_session(), hours)}
    if name == "alerts":
        alerts = evaluate(app)
        deliver_alerts(app, alerts)
        return {"alerts": alerts}
    if name == "cache":
        return {"cache": cache_stats()}
    return {"health": health(app)}


def _page_context(hours: int) -> dict[str, Any]:
    """Every fragment's context: the summary and the per-worker table share one read of the window,
    the alert rules the health checks' database and Redis checks and the table's running counts."""
    summary, workers = metrics.performance(_session(), hours)
    context: dict[str, Any] = {
        "hours": hours,
        "hour_choices": HOUR_CHOICES,
        "refresh": REFRESH_SECONDS,
        "summary": summary,
        "charts": _charts(summary),
        "workers": workers,
    }
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    checked = health(app)
    running = {worker["identifier"] for worker in workers if worker["running"]}  # the rule's counts, read above
    alerts = evaluate(app, checks=(checked["checks"]["database"], checked["checks"]["redis"]), running=running)
    deliver_alerts(app, alerts)
    context.update(alerts=alerts, health=checked, cache=cache_stats())
    return context


@monitoring_bp.get("/performance")
def performance() -> str:
    hours = _hours()
    return render_template("stask/performance.html", **_page_context(hours))


@monitoring_bp.get("/performance/fragments/<name>")
def performance_fragment(name: str) -> str:
    if name not in FRAGMENTS:
        raise UnknownFragment(f"no fragment {name!r}: use one of {', '.join(FRAGMENTS)}")
    hours = _hours()
    context = {"hours": hours, "refresh": REFRESH_SECONDS, **_fragment_context(name, hours)}
    return render_template(f"stask/fragments/performance_{name}.html", **context)


class UnknownFragment(StaskError):
    """The Performance page has no fragment of this name."""

    code = "not_found"
    http_status = 404
