"""RQ jobs written in bulk: the same keys RQ's ``Queue.enqueue_many`` writes, at a fraction of its cost.

For each job, ``enqueue_many`` builds a :class:`rq.job.Job`, sends ``HSET status``, then the
whole hash (``Job.to_dict``, 17 fields for stask's jobs), then ``RPUSH`` (``LPUSH`` at the
front), inside MULTI/EXEC, and redis-py encodes every one of those arguments in Python:
about 100 µs a job, more than stask's whole INSERT of the row. Here 13 of the 17 fields are
the same for every job of a batch, so they are encoded once, in Redis's own protocol, and each
job adds only its key, data, description and the two timestamps; ids are pushed with one
``RPUSH``/``LPUSH`` per queue and chunk; everything goes out in one write, without MULTI (a
worker can pop an id only after its hash, which comes first on the same connection).

What RQ reads back is what RQ would have written (tests/engine/test_bulk_enqueue.py compares
them field by field): the hash's fields and values, the queue list, the ``rq:queues`` set. The
one difference is the bytes of ``data``: the same pickled call, in a zlib stream made with other
settings (see :func:`deflate`); ``zlib.decompress`` (what RQ's ``Job.restore`` runs) reads both.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import NamedTuple

import redis
from redis.exceptions import ResponseError

#: What RQ writes for a job without callbacks, retries, group or meta, besides the variable fields.
EMPTY_FIELDS = (
    "success_callback_name",
    "failure_callback_name",
    "stopped_callback_name",
    "started_at",
    "ended_at",
    "last_heartbeat",
    "worker_name",
    "group_id",
)
#: RQ's timestamp format (``rq.utils.utcformat``).
TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Jobs per chunk: one RPUSH per queue and chunk, and a bound on one write's size.
CHUNK = 1000
#: Payloads (pickled) shorter than this are stored in the zlib stream, not deflated: see :func:`deflate`.
STORED_BELOW = 1024
#: ``rq:queues``: the set RQ's ``Queue.all()`` (and ``rq info``) reads.
QUEUES_SET = b"rq:queues"


class BulkJob(NamedTuple):
    """One job: its id, queue, function call and options (a tuple: cheap to make by the thousand)."""

    job_id: str
    queue_key: str
    origin: str
    func_name: str
    args: tuple[object, ...]
    description: str
    timeout: int
    at_front: bool = False


def bulk_string(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def deflate(data: bytes) -> bytes:
    """A zlib stream, what ``zlib.decompress`` (RQ's ``Job.restore``) reads.

    Setting up zlib's compressor costs 50 µs, more than a small payload's whole enqueue: a
    payload under :data:`STORED_BELOW` bytes is stored (level 0: ~2 µs, a hundred bytes more
    than deflated, and only until a worker takes the job); a larger one is deflated with a
    1 KiB window (a quarter of zlib's set-up cost).
    """
    if len(data) < STORED_BELOW:
        compressor = zlib.compressobj(0, zlib.DEFLATED, 9, 1)
    else:
        compressor = zlib.compressobj(6, zlib.DEFLATED, 10, 2)
    return compressor.compress(data) + compressor.flush()


def job_data(func_name: str, args: tuple[object, ...]) -> bytes:
    """RQ's ``Job.data`` for a call by dotted name: (func name, instance, args, kwargs), pickled."""
    return pickle.dumps((func_name, None, args, {}), protocol=pickle.HIGHEST_PROTOCOL)


class JobWriter:
    """Encodes the commands of a batch of jobs; :func:`write` sends them."""

    def __init__(self, result_ttl: int, failure_ttl: int, now: datetime | None = None) -> None:
        stamp = (now or datetime.now(timezone.utc)).strftime(TIMESTAMP).encode()
        constant = b"".join(bulk_string(name.encode()) + b"$0\r\n\r\n" for name in EMPTY_FIELDS)
        constant += bulk_string(b"status") + bulk_string(b"queued")
        constant += bulk_string(b"result_ttl") + bulk_string(str(result_ttl).encode())
        constant += bulk_string(b"failure_ttl") + bulk_string(str(failure_ttl).encode())
        constant += bulk_string(b"created_at") + bulk_string(stamp)
        constant += bulk_string(b"enqueued_at") + bulk_string(stamp)
        self._constant = constant
        #: HSET, key, then 13 constant and 4 variable field-value pairs.
        self._head = b"*36\r\n$4\r\nHSET\r\n"
        self._options: dict[tuple[str, int], bytes] = {}

    def _per_queue(self, origin: str, timeout: int) -> bytes:
        key = (origin, timeout)
        found = self._options.get(key)
        if found is None:
            found = self._options[key] = (
                self._constant
                + bulk_string(b"origin")
                + bulk_string(origin.encode())
                + bulk_string(b"timeout")
                + bulk_string(str(timeout).encode())
            )
        return found

    def hset(self, job: BulkJob) -> bytes:
        """The one ``HSET`` that leaves the hash RQ's two would."""
        data = deflate(job_data(job.func_name, job.args))
        return (
            self._head
            + bulk_string(b"rq:job:" + job.job_id.encode())
            + self._per_queue(job.origin, job.timeout)
            + b"$4\r\ndata\r\n"
            + bulk_string(data)
            + b"$11\r\ndescription\r\n"
            + bulk_string(job.description.encode())
        )


def command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(bulk_string(part) for part in parts)


def encode(jobs: Iterable[BulkJob], writer: JobWriter) -> tuple[list[bytes], int]:
    """The commands for ``jobs`` in chunks (hashes first, then the pushes): (writes, replies)."""
    writes: list[bytes] = []
    replies = 0
    chunk: list[bytes] = []
    back: dict[str, list[bytes]] = {}
    front: dict[str, list[bytes]] = {}
    queues: set[str] = set()

    def flush() -> None:
        nonlocal replies
        for pushes, verb in ((back, b"RPUSH"), (front, b"LPUSH")):
            for key, ids in pushes.items():
                chunk.append(command(verb, key.encode(), *ids))
            replies += len(pushes)
            pushes.clear()
        writes.append(b"".join(chunk))
        chunk.clear()

    count = 0
    for job in jobs:
        if job.queue_key not in queues:
            queues.add(job.queue_key)
            chunk.append(command(b"SADD", QUEUES_SET, job.queue_key.encode()))
            replies += 1
        chunk.append(writer.hset(job))
        (front if job.at_front else back).setdefault(job.queue_key, []).append(job.job_id.encode())
        count += 1
        if count % CHUNK == 0:
            flush()
    if chunk:
        flush()
    return writes, replies + count


def write(client: redis.Redis, writes: list[bytes], replies: int) -> None:
    """Send every write on one connection, then read every reply; raise the first error.

    All replies are read before raising, so the pooled connection stays in step; a broken
    connection is dropped (redis-py's own pipeline does the same).
    """
    if not writes:
        return
    pool = client.connection_pool
    connection = client.connection or pool.get_connection()
    first: ResponseError | None = None
    try:
        connection.send_packed_command(writes)
        for _ in range(replies):
            try:
                connection.read_response()
            except ResponseError as exc:
                first = first or exc
    except BaseException:
        connection.disconnect()
        raise
    finally:
        if client.connection is None:
            pool.release(connection)
    if first is not None:
        raise first
