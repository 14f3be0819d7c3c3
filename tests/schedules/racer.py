"""One racing process: ``python -m tests.schedules.racer <now> <name>`` fires due schedules once.

It builds its own app from the environment (``tests.support.workers.worker_env``), says it is
ready on a Redis list, blocks until the test says go, runs ``fire_due(now)`` and reports how
many tasks it created.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

import redis

from stask import create_app

READY, GO, DONE = "test:race:ready", "test:race:go", "test:race:done"


def main(now_text: str, name: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"]})
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    with app.app_context():
        service = app.extensions["stask.service"]
        service.workers.resolve("echo")  # warm up (imports, connections) before the start line
        client.rpush(READY, name)
        client.blpop([GO], timeout=60)
        report = service.schedules.fire_due(datetime.fromisoformat(now_text), limit=100_000)
        client.rpush(DONE, f"{name} {len(report.created)} {report.lost}")
        service.db.session.remove()
    client.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
