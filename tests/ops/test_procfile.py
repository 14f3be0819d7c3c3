"""A Heroku-style deploy: the Procfile's lines as written, run by honcho, on PostgreSQL.

As the README tells it: ``honcho start release`` (migrations and worker discovery; it exits, and
honcho with it), then ``honcho start web worker`` with ``$PORT`` set by honcho, a Heroku-style
``postgres://`` ``DATABASE_URL`` of a fresh database of the test's own (dropped after) and
``STASK_AUTO_ACTIVATE=true``, so the README's ``curl`` example is answered 201 and the worker runs
the task. ``requirements.txt`` (what the Python buildpack installs) brings the server and the
PostgreSQL driver.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from stask.embedded import DEFAULT_PORT, free_port
from tests.support.environment import ROOT, SERVER_URLS, require
from tests.support.plain_http import readme_curl, request, web_answers
from tests.support.process_tree import stop_launcher
from tests.support.servers import Databases, RedisServer
from tests.support.waiting import wait_for

FINISHED = 80
HONCHO = [sys.executable, "-m", "honcho"]


def procfile() -> dict[str, str]:
    """The Procfile's process types and their command lines."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name.strip(): command.strip() for name, command in (line.split(":", 1) for line in lines if line.strip())}


@pytest.fixture
def heroku_database(tmp_path: Path) -> Iterator[str]:
    """A new, empty PostgreSQL database, as a Heroku-style ``postgres://`` URL; dropped after the test."""
    databases = Databases(SERVER_URLS, tmp_path / "unused.db")
    require("postgresql", lambda: databases.create("postgresql"))
    try:
        url = databases.create("postgresql")
        yield "postgres://" + url.split("://", 1)[1]
    finally:
        databases.drop()


def honcho(*args: str, env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    with open(out, "ab") as output:
        return subprocess.Popen(
            [*HONCHO, "start", "--no-colour", "-f", str(ROOT / "Procfile"), "-d", str(ROOT), *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_the_procfile_deploys_on_postgresql(heroku_database: str, stoppable_redis: RedisServer, tmp_path: Path) -> None:
    assert set(procfile()) == {"web", "worker", "release"}
    assert "$PORT" in procfile()["web"]
    token = secrets.token_urlsafe(32)
    (tmp_path / "empty.env").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STASK_", "FLASK_", "PYTHONPATH"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # gunicorn, flask
        PYTHONPATH=str(ROOT),  # this tree's stask (a mutant's, under tools/mutants.py)
        DATABASE_URL=heroku_database,
        REDIS_URL=stoppable_redis.url,
        SECRET_KEY=secrets.token_hex(16),
        STASK_API_TOKEN=token,
        STASK_AUTO_ACTIVATE="true",
        STASK_STORAGE=str(tmp_path / "storage"),
        STASK_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    out = tmp_path / "honcho.out"

    release = honcho("-e", str(tmp_path / "empty.env"), "release", env=env, out=out)
    try:
        assert release.wait(timeout=120) == 0, out.read_text()
    finally:
        stop_launcher(release)

    port = free_port()
    processes = honcho("-e", str(tmp_path / "empty.env"), "-p", str(port), "web", "worker", env=env, out=out)
    try:
        wait_for(lambda: web_answers(port), timeout=60, interval=0.2, what=f"the web process: {out.read_text()}")
        health = request(port, "GET", "/stask/health")
        assert health.status == 200, health.text
        assert json.loads(health.text)["checks"]["database"]["ok"] is True
        assert request(port, "GET", "/stask/login").status == 200

        method, url, headers, body = readme_curl()
        headers["Authorization"] = f"Bearer {token}"
        created = request(port, method, url.split(f":{DEFAULT_PORT}", 1)[1], body=body, headers=headers)
        assert created.status == 201, created.text  # not 409 inactive_worker: STASK_AUTO_ACTIVATE
        task_id = json.loads(created.text)["id"]

        def status() -> int | None:
            answer = request(port, "GET", f"/stask/api/tasks/{task_id}", headers={"Authorization": f"Bearer {token}"})
            task = json.loads(answer.text)["task"]
            return int(task["status"]) if task["status"] in (FINISHED, 90, 100) else None

        assert wait_for(status, timeout=60, interval=0.3, what="the Procfile's worker to run the task") == FINISHED
    finally:
        leftovers = stop_launcher(processes)
    assert leftovers == [], out.read_text()  # honcho stopped web and worker itself


def test_requirements_txt_installs_the_server_and_the_postgresql_driver() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1 and lines[0].startswith(".["), lines  # this folder, with extras
    extras = set(Requirement("stask" + lines[0][1:]).extras)
    declared = [Requirement(r) for r in requires("stask") or []]  # pyproject.toml's, as installed
    brought = {
        str(r).split(";")[0].split(">")[0]
        for r in declared
        if r.marker is not None and any(r.marker.evaluate({"extra": extra}) for extra in extras)
    }
    assert {"gunicorn", "psycopg[binary]"} <= brought, brought
