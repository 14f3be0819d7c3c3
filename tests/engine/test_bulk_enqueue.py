"""Jobs written in bulk (:mod:`stask.engine.bulk_jobs`) are what RQ's own ``enqueue_many`` writes:
compared key by key and field by field with RQ's, read back by RQ, run by a real worker; an error
reply leaves the connection usable."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus

from stask.engine import bulk_jobs
from stask.engine.queues import FAILURE_TTL, JOB_FUNCTION, RESULT_TTL, Transport, description, job_id
from stask.models import Task, utcnow

NOW = datetime(2026, 11, 30, 12, 0, 0)
#: Set by RQ to the moment of the enqueue: compared by format, not value.
TIMESTAMPS = {b"created_at", b"enqueued_at"}


def payload(task_id: int, attempts: int = 0, priority: str = "normal", data: Any = None) -> dict[str, Any]:
    return {
        "id": task_id,
        "identifier": "echo",
        "action": "say",
        "data": data if data is not None else {"n": task_id},
        "priority": priority,
        "attempts": attempts,
        "max_attempts": 3,
        "timeout": 60 + task_id,  # per worker: each job its own
        "created_at": NOW,
        "start_at": None,
        "user_id": None,
        "backoff": (5.0, 600.0),
        "parents": [],
        "notify": False,
    }


#: A first attempt and retries (at the front), on two queues, one payload larger than is stored as is.
PAYLOADS = [
    payload(1),
    payload(2, attempts=1),
    payload(3, priority="high"),
    payload(4),
    payload(5, attempts=2),
    payload(6, priority="high", data={"text": "x" * 3 * bulk_jobs.STORED_BELOW}),
]


@pytest.fixture
def client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """The session's Redis (the suite owns it), empty."""
    redis_client.flushdb()
    yield redis_client
    redis_client.flushdb()


def snapshot(client: redis.Redis) -> dict[bytes, Any]:
    state: dict[bytes, Any] = {}
    for key in client.keys():
        kind = client.type(key)
        if kind == b"hash":
            state[key] = client.hgetall(key)
        elif kind == b"list":
            state[key] = client.lrange(key, 0, -1)
        else:
            state[key] = client.smembers(key)
    return state


def rq_enqueue_many(transport: Transport, payloads: list[dict[str, Any]]) -> None:
    """RQ's own ``enqueue_many``, with the options stask gives its jobs."""
    for name, queue in transport.queues.items():
        datas = [
            Queue.prepare_data(
                JOB_FUNCTION,
                args=(p,),
                timeout=p["timeout"],
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                job_id=job_id(p["id"], p["attempts"] + 1),
                description=description(p),
                at_front=p["attempts"] > 0,
            )
            for p in payloads
            if p["priority"] == name
        ]
        if datas:
            queue.enqueue_many(datas)


def test_the_keys_written_are_those_of_rqs_enqueue_many(client: redis.Redis) -> None:
    transport = Transport(client)
    rq_enqueue_many(transport, PAYLOADS)
    theirs = snapshot(client)
    client.flushdb()
    transport.enqueue(PAYLOADS, NOW)
    ours = snapshot(client)
    assert sorted(ours) == sorted(theirs)
    for key, expected in theirs.items():
        if not key.startswith(b"rq:job:"):
            assert ours[key] == expected, key  # queue lists in the same order, the rq:queues set
            continue
        assert sorted(ours[key]) == sorted(expected), key
        for field, value in expected.items():
            mine = ours[key][field]
            if field in TIMESTAMPS:
                assert len(mine) == len(value) and mine.endswith(b"Z"), (key, field, mine)
            elif field == b"data":
                assert zlib.decompress(mine) == zlib.decompress(value), key
            else:
                assert mine == value, (key, field, mine, value)


def test_rq_reads_the_jobs_back_as_it_wrote_them(client: redis.Redis) -> None:
    Transport(client).enqueue(PAYLOADS, NOW)
    for p in PAYLOADS:
        job = Job.fetch(job_id(p["id"], p["attempts"] + 1), connection=client)
        assert (job.func_name, job.args, job.kwargs) == (JOB_FUNCTION, (p,), {})
        assert (job.timeout, job.result_ttl, job.failure_ttl, job.origin) == (
            p["timeout"],
            RESULT_TTL,
            FAILURE_TTL,
            p["priority"],
        )
        assert job.get_status() == JobStatus.QUEUED and job.description == description(p)
        assert job.enqueued_at is not None and job.created_at is not None
    assert Queue("normal", connection=client).job_ids == ["stask-5-3", "stask-2-2", "stask-1-1", "stask-4-1"]
    assert {q.name for q in Queue.all(connection=client)} == {"normal", "high"}


def test_an_error_reply_is_raised_after_every_reply_is_read(client: redis.Redis) -> None:
    transport = Transport(client)
    client.set(transport.queues["high"].key, "not a list")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        transport.enqueue(PAYLOADS, NOW)
    assert client.ping() and client.lrange(transport.queues["normal"].key, 0, -1)  # in step: next replies are right
    client.delete(transport.queues["high"].key)
    transport.enqueue([payload(7)], NOW)
    assert client.lindex(transport.queues["normal"].key, -1) == b"stask-7-1"


def test_jobs_come_in_chunks_of_hashes_then_their_pushes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_jobs, "CHUNK", 2)
    jobs = [
        bulk_jobs.BulkJob(f"j{i}", "rq:queue:normal", "normal", JOB_FUNCTION, (i,), f"job {i}", 60) for i in range(5)
    ]
    writes, replies = bulk_jobs.encode(jobs, bulk_jobs.JobWriter(0, 1))
    assert len(writes) == 3 and replies == 1 + 5 + 3  # SADD once, an HSET each, an RPUSH per chunk
    for write in writes:
        assert write.rfind(b"HSET") < write.find(b"RPUSH")


def test_a_worker_runs_jobs_written_in_bulk_once_each(app: Any, stask: Any) -> None:
    from tests.support.apps import run_worker

    tasks = stask.create_many([{"identifier": "echo", "action": "say", "data": {"text": str(i)}} for i in range(12)])
    retry = stask.create("echo", "noop")
    from stask.service import current_stask

    duplicate = current_stask().tasks.payload_for_row(retry)
    stask.runtime.transport.enqueue([duplicate], utcnow() + timedelta(seconds=1))  # delivered twice
    run_worker(app)
    stask.db.session.expire_all()
    rows = [stask.db.session.get(Task, t.id) for t in [*tasks, retry]]
    assert {(row.status_text, row.attempts) for row in rows} == {("finished", 1)}
