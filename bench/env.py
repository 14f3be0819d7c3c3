"""The benchmark's private world: its own Redis DB, SQLite file, PostgreSQL database, apps.

Everything here is destructive on purpose (the Redis DB is flushed, the PostgreSQL schema
dropped), so the targets come from ``STASK_BENCH_*`` variables and never from the
application's own ``REDIS_URL`` / ``DATABASE_URL``.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import redis
import sqlalchemy as sa
from flask import Flask

from bench import BENCH_WORKERS

ROOT = Path(__file__).resolve().parents[1]
#: The source tree the worker commands run from: another checkout to measure a before/after.
WORKER_ROOT = Path(os.environ.get("STASK_BENCH_WORKER_ROOT") or ROOT)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/stask_bench"
DEFAULT_MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/stask_bench"
#: The order databases are measured in: PostgreSQL (production's) first when it is reachable.
BACKEND_ORDER = ("postgresql", "sqlite", "mariadb")
_CACHE_COUNTERS = ("l1_hits", "l2_hits", "misses", "evictions")


class Unavailable(Exception):
    """A server a section needs is not reachable: the section reports n/a instead of failing."""


@dataclass
class BenchEnv:
    redis_url: str
    postgres_url: str | None
    mariadb_url: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="stask-bench-")))
    keep: bool = False
    _apps: dict[str, Flask] = field(default_factory=dict)
    #: CPU seconds of the last :meth:`run_commands` (its processes, user + system).
    last_cpu: float = 0.0
    #: Worker-cache counters saved before each flush of the Redis DB (section 7 adds them up).
    cache_totals: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.redis = redis.Redis.from_url(self.redis_url)
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            raise SystemExit(
                f"stask bench: Redis at {self.redis_url} is not reachable ({exc}); set STASK_BENCH_REDIS_URL"
            ) from None
        self._instance_env = os.environ.get("STASK_INSTANCE_PATH")
        os.environ["STASK_INSTANCE_PATH"] = str(self.workdir / "instance")
        self.sqlite_url = f"sqlite:///{self.workdir / 'bench.db'}"
        self.redis_db = int(self.redis.connection_pool.connection_kwargs.get("db", 0))
        self.flush_redis(save_cache_stats=False)

    # -- apps -------------------------------------------------------------------------
    def database_url(self, backend: str) -> str:
        if backend == "sqlite":
            return self.sqlite_url
        if backend == "postgresql" and self.postgres_url:
            return self.postgres_url
        if backend == "mariadb" and self.mariadb_url:
            return self.mariadb_url
        raise Unavailable(f"{backend}: no URL")

    def config(self, backend: str) -> dict[str, Any]:
        return {
            "SQLALCHEMY_DATABASE_URI": self.database_url(backend),
            "REDIS_URL": self.redis_url,
            "STASK_STORAGE": str(self.workdir / f"storage-{backend}"),
            "STASK_WORKERS": BENCH_WORKERS,
            "STASK_AUTO_ACTIVATE": True,
            "SECRET_KEY": "stask-bench",
            "STASK_API_TOKEN": "stask-bench-token",
        }

    def app(self, backend: str) -> Flask:
        """The app on ``backend`` with a freshly migrated schema (built once per run)."""
        if backend not in self._apps:
            if backend == "postgresql":
                ensure_postgres_database(self.database_url(backend))
            elif backend == "mariadb":
                recreate_mariadb_database(self.database_url(backend))
            from stask import create_app

            app = create_app(self.config(backend))
            with app.app_context():
                reset_schema(app, backend)
                app.extensions["stask"].discover_workers()
            self._apps[backend] = app
        return self._apps[backend]

    def available(self, backend: str) -> str | None:
        """``None`` when ``backend`` can be used, else why not."""
        try:
            self.app(backend)
        except Unavailable as exc:
            return str(exc)
        except sa.exc.OperationalError as exc:
            return f"{backend} unreachable: {str(exc.orig).strip().splitlines()[0]}"
        return None

    # -- keeping sections apart --------------------------------------------------------
    def flush_redis(self, save_cache_stats: bool = True) -> None:
        """Empty the bench's Redis DB, keeping the worker-cache counters for section 7."""
        if save_cache_stats:
            for app in self._apps.values():
                app.extensions["stask.runtime"].workers.flush()
            raw = self.redis.hgetall("stask:cache-stats")
            for name in _CACHE_COUNTERS:
                self.cache_totals[name] += int(raw.get(name.encode(), 0))
        self.redis.flushdb()
        for app in self._apps.values():
            app.extensions["stask.runtime"].workers._l1.clear()

    def clear_tasks(self, app: Flask) -> None:
        from stask.models import Task

        db = app.extensions["stask"].db
        with app.app_context():
            db.session.remove()
            with db.engine.begin() as connection:
                connection.execute(sa.delete(Task))

    def close(self) -> None:
        for app in self._apps.values():
            with app.app_context():
                db = app.extensions["stask"].db
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()
        self.flush_redis(save_cache_stats=False)
        if self._instance_env is None:
            os.environ.pop("STASK_INSTANCE_PATH", None)
        else:
            os.environ["STASK_INSTANCE_PATH"] = self._instance_env
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- worker subprocesses ----------------------------------------------------------
    def worker_env(self, backend: str) -> dict[str, str]:
        config = self.config(backend)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
        env.update(
            DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
            REDIS_URL=self.redis_url,
            STASK_STORAGE=config["STASK_STORAGE"],
            STASK_WORKERS=BENCH_WORKERS,
            STASK_AUTO_ACTIVATE="1",
            STASK_INSTANCE_PATH=str(self.workdir / "instance"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(WORKER_ROOT), os.environ.get("PYTHONPATH")])),
        )
        return env

    def other_redis_url(self) -> str:
        """The same Redis server and DB by another name (127.0.0.1 <-> localhost): a second client set-up."""
        parsed = urlparse(self.redis_url)
        host = parsed.hostname or "127.0.0.1"
        other = "localhost" if host != "localhost" else "127.0.0.1"
        netloc = parsed.netloc.replace(host, other, 1)
        return parsed._replace(netloc=netloc).geturl()

    def stask_command(self, kind: str) -> list[str]:
        """``flask --app wsgi stask worker --burst -w <kind>``: the command users run."""
        target = "wsgi" if (WORKER_ROOT / "wsgi.py").exists() else "stask.app:create_app"
        return [sys.executable, "-m", "flask", "--app", target, "stask", "worker", "--burst", "-w", kind]

    def bare_command(self, kind: str, redis_url: str | None = None) -> list[str]:
        """Bare ``rq worker --burst`` with RQ's own worker class, on the bench's three bare queues."""
        from bench.engine import BARE_QUEUES

        cls = {"simple": "rq.worker.SimpleWorker", "fork": "rq.worker.Worker"}[kind]
        rq = str(Path(sys.executable).parent / "rq")
        return [rq, "worker", "--burst", "-w", cls, "--url", redis_url or self.redis_url, *BARE_QUEUES]

    def start_command(
        self, argv: list[str], backend: str, name: str, redis_url: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` (a worker command) with the bench's environment; output to a log file."""
        env = self.worker_env(backend)
        if redis_url:
            env["REDIS_URL"] = redis_url
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        try:
            return subprocess.Popen(argv, cwd=WORKER_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()

    def run_commands(self, commands: list[tuple[list[str], str | None]], backend: str, name: str) -> float:
        """Wall seconds for ``commands`` (argv, Redis URL) started together, until the last exits.

        The CPU seconds they used (user + system, from ``wait4``) are left in :attr:`last_cpu`:
        a figure the machine's other load disturbs far less than the wall time.
        """
        started = time.perf_counter()
        processes = [self.start_command(argv, backend, name, url) for argv, url in commands]
        failed, cpu = [], 0.0
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            failed.append(process.returncode)
            cpu += usage.ru_utime + usage.ru_stime
        seconds = time.perf_counter() - started
        self.last_cpu = cpu
        if any(failed):
            tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name}: exit status {failed}:\n{tail}")
        return seconds

    def spawn_worker(self, backend: str, kind: str = "simple") -> subprocess.Popen[bytes]:
        """``flask stask worker -w <kind>`` as users run it; its log goes to a file (a pipe would fill)."""
        target = "wsgi" if (WORKER_ROOT / "wsgi.py").exists() else "stask.app:create_app"
        log = open(self.workdir / f"worker-{backend}-{kind}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", target, "stask", "worker", "-w", kind],
            cwd=WORKER_ROOT,
            env=self.worker_env(backend),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        from rq import Worker

        deadline = time.monotonic() + 30
        while not Worker.count(connection=self.redis):
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                tail = (self.workdir / f"worker-{backend}-{kind}.log").read_text()[-2000:]
                raise RuntimeError(f"worker subprocess did not start:\n{tail}")
            time.sleep(0.05)
        return process


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM lets RQ deregister), then a kill if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def ensure_postgres_database(url: str) -> None:
    """Create the bench database when missing (the server must be reachable)."""
    name = sa.engine.make_url(url).database
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return
    except sa.exc.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise Unavailable(f"postgresql unreachable: {str(exc.orig).strip().splitlines()[0]}") from None
    admin = sa.create_engine(
        sa.engine.make_url(url).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def recreate_mariadb_database(url: str) -> None:
    """Drop and create the bench's MariaDB database (it belongs to the bench)."""
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(
        sa.engine.make_url(url).set(database="mysql"), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except sa.exc.OperationalError as exc:
        raise Unavailable(f"mariadb unreachable: {str(exc.orig).strip().splitlines()[0]}") from None
    finally:
        admin.dispose()


def reset_schema(app: Flask, backend: str) -> None:
    """An empty schema at the newest migration: the bench database belongs to the bench."""
    from flask_migrate import upgrade

    db = app.extensions["stask"].db
    if backend == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    elif backend == "mariadb":
        name = db.engine.url.database
        with db.engine.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE `{name}`"))
            connection.execute(sa.text(f"CREATE DATABASE `{name}`"))
        db.engine.dispose()
    upgrade()
    # Alembic's logging setup disables existing loggers; stask's errors must stay visible.
    logging.getLogger("stask").disabled = False
    db.session.remove()


# -- counting ---------------------------------------------------------------------------
class SqlCounter:
    """Every statement sent through the engine (``before_cursor_execute``), with its time."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.seconds = 0.0
        self._started = 0.0

    def before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)
        self._started = time.perf_counter()

    def after(self, *args: Any) -> None:
        self.seconds += time.perf_counter() - self._started

    @property
    def count(self) -> int:
        return len(self.statements)

    def kinds(self) -> dict[str, int]:
        return dict(Counter(s.lstrip().split(None, 1)[0].upper() for s in self.statements))


@contextmanager
def count_sql(engine: sa.Engine) -> Iterator[SqlCounter]:
    counter = SqlCounter()
    sa.event.listen(engine, "before_cursor_execute", counter.before)
    sa.event.listen(engine, "after_cursor_execute", counter.after)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", counter.before)
        sa.event.remove(engine, "after_cursor_execute", counter.after)


class RedisMonitor:
    """Counts the commands Redis executes on one DB, from any process, with ``MONITOR``.

    Counted by the server, not estimated; commands run inside Lua scripts are kept apart
    (they cost no round trip). ``INFO commandstats`` would also count other DBs' clients.
    """

    END = "stask-bench-monitor-end"

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.db = int((parsed.path or "/0").lstrip("/") or 0)
        self.address = (parsed.hostname or "127.0.0.1", parsed.port or 6379)
        self.url = url
        self.commands: Counter[str] = Counter()
        self.scripted: Counter[str] = Counter()
        self._marks: list[tuple[str, int, int]] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RedisMonitor:
        self._sock = socket.create_connection(self.address, timeout=30)
        self._sock.sendall(b"MONITOR\r\n")
        self._reader = self._sock.makefile("rb")
        if not self._reader.readline().startswith(b"+OK"):
            raise RuntimeError("Redis refused MONITOR")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        prefix = f"[{self.db} ".encode()
        for line in self._reader:
            start = line.find(b"[")
            if line[start : start + len(prefix)] != prefix:
                continue
            header_end = line.find(b"]", start)
            quoted = line[header_end + 2 :].split(b'"', 2)
            name = quoted[1].decode().upper() if len(quoted) > 1 else "?"
            if name == "ECHO" and self.END.encode() in line:
                return
            (self.scripted if b" lua]" in line[start : header_end + 1] else self.commands)[name] += 1

    def total(self) -> int:
        return sum(self.commands.values())

    def __exit__(self, *exc: Any) -> None:
        redis.Redis.from_url(self.url).echo(self.END)
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._sock is not None:
            self._reader.close()
            self._sock.close()


def measure(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


# -- the machine --------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total() -> str | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return None


def machine(env: BenchEnv) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory": memory_total(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis": env.redis.info("server").get("redis_version"),
        "sqlite": sqlite3.sqlite_version,
        "rq": version("rq"),
        "redis-py": version("redis"),
        "sqlalchemy": version("sqlalchemy"),
        "flask": version("flask"),
    }
    if env.postgres_url:
        try:
            engine = sa.create_engine(env.postgres_url, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                info["postgresql"] = connection.execute(sa.text("SHOW server_version")).scalar()
            engine.dispose()
        except sa.exc.OperationalError:
            info["postgresql"] = None
    return info


def vm_rss_kb(pid: int) -> int:
    """Resident memory of a process now (``VmRSS`` in ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")
