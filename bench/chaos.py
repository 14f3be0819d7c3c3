"""``python -m bench.chaos`` (``make chaos``): stask's worker processes under faults, judged.

On a private ``redis-server`` and a uniquely named PostgreSQL database (dropped at the end) it
runs fork and simple worker processes (``flask --app stask stask worker -w …``) under a
restart-on-failure supervisor and ``flask --app stask stask process`` every 10 s, feeds them
no-op and 50 ms tasks, kills a random worker process, work horse or scheduler process with
``SIGKILL`` every 5 s, and stops Redis and then the database for a while in the middle.
Every execution of an action leaves one line in a log (:mod:`bench.chaos_plugins`); the
lines, the kills, the process exits and the final rows give the table and its verdicts
(docs/reliability.md explains each column). Exit status 1 when any target fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from bench.chaos_plugins import CHAOS_WORKERS, LOG_VARIABLE
from bench.env import ROOT, BenchEnv, memory_total, stop_process
from stask.embedded import redis_binary, start_redis
from stask.enums import QUEUE_ORDER, Status

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ENDED = {int(Status.FINISHED), int(Status.FAILED), int(Status.CANCELLED)}
FLASK = [sys.executable, "-m", "flask", "--app", "stask", "stask"]


# -- the plan -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    tasks: int = 10_000
    slow_tasks: int = 2_000
    #: Seconds of chaos (kills and feeding); the outages fall inside it.
    duration: float = 200.0
    outage: float = 20.0
    fork_workers: int = 4
    simple_workers: int = 2
    kill_every: float = 5.0
    cron_every: float = 10.0
    heartbeat_ttl: int = 6
    reconcile_interval: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 1.0
    max_attempts: int = 3
    #: Open rows (queued or running) the feeder keeps at most, so a retry never waits
    #: behind a long backlog and the recovery time measures recovery, not queueing.
    backlog: int = 300
    seed: int = 1

    @property
    def bound(self) -> float:
        """The documented bound plus the longest retry delay (the delay is policy, not latency)."""
        return self.heartbeat_ttl + self.reconcile_interval + self.backoff_cap

    @property
    def outages(self) -> dict[str, float]:
        """When each outage starts, in seconds from the start of the chaos."""
        return {"redis": 0.3 * self.duration, "database": 0.3 * self.duration + self.outage + 0.15 * self.duration}

    def settings(self) -> dict[str, str]:
        return {
            "STASK_HEARTBEAT_TTL": str(self.heartbeat_ttl),
            "STASK_RECONCILE_INTERVAL": str(self.reconcile_interval),
            "STASK_BACKOFF_BASE": str(self.backoff_base),
            "STASK_BACKOFF_CAP": str(self.backoff_cap),
            "STASK_MAX_ATTEMPTS": str(self.max_attempts),
        }


SMOKE = Plan(
    tasks=150,
    slow_tasks=30,
    duration=16.0,
    outage=3.0,
    fork_workers=1,
    simple_workers=1,
    kill_every=4.0,
    cron_every=6.0,
    backlog=100,
)


# -- what happened --------------------------------------------------------------------------
@dataclass(frozen=True)
class Kill:
    at: float
    point: str  # fork worker, simple worker, work horse, scheduler
    pid: int
    children: tuple[int, ...] = ()


@dataclass(frozen=True)
class Exit:
    at: float
    kind: str
    pid: int
    code: int
    killed: bool  # by the harness's SIGKILL


@dataclass(frozen=True)
class Execution:
    task: int
    attempt: int
    pid: int
    ppid: int
    at: float


@dataclass(frozen=True)
class Row:
    status: int
    attempts: int
    finished_at: float | None


@dataclass
class Journal:
    """Everything the harness did and saw, appended to by its threads."""

    started: float = field(default_factory=time.time)
    kills: list[Kill] = field(default_factory=list)
    exits: list[Exit] = field(default_factory=list)
    outages: dict[str, tuple[float, float]] = field(default_factory=dict)
    cron: Counter[int] = field(default_factory=Counter)
    cron_skipped: int = 0
    feed_errors: Counter[str] = field(default_factory=Counter)
    #: (time, every queue's scheduler lock held by a live process?) — None: Redis unreachable.
    scheduler_samples: list[tuple[float, bool | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, attribute: str, item: Any) -> None:
        with self.lock:
            getattr(self, attribute).append(item)


# -- servers ----------------------------------------------------------------------------------
class PrivateRedis:
    """A private ``redis-server`` that can be stopped and started again on the same port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process, self.url = start_redis(folder)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def start(self) -> None:
        """The same options as :func:`stask.embedded.start_redis`: it comes back empty."""
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [redis_binary(), *options, "--dir", str(self.folder)], stdout=subprocess.DEVNULL, start_new_session=True
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(redis.ConnectionError):
                client.ping()
                client.close()
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not come back on port {self.port}")

    def version(self) -> str:
        return str(redis.Redis.from_url(self.url).info("server").get("redis_version"))


class PrivateDatabase:
    """``stask_chaos_<pid>_<random>`` on the local PostgreSQL: created, blocked, dropped."""

    def __init__(self, server_url: str = POSTGRES_SERVER) -> None:
        self.name = f"stask_chaos_{os.getpid()}_{os.urandom(3).hex()}"
        server = sa.engine.make_url(server_url)
        self.admin = sa.create_engine(
            server.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        self.url = server.set(database=self.name).render_as_string(hide_password=False)
        self._sql(f"CREATE DATABASE \"{self.name}\" ENCODING 'UTF8' TEMPLATE template0")

    def _sql(self, statement: str) -> list[Any]:
        with self.admin.connect() as connection:
            result = connection.execute(sa.text(statement))
            return list(result.fetchall()) if result.returns_rows else []

    def block(self) -> int:
        """No new sessions, and every open one terminated: how many were."""
        self._sql(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        rows = self._sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()"
        )
        return len(rows)

    def allow(self) -> None:
        self._sql(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def version(self) -> str:
        with self.admin.connect() as connection:
            return str(connection.execute(sa.text("SHOW server_version")).scalar())

    def drop(self) -> None:
        self.allow()
        self._sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


class ChaosEnv(BenchEnv):
    """The benchmark's environment with the chaos plugin, the plan's settings and the log."""

    plan: Plan = Plan()

    @property
    def execution_log(self) -> Path:
        return self.workdir / "executions.log"

    def config(self, backend: str) -> dict[str, Any]:
        return {**super().config(backend), "STASK_WORKERS": CHAOS_WORKERS, **self.plan.settings()}

    def worker_env(self, backend: str) -> dict[str, str]:
        env = super().worker_env(backend)
        env.update(self.plan.settings(), STASK_WORKERS=CHAOS_WORKERS, STASK_WEB="false", SECRET_KEY="stask-chaos")
        env[LOG_VARIABLE] = str(self.execution_log)
        return env


# -- processes --------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux: ``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        with suppress(OSError):
            found += [int(part) for part in path.read_text().split()]
    return found


@dataclass
class Slot:
    """One supervised worker process (``kind`` is fork or simple)."""

    kind: str
    index: int
    process: subprocess.Popen[bytes] | None = None
    restart_at: float | None = None
    stopped_cleanly: bool = False


class Supervisor:
    """Restart-on-failure, like systemd's ``Restart=on-failure`` with ``RestartSec=1``."""

    RESTART_DELAY = 1.0

    def __init__(self, env: ChaosEnv, journal: Journal, plan: Plan) -> None:
        self.env = env
        self.journal = journal
        self.slots = [Slot("fork", i) for i in range(plan.fork_workers)]
        self.slots += [Slot("simple", i) for i in range(plan.simple_workers)]
        self.killed: set[int] = set()
        self.lock = threading.Lock()
        self.stopping = False
        self._environ = env.worker_env("postgresql")

    def spawn(self, slot: Slot) -> None:
        log = open(self.env.workdir / f"worker-{slot.kind}-{slot.index}.log", "ab")  # noqa: SIM115
        slot.process = subprocess.Popen(
            [*FLASK, "worker", "-w", slot.kind],
            cwd=ROOT,
            env=self._environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        slot.restart_at = None

    def start(self) -> None:
        for slot in self.slots:
            self.spawn(slot)

    def live(self) -> list[tuple[Slot, int]]:
        with self.lock:
            return [(s, s.process.pid) for s in self.slots if s.process is not None and s.process.poll() is None]

    def kill(self, pid: int) -> None:
        with self.lock:
            self.killed.add(pid)
        os.kill(pid, signal.SIGKILL)

    def poll(self) -> None:
        """Record exits; restart those that failed (non-zero or a signal)."""
        now = time.time()
        with self.lock:
            for slot in self.slots:
                process = slot.process
                if process is not None and process.poll() is not None:
                    code = int(process.returncode)
                    self.journal.add("exits", Exit(now, slot.kind, process.pid, code, process.pid in self.killed))
                    slot.process = None
                    if code == 0:
                        slot.stopped_cleanly = True
                    else:
                        slot.restart_at = now + self.RESTART_DELAY
                if slot.process is None and slot.restart_at is not None and now >= slot.restart_at:
                    if not self.stopping:
                        self.spawn(slot)

    def alive(self) -> int:
        return len(self.live())

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            running = [s.process for s in self.slots if s.process is not None]
        for process in running:
            if process.poll() is None:
                process.terminate()
        for process in running:
            stop_process(process)


@contextmanager
def background(name: str, body: Callable[[threading.Event], None]) -> Iterator[threading.Event]:
    """Run ``body(stop)`` in a thread until the block ends."""
    stop = threading.Event()
    thread = threading.Thread(target=body, args=(stop,), name=name, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=60)


def every(seconds: float, stop: threading.Event, action: Callable[[], None]) -> None:
    """Call ``action`` every ``seconds`` until ``stop``; an error is logged, never the end of the loop."""
    while not stop.wait(seconds):
        try:
            action()
        except Exception as exc:  # a fault the harness caused must not stop one of its threads
            log(f"{threading.current_thread().name}: {type(exc).__name__}: {exc}")


# -- the faults ---------------------------------------------------------------------------------
def scheduler_pids(client: redis.Redis) -> dict[str, int]:
    """Queue → pid of the scheduler process holding its lock (RQ's ``rq:scheduler-lock:*``)."""
    found: dict[str, int] = {}
    for queue in QUEUE_ORDER:
        name = client.get(f"rq:scheduler-lock:{queue}")
        if name:
            pid = client.hget(f"rq:scheduler:{name.decode() if isinstance(name, bytes) else name}", "pid")
            if pid and int(pid):
                found[queue] = int(pid)
    return found


class Killer:
    """Every ``kill_every`` s: ``SIGKILL`` to a worker process, a work horse or a scheduler process."""

    POINTS = ("worker", "work horse", "scheduler")

    def __init__(self, supervisor: Supervisor, client: redis.Redis, journal: Journal, rng: random.Random) -> None:
        self.supervisor = supervisor
        self.client = client
        self.journal = journal
        self.rng = rng

    def _schedulers(self, ours: set[int]) -> list[int]:
        try:
            return [pid for pid in set(scheduler_pids(self.client).values()) if pid in ours]
        except redis.RedisError:
            return []

    def pick(self) -> tuple[str, int, tuple[int, ...]] | None:
        live = self.supervisor.live()
        if not live:
            return None
        by_pid = {pid: slot for slot, pid in live}
        kids = {pid: children(pid) for pid in by_pid}
        schedulers = self._schedulers({child for group in kids.values() for child in group})
        horses = [c for pid, group in kids.items() if by_pid[pid].kind == "fork" for c in group if c not in schedulers]
        point = self.rng.choice(self.POINTS)
        if point == "work horse" and horses:
            return point, self.rng.choice(horses), ()
        if point == "scheduler" and schedulers:
            return point, self.rng.choice(schedulers), ()
        pid = self.rng.choice(sorted(by_pid))
        return f"{by_pid[pid].kind} worker", pid, tuple(kids[pid])

    def strike(self) -> None:
        chosen = self.pick()
        if chosen is None:
            return
        point, pid, kids = chosen
        with suppress(ProcessLookupError):
            if point.endswith("worker"):
                self.supervisor.kill(pid)
            else:
                os.kill(pid, signal.SIGKILL)
            self.journal.add("kills", Kill(time.time(), point, pid, kids))


def sample_schedulers(client: redis.Redis, journal: Journal) -> None:
    try:
        pids = scheduler_pids(client)
        held = len(pids) == len(QUEUE_ORDER) and all(Path(f"/proc/{pid}").exists() for pid in pids.values())
        journal.add("scheduler_samples", (time.time(), held))
    except redis.RedisError:
        journal.add("scheduler_samples", (time.time(), None))


def redis_outage(server: PrivateRedis, plan: Plan, journal: Journal) -> None:
    began = time.time()
    server.stop()
    time.sleep(plan.outage)
    server.start()
    journal.outages["redis"] = (began, time.time())


def database_outage(database: PrivateDatabase, plan: Plan, journal: Journal) -> None:
    began = time.time()
    database.block()
    time.sleep(plan.outage)
    database.allow()
    journal.outages["database"] = (began, time.time())


class Cron:
    """``flask stask process`` every ``cron_every`` s; a run still going skips the tick (``flock -n``)."""

    def __init__(self, env: ChaosEnv, journal: Journal) -> None:
        self.env = env
        self.journal = journal
        self.process: subprocess.Popen[bytes] | None = None
        self._environ = env.worker_env("postgresql")

    def tick(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.journal.cron_skipped += 1
                return
            self.journal.cron[int(self.process.returncode)] += 1
        log = open(self.env.workdir / "process.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*FLASK, "process"], cwd=ROOT, env=self._environ, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def finish(self, grace: float = 30.0) -> None:
        """Let a run still going end by itself (up to ``grace`` s), as cron would."""
        if self.process is not None:
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
            stop_process(self.process)
            self.journal.cron[int(self.process.returncode)] += 1
            self.process = None


# -- the load -----------------------------------------------------------------------------------
class Feeder:
    """Creates the plan's tasks at an even pace over the first 80 % of the chaos.

    At most ``backlog`` rows stay open (a retry must not wait behind thousands of jobs); a
    batch that fails (the database or Redis is down) is tried again at the next tick.
    """

    BATCH = 100

    def __init__(self, env: ChaosEnv, plan: Plan, journal: Journal) -> None:
        self.app = env.app("postgresql")
        self.journal = journal
        self.plan = plan
        specs = [{"identifier": "chaos", "action": "noop"}] * plan.tasks
        specs += [{"identifier": "chaos", "action": "slow"}] * plan.slow_tasks
        random.Random(plan.seed).shuffle(specs)
        self.pending = specs
        self.total = len(specs)
        self.started = time.monotonic()

    def open_rows(self) -> int:
        from stask.models import Task

        db = self.app.extensions["stask"].db
        count = db.session.scalar(sa.select(sa.func.count()).where(Task.status.notin_(ENDED)))
        db.session.commit()
        return int(count or 0)

    def due(self) -> int:
        """Tasks the pace allows now, beyond those created already."""
        share = min(1.0, (time.monotonic() - self.started) / (0.8 * self.plan.duration))
        return int(self.total * share) - (self.total - len(self.pending))

    def feed(self) -> None:
        if not self.pending:
            return
        with self.app.app_context():
            db = self.app.extensions["stask"].db
            try:
                room = min(self.due(), self.plan.backlog - self.open_rows())
                while room > 0 and self.pending:
                    batch = self.pending[: min(self.BATCH, room)]
                    self.app.extensions["stask"].create_many(batch)
                    del self.pending[: len(batch)]
                    room -= len(batch)
            except Exception as exc:  # the database or Redis is down: try again at the next tick
                self.journal.feed_errors[type(exc).__name__] += 1
                with suppress(Exception):
                    db.session.rollback()
            finally:
                db.session.remove()


# -- the run --------------------------------------------------------------------------------------
def log(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def wait_for_workers(env: ChaosEnv, supervisor: Supervisor, count: int, timeout: float = 60) -> None:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while Worker.count(connection=env.redis) < count:
        supervisor.poll()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {Worker.count(connection=env.redis)} of {count} worker processes registered")
        time.sleep(0.1)


def chaos_phase(plan: Plan, env: ChaosEnv, servers: tuple[PrivateRedis, PrivateDatabase], parts: Parts) -> None:
    """Kills, feeding and cron for ``duration`` s, with the two outages at their times."""
    redis_server, database = servers
    killer = Killer(parts.supervisor, redis.Redis.from_url(redis_server.url), parts.journal, random.Random(plan.seed))
    began = time.monotonic()
    due = sorted((at, name) for name, at in plan.outages.items())
    with background("kill", lambda stop: every(plan.kill_every, stop, killer.strike)):
        while time.monotonic() - began < plan.duration:
            if due and time.monotonic() - began >= due[0][0]:
                _, name = due.pop(0)
                log(f"{name} outage: {plan.outage:.0f} s")
                if name == "redis":
                    redis_outage(redis_server, plan, parts.journal)
                else:
                    database_outage(database, plan, parts.journal)
                log(f"{name} back")
            time.sleep(0.2)


def drain(plan: Plan, parts: Parts, cap: float) -> int:
    """Wait until every row ended, or none ended for 3 bounds (after the last task was created)."""
    stall = max(3 * plan.bound, 20.0)
    last_change, last_open = time.monotonic(), -1
    deadline = time.monotonic() + cap
    while time.monotonic() < deadline:
        with suppress(sa.exc.SQLAlchemyError), parts.feeder.app.app_context():
            open_rows = parts.feeder.open_rows()
            if open_rows != last_open or parts.feeder.pending:
                last_change, last_open = time.monotonic(), open_rows
            if not open_rows and not parts.feeder.pending:
                return 0
        if time.monotonic() - last_change > stall:
            break
        time.sleep(0.5)
    return last_open


def settle(supervisor: Supervisor, timeout: float = 10.0) -> int:
    """Worker processes alive once the restarts already due have happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(s.restart_at is not None for s in supervisor.slots):
        time.sleep(0.2)
    return supervisor.alive()


@dataclass
class Parts:
    supervisor: Supervisor
    feeder: Feeder
    cron: Cron
    journal: Journal


def run(plan: Plan, keep: bool = False, postgres_server: str = POSTGRES_SERVER) -> dict[str, Any]:
    """Run the plan; returns the results (what the table and the JSON are made of).

    ``postgres_server`` names the server; the database in it is never used (one is created).
    """
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"stask-chaos-{os.getpid()}-{os.urandom(2).hex()}"
    redis_server = PrivateRedis(workdir / "redis")
    database: PrivateDatabase | None = None
    env: ChaosEnv | None = None
    try:
        database = PrivateDatabase(postgres_server)
        env = ChaosEnv(redis_server.url, database.url, workdir=workdir, keep=keep)
        env.plan = plan
        info = machine(redis_server, database)
        journal = Journal()
        supervisor = Supervisor(env, journal, plan)
        parts = Parts(supervisor, Feeder(env, plan, journal), Cron(env, journal), journal)
        log(f"{len(supervisor.slots)} worker processes, database {database.name}, folder {workdir}")
        supervisor.start()
        wait_for_workers(env, supervisor, len(supervisor.slots))
        sampler = redis.Redis.from_url(redis_server.url, socket_timeout=2, socket_connect_timeout=2)
        journal.started, parts.feeder.started = time.time(), time.monotonic()
        with (
            background("supervise", lambda stop: every(0.2, stop, supervisor.poll)),
            background("feed", lambda stop: every(0.5, stop, parts.feeder.feed)),
            background("cron", lambda stop: every(plan.cron_every, stop, parts.cron.tick)),
            background("sample", lambda stop: every(0.5, stop, lambda: sample_schedulers(sampler, journal))),
        ):
            chaos_phase(plan, env, (redis_server, database), parts)
            log(f"chaos over after {len(journal.kills)} kills; draining")
            left = drain(plan, parts, cap=max(120.0, plan.duration))
            alive = settle(supervisor)
        parts.cron.finish()
        supervisor.stop()
        log(f"{left} row(s) still open; {alive} worker process(es) alive")
        return analyse(plan, env, journal, alive, info)
    finally:
        if env is not None:
            with suppress(Exception):
                env.close()
        if database is not None:
            database.drop()
        redis_server.stop()


# -- the analysis --------------------------------------------------------------------------------
def read_executions(path: Path) -> list[Execution]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        task, attempt, pid, ppid, at = line.split()
        out.append(Execution(int(task), int(attempt), int(pid), int(ppid), float(at)))
    return out


def read_rows(env: ChaosEnv) -> dict[int, Row]:
    from stask.models import Task

    app = env.app("postgresql")
    with app.app_context():
        db = app.extensions["stask"].db
        result = db.session.execute(sa.select(Task.id, Task.status, Task.attempts, Task.finished_at)).all()
        db.session.remove()
    return {r.id: Row(r.status, r.attempts, epoch(r.finished_at)) for r in result}


def epoch(moment: datetime | None) -> float | None:
    """A naive UTC timestamp of a row as seconds since the epoch."""
    return None if moment is None else moment.replace(tzinfo=timezone.utc).timestamp()


def hits(kill: Kill, executions: list[Execution]) -> list[Execution]:
    """The executions a kill interrupted (or orphaned): the victim's latest, and its children's."""
    if kill.point == "scheduler":
        return []
    before = [e for e in executions if e.at <= kill.at and (e.pid == kill.pid or e.ppid == kill.pid)]
    latest = [max(before, key=lambda e: e.at)] if before else []
    orphans = [e for e in executions if e.pid in kill.children and e.at > kill.at]
    return latest + orphans


def interrupted(kill: Kill, hit: Execution, row: Row | None, runs: list[Execution]) -> bool:
    """False when the attempt ended normally before the kill (the victim was idle or recording another)."""
    if any(e.attempt > hit.attempt for e in runs) or row is None or row.status not in ENDED:
        return True
    if row.status == int(Status.FINISHED) and row.attempts == hit.attempt:
        return False
    return row.finished_at is None or row.finished_at >= kill.at


def recovery(kill: Kill, hit: Execution, row: Row | None, runs: list[Execution]) -> float | None:
    """Seconds from the kill to the next attempt's start, else to the row's end; None: never."""
    following = [e.at for e in runs if e.attempt > hit.attempt]
    if following:
        return min(following) - kill.at
    if row is None or row.status not in ENDED or row.finished_at is None:
        return None
    return row.finished_at - kill.at


def during_outage(at: float, window: float, outages: dict[str, tuple[float, float]]) -> bool:
    return any(start <= at + window and at <= end for start, end in outages.values())


def kill_points(plan: Plan, journal: Journal, executions: list[Execution], rows: dict[int, Row]) -> dict[str, Any]:
    by_task: dict[int, list[Execution]] = defaultdict(list)
    for e in executions:
        by_task[e.task].append(e)
    points: dict[str, dict[str, Any]] = {}
    for kill in journal.kills:
        item = points.setdefault(
            kill.point, {"kills": 0, "tasks_hit": 0, "worst_s": None, "worst_outage_s": None, "over_bound": []}
        )
        item["kills"] += 1
        if kill.point == "scheduler":
            seconds = scheduler_recovery(kill, journal)
            _note(item, kill, seconds, None, plan, journal)
            continue
        for hit in hits(kill, executions):
            row, runs = rows.get(hit.task), by_task[hit.task]
            if interrupted(kill, hit, row, runs):
                item["tasks_hit"] += 1
                _note(item, kill, recovery(kill, hit, row, runs), hit.task, plan, journal)
    return points


def scheduler_recovery(kill: Kill, journal: Journal) -> float | None:
    after = [at for at, held in journal.scheduler_samples if at > kill.at + 0.2 and held]
    return min(after) - kill.at if after else None


def _note(
    item: dict[str, Any], kill: Kill, seconds: float | None, task: int | None, plan: Plan, journal: Journal
) -> None:
    """Keep the worst recovery of a kill point, apart for kills whose recovery overlapped an outage."""
    outage = during_outage(kill.at, plan.bound, journal.outages)
    key = "worst_outage_s" if outage else "worst_s"
    value = float("inf") if seconds is None else seconds
    if item[key] is None or value > item[key]:
        item[key] = value
    if not outage and value > plan.bound:
        at = round(kill.at - journal.started, 1)
        item["over_bound"].append({"task": task, "pid": kill.pid, "at": at, "s": seconds})


def explained(journal: Journal, executions: list[Execution]) -> set[Execution]:
    return {hit for kill in journal.kills for hit in hits(kill, executions)}


def repeats(journal: Journal, executions: list[Execution]) -> tuple[list[tuple[int, int]], list[int]]:
    """Same-attempt duplicates, and tasks run again where no kill explains an earlier run."""
    seen = Counter((e.task, e.attempt) for e in executions)
    duplicates = sorted(key for key, n in seen.items() if n > 1)
    by_task: dict[int, list[Execution]] = defaultdict(list)
    for e in executions:
        by_task[e.task].append(e)
    covered = explained(journal, executions)
    unexplained = []
    for task, runs in by_task.items():
        runs.sort(key=lambda e: (e.attempt, e.at))
        if len(runs) > 1 and any(e not in covered for e in runs[:-1]):
            unexplained.append(task)
    return duplicates, sorted(unexplained)


def analyse(plan: Plan, env: ChaosEnv, journal: Journal, alive: int, info: dict[str, Any]) -> dict[str, Any]:
    executions = read_executions(env.execution_log)
    rows = read_rows(env)
    statuses = Counter(r.status for r in rows.values())
    duplicates, unexplained = repeats(journal, executions)
    exits = Counter(f"{e.kind} {'SIGKILL by us' if e.killed else e.code}" for e in journal.exits)
    return {
        "machine": info,
        "plan": {**asdict(plan), "bound": plan.bound},
        "created": len(rows),
        "finished": statuses[int(Status.FINISHED)],
        "failed": statuses[int(Status.FAILED)],
        "cancelled": statuses[int(Status.CANCELLED)],
        "lost": sorted(i for i, r in rows.items() if r.status not in ENDED),
        "executions": len(executions),
        "same_attempt_duplicates": [list(d) for d in duplicates],
        "repeats_without_crash": unexplained,
        "kill_points": kill_points(plan, journal, executions, rows),
        "kills": len(journal.kills),
        "outages": {k: [round(a - journal.started, 1), round(b - a, 1)] for k, (a, b) in journal.outages.items()},
        "workers": len(plan_slots(plan)),
        "alive": alive,
        "exits": dict(sorted(exits.items())),
        "clean_exits": sum(1 for e in journal.exits if e.code == 0),
        "cron_exits": {str(k): v for k, v in sorted(journal.cron.items())},
        "cron_skipped": journal.cron_skipped,
        "feed_errors": dict(journal.feed_errors),
        "seconds": round(time.time() - journal.started, 1),
        "log": {
            "kills": [[round(k.at - journal.started, 2), k.point, k.pid] for k in journal.kills],
            "exits": [[round(e.at - journal.started, 2), e.kind, e.pid, e.code] for e in journal.exits],
            "repeats": {task: runs_of(task, executions, journal.started) for task in unexplained[:50]},
        },
    }


def runs_of(task: int, executions: list[Execution], started: float) -> list[list[float]]:
    """[attempt, pid, ppid, seconds into the run] of each execution of one task."""
    return [[e.attempt, e.pid, e.ppid, round(e.at - started, 2)] for e in executions if e.task == task]


def plan_slots(plan: Plan) -> list[str]:
    return ["fork"] * plan.fork_workers + ["simple"] * plan.simple_workers


# -- the table --------------------------------------------------------------------------------
def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return "never" if value == float("inf") else f"{value:.1f} s"


def _ids(items: list[Any], limit: int = 8) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return f"{len(items)}" + (f" ({shown}{', …' if len(items) > limit else ''})" if items else "")


def verdicts(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, value, PASS/FAIL) for each of the five targets."""
    points = results["kill_points"].values()
    over = [o for p in points for o in p["over_bound"]]
    bound = results["plan"]["bound"]
    return [
        ("0 lost", _ids(results["lost"]), "PASS" if not results["lost"] else "FAIL"),
        (
            "0 same-attempt duplicates",
            _ids(results["same_attempt_duplicates"]),
            "PASS" if not results["same_attempt_duplicates"] else "FAIL",
        ),
        (
            "0 repeats without a crash",
            _ids(results["repeats_without_crash"]),
            "PASS" if not results["repeats_without_crash"] else "FAIL",
        ),
        (
            f"every recovery <= {bound:g} s (outside outages)",
            f"{len(over)} over" + (f" (tasks {', '.join(str(o['task']) for o in over[:6])})" if over else ""),
            "PASS" if not over else "FAIL",
        ),
        (
            "every worker process alive at the end",
            f"{results['alive']}/{results['workers']}",
            "PASS" if results["alive"] == results["workers"] else "FAIL",
        ),
    ]


def table(results: dict[str, Any]) -> str:
    plan, m = results["plan"], results["machine"]
    lines = [
        f"stask chaos — {m['date']} · {m['nproc']} CPUs, {m['memory']} · PostgreSQL {m['postgresql']} · "
        f"Redis {m['redis']} · commit {m['commit']}",
        f"{plan['tasks']:,} no-op + {plan['slow_tasks']:,} 50 ms tasks · {plan['fork_workers']} fork + "
        f"{plan['simple_workers']} simple worker processes · SIGKILL every {plan['kill_every']:g} s · "
        f"{plan['duration']:g} s of chaos · seed {plan['seed']}",
        f"STASK_HEARTBEAT_TTL {plan['heartbeat_ttl']} s + STASK_RECONCILE_INTERVAL {plan['reconcile_interval']} s "
        f"+ STASK_BACKOFF_CAP {plan['backoff_cap']:g} s = bound {plan['bound']:g} s · "
        f"STASK_MAX_ATTEMPTS {plan['max_attempts']}",
        "outages: "
        + ", ".join(f"{k} at +{v[0]:g} s for {v[1]:g} s" for k, v in results["outages"].items())
        + f" · {results['seconds']:g} s in all",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| created | {results['created']:,} |",
        f"| finished | {results['finished']:,} |",
        f"| failed | {results['failed']:,} |",
        f"| lost | {_ids(results['lost'])} |",
        f"| executions logged | {results['executions']:,} |",
        f"| same-attempt duplicates | {_ids(results['same_attempt_duplicates'])} |",
        f"| repeats without a crash | {_ids(results['repeats_without_crash'])} |",
    ]
    for point, item in sorted(results["kill_points"].items()):
        lines.append(
            f"| worst recovery: {point} | {_seconds(item['worst_s'])} ({item['kills']} kills, "
            f"{item['tasks_hit']} tasks hit; near an outage: {_seconds(item['worst_outage_s'])}) |"
        )
    lines += [
        f"| worker processes alive at the end | {results['alive']}/{results['workers']} |",
        f"| worker-process exits by code | {_exits(results['exits'])} |",
        f"| `flask stask process` exits by code | {_exits(results['cron_exits'])} "
        f"({results['cron_skipped']} ticks skipped: still running) |",
        "",
        "| target | value | verdict |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {value} | {verdict} |" for name, value, verdict in verdicts(results)]
    return "\n".join(lines)


def _exits(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none"


# -- the machine ----------------------------------------------------------------------------------
def machine(server: PrivateRedis, database: PrivateDatabase) -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "memory": memory_total(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": database.version(),
        "redis": server.version(),
        "commit": commit.stdout.strip() or "unknown",
    }


# -- the command -------------------------------------------------------------------------------------
def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=None, help="no-op tasks (default 10,000)")
    parser.add_argument("--slow-tasks", type=int, default=None, help="50 ms tasks (default 2,000)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of chaos (default 200)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kills and the task order")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (about 30 s)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs, executions.log)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("STASK_CHAOS_POSTGRES_URL", POSTGRES_SERVER),
        help="PostgreSQL server (a database of the harness's own is created on it and dropped)",
    )
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    plan = SMOKE if args.smoke else Plan()
    changes = {
        name: value
        for name, value in (
            ("tasks", args.tasks),
            ("slow_tasks", args.slow_tasks),
            ("duration", args.duration),
            ("seed", args.seed),
        )
        if value is not None
    }
    return Plan(**{**asdict(plan), **changes})


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    results = run(plan_from(args), keep=args.keep, postgres_server=args.postgres_url)
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    failed = [name for name, _, verdict in verdicts(results) if verdict == "FAIL"]
    print(f"\n{5 - len(failed)} PASS, {len(failed)} FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
