"""Health: every dependency checked, 200 when the required ones answer, 503 when one does not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from rq import Worker as RQWorker

from tests.support.servers import RedisServer


def get_health(app: Flask) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/stask/health")  # public: no credentials
    assert response.headers["Content-Type"].startswith("application/json")
    return response.status_code, response.get_json()


def test_healthy_on_every_database(app: Flask) -> None:
    status, body = get_health(app)
    assert status == 200 and body["success"] is True and body["ok"] is True
    checks = body["checks"]
    assert set(checks) == {"database", "redis", "workers", "scheduler", "storage"}
    assert checks["database"]["ok"] and checks["redis"]["ok"] and checks["storage"]["free_bytes"] > 0
    # no worker runs in this test: reported, but not required by default
    assert checks["workers"] == {"ok": False, "required": False, "count": 0, "names": []}
    assert checks["scheduler"]["ok"] is False and "error" not in body


def test_workers_and_scheduler_when_required(make_app: Callable[..., Flask]) -> None:
    app = make_app(STASK_HEALTH_REQUIRE_WORKERS=True)
    status, body = get_health(app)
    assert status == 503 and body["success"] is False
    assert body["error"] == {"code": "unhealthy", "message": "failing checks: scheduler, workers"}
    runtime = app.extensions["stask.runtime"]
    worker = RQWorker(list(runtime.transport.queues.values()), connection=runtime.redis, name="health-probe")
    worker.register_birth()
    try:
        for queue in ("high", "normal", "low"):
            runtime.redis.set(f"rq:scheduler-lock:{queue}", "health-probe", ex=60)
        status, body = get_health(app)
        assert status == 200, body
        assert body["checks"]["workers"]["names"] == ["health-probe"]
        assert body["checks"]["scheduler"]["queues"] == ["high", "low", "normal"]
    finally:
        worker.register_death()


def test_503_when_redis_stops(stoppable_redis: RedisServer, make_app: Callable[..., Flask]) -> None:
    app = make_app(redis_url=stoppable_redis.url)
    assert get_health(app)[0] == 200
    stoppable_redis.stop()
    status, body = get_health(app)
    assert status == 503 and body["ok"] is False
    assert body["checks"]["redis"]["ok"] is False and "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert "redis" in body["error"]["message"]


def test_503_when_the_database_is_unreachable(app_without_database: Flask) -> None:
    app = app_without_database
    status, body = get_health(app)
    assert status == 503 and body["checks"]["database"]["ok"] is False and body["checks"]["redis"]["ok"] is True


def test_503_when_the_disk_is_nearly_full(make_app: Callable[..., Flask]) -> None:
    app = make_app(STASK_HEALTH_MIN_FREE_MB=10**12)
    status, body = get_health(app)
    assert status == 503 and body["checks"]["storage"]["ok"] is False
    assert body["checks"]["storage"]["min_free_bytes"] == 10**12 * 1024 * 1024
