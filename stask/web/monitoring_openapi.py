"""OpenAPI 3 path items of the monitoring endpoints (merged into ``<prefix>/api/openapi.json``).

Paths are relative to the stask prefix, like the API's own. Errors use the shared
``#/components/schemas/Error`` schema of :mod:`stask.web.openapi`.
"""

from __future__ import annotations

from typing import Any

from ..monitoring.metrics import MAX_HOURS
from ..workers.base import IDENTIFIER_PATTERN
from .openapi_parts import DATE as TIME
from .openapi_parts import SUCCESS
from .openapi_parts import json_response as _json

INT = {"type": "integer"}
NUM = {"type": "number"}
NULL_INT = {"type": "integer", "nullable": True}
NULL_NUM = {"type": "number", "nullable": True}
NULL_STR = {"type": "string", "nullable": True}


def _object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties), **extra}


def _error(description: str) -> dict[str, Any]:
    return _json({"$ref": "#/components/schemas/Error"}, description)


DISTRIBUTION = _object({"count": INT, "avg": NULL_NUM, "p50": NULL_INT, "p95": NULL_INT, "max": NULL_INT})
MEMORY = _object({"count": INT, "avg": NULL_NUM, "max": NULL_INT})
ERRORS = {
    "type": "array",
    "items": _object({"message": {"type": "string"}, "count": INT, "last_seen": {**TIME, "nullable": True}}),
}
FIGURES = {
    "finished": INT,
    "failed": INT,
    "cancelled": INT,
    "completed": INT,
    "retried": INT,
    "throughput_per_minute": NUM,
    "success_rate": NULL_NUM,
    "error_rate": NULL_NUM,
    "wait_ms": DISTRIBUTION,
    "run_ms": DISTRIBUTION,
    "peak_memory_kb": MEMORY,
}
SUMMARY = _object(
    {
        "window": _object({"hours": INT, "from": TIME, "to": TIME}),
        "totals": _object(
            {
                name: INT
                for name in (
                    "pending",
                    "preparing",
                    "running",
                    "finished",
                    "cancelled",
                    "failed",
                    "completed",
                    "retried",
                )
            }
        ),
        **{k: v for k, v in FIGURES.items() if k not in ("finished", "failed", "cancelled", "completed", "retried")},
        "top_errors": ERRORS,
        "series": {
            "type": "array",
            "description": "One point per hour of the window (UTC), partial first and last hours included",
            "items": _object(
                {
                    "hour": TIME,
                    "finished": INT,
                    "failed": INT,
                    "cancelled": INT,
                    "throughput_per_minute": NUM,
                    "failure_rate": NULL_NUM,
                    "run_ms_p95": NULL_INT,
                }
            ),
        },
    }
)
WORKER = _object(
    {
        "identifier": {"type": "string"},
        "title": {"type": "string"},
        "active": {"type": "boolean"},
        "registered": {"type": "boolean"},
        "pending": INT,
        "preparing": INT,
        "running": INT,
        **FIGURES,
        "top_errors": ERRORS,
        "actions": {"type": "array", "items": _object({"action": {"type": "string"}, **FIGURES})},
    }
)
ALERT = _object(
    {
        "key": {"type": "string", "description": "type, or type:subject (a queue, a worker or a schedule id)"},
        "type": {
            "type": "string",
            "enum": [
                "failure_rate",
                "p95_run_time",
                "queue_wait",
                "stuck_tasks",
                "no_worker",
                "schedule_missed",
                "schedule_failing",
                "database_unreachable",
                "redis_unreachable",
            ],
        },
        "severity": {"type": "string", "enum": ["warning", "critical"]},
        "message": {"type": "string"},
        "value": NULL_NUM,
        "threshold": NULL_NUM,
        "since": {**TIME, "nullable": True},
    }
)
CACHE = _object(
    {
        "l1_hits": INT,
        "l2_hits": INT,
        "misses": INT,
        "evictions": INT,
        "hits": INT,
        "lookups": INT,
        "hit_rate": NULL_NUM,
        "l1_size": INT,
        "l1_ttl": NUM,
        "l2_ttl": NUM,
        "l2_size": INT,
    }
)
CHECK = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "required": {"type": "boolean"}},
    "required": ["ok", "required"],
    "additionalProperties": True,
}
HEALTH = _object(
    {
        "success": {"type": "boolean"},
        "ok": {"type": "boolean"},
        "checks": _object({name: CHECK for name in ("database", "redis", "workers", "scheduler", "storage")}),
        "error": _object({"code": {"type": "string"}, "message": {"type": "string"}}),
    },
    required=["success", "ok", "checks"],
)
HOURS = {
    "name": "hours",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HOURS, "default": 24},
    "description": "Window length in hours, ending now (leave it out for 24; an empty value is refused)",
}
#: What the guard can answer on every authenticated operation (see ``stask.web.openapi``).
AUTH_ERRORS = {
    "401": _error("No valid credentials"),
    "403": _error("Refused by the host's STASK_AUTHORIZE, or (writes) read-only role or missing CSRF token"),
    "413": _error("The request body is too large"),
    "429": _error("Too many bad bearer tokens from this client: wait (Retry-After) and try again"),
}

OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/performance/summary": {
        "get": {
            "summary": "Totals, throughput, rates, wait/run percentiles, memory, top errors and an hourly series",
            "tags": ["monitoring"],
            "parameters": [HOURS],
            "responses": {
                "200": _json(_object({"success": SUCCESS, "summary": SUMMARY}), "The window's figures"),
                "400": _error("Invalid hours"),
                **AUTH_ERRORS,
            },
        }
    },
    "/performance/workers": {
        "get": {
            "summary": "The same figures per worker and per action",
            "tags": ["monitoring"],
            "parameters": [
                HOURS,
                {
                    "name": "identifier",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "pattern": IDENTIFIER_PATTERN, "maxLength": 64},
                    "description": "Only this worker",
                },
            ],
            "responses": {
                "200": _json(
                    _object({"success": SUCCESS, "hours": INT, "workers": {"type": "array", "items": WORKER}}),
                    "Per-worker figures",
                ),
                "400": _error("Invalid hours or identifier"),
                "404": _error("No such worker"),
                **AUTH_ERRORS,
            },
        }
    },
    "/performance/alerts": {
        "get": {
            "summary": "Alerts firing now (reading them also delivers due notifications)",
            "tags": ["monitoring"],
            "responses": {
                "200": _json(
                    _object({"success": SUCCESS, "count": INT, "alerts": {"type": "array", "items": ALERT}}),
                    "Firing alerts (empty when all is well)",
                ),
                **AUTH_ERRORS,
            },
        }
    },
    "/cache/stats": {
        "get": {
            "summary": "Worker-resolution cache: hits per level, misses, evictions, hit rate, sizes",
            "tags": ["monitoring"],
            "responses": {
                "200": _json(_object({"success": SUCCESS, "cache": CACHE}), "Cache statistics"),
                **AUTH_ERRORS,
            },
        }
    },
    "/cache/clear": {
        "post": {
            "summary": "Forget every cached worker definition (admin)",
            "tags": ["monitoring"],
            "responses": {
                "200": _json(_object({"success": SUCCESS, "cache": CACHE}), "Cleared; statistics after clearing"),
                **AUTH_ERRORS,
            },
        }
    },
    "/health": {
        "get": {
            "summary": "Database, Redis, worker processes, scheduler and disk space (public)",
            "tags": ["monitoring"],
            "security": [],
            "responses": {
                "200": _json(HEALTH, "Healthy"),
                "413": _error("The request body is too large (public routes take at most 16 KiB)"),
                "503": _json(HEALTH, "A required check fails"),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus text exposition (format 0.0.4)",
            "tags": ["monitoring"],
            "responses": {
                "200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                **AUTH_ERRORS,
            },
        }
    },
}
