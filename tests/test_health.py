"""Health: every dependency checked, 200 when the required ones answer, 503 when one does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from rq import Worker as RQWorker

from tests.conftest import make_app
from tests.monitoring_support import PrivateRedis, app_without_database, private_redis  # noqa: F401


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


def test_workers_and_scheduler_when_required(sqlite_path: Path, redis_url: str, tmp_path: Path) -> None:
    app = make_app("sqlite", sqlite_path, redis_url, tmp_path, STASK_HEALTH_REQUIRE_WORKERS=True)
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


def test_503_when_redis_stops(private_redis: PrivateRedis, sqlite_path: Path, tmp_path: Path) -> None:  # noqa: F811
    app = make_app("sqlite", sqlite_path, private_redis.url, tmp_path)
    assert get_health(app)[0] == 200
    private_redis.stop()
    status, body = get_health(app)
    assert status == 503 and body["ok"] is False
    assert body["checks"]["redis"]["ok"] is False and "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert "redis" in body["error"]["message"]


def test_503_when_the_database_is_unreachable(redis_url: str, tmp_path: Path) -> None:
    app = app_without_database(redis_url, tmp_path)
    status, body = get_health(app)
    assert status == 503 and body["checks"]["database"]["ok"] is False and body["checks"]["redis"]["ok"] is True


def test_503_when_the_disk_is_nearly_full(sqlite_path: Path, redis_url: str, tmp_path: Path) -> None:
    app = make_app("sqlite", sqlite_path, redis_url, tmp_path, STASK_HEALTH_MIN_FREE_MB=10**12)
    status, body = get_health(app)
    assert status == 503 and body["checks"]["storage"]["ok"] is False
    assert body["checks"]["storage"]["min_free_bytes"] == 10**12 * 1024 * 1024
