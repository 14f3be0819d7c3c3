"""The newcomer's path: ``make run`` (``python -m stask.embedded``) as the README tells it.

It runs exactly as ``make run`` does (its own Redis, a SQLite file, gunicorn and a worker), in a
temp instance folder on a free port. What it prints must work as printed: the login link signs a
browser in, and the README's ``curl`` example, with the printed ``STASK_API_TOKEN``, creates a
task that the worker runs to the end (built-in workers are active under ``make run``). Nothing in
that path may import a test tool: ``make run`` installs only ``.[embedded,server]``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stask.embedded import DEFAULT_HOST, DEFAULT_PORT, api_token, free_port
from tests.support.environment import ROOT
from tests.support.plain_http import readme_curl, request, web_answers
from tests.support.process_tree import stop_launcher
from tests.support.waiting import wait_for

FINISHED = 80
#: Test and development tools (the ``dev`` extra): none may be imported by the processes of
#: ``make run``, which installs only the ``embedded`` and ``server`` extras. Nor the drivers of the
#: other databases, which ``make run`` (SQLite) does not install either.
NOT_INSTALLED_BY_MAKE_RUN = (
    "pytest",
    "_pytest",
    "playwright",
    "pytest_playwright",
    "schemathesis",
    "hypothesis",
    "aiosmtpd",
    "pyinstrument",
    "mypy",
    "prometheus_client",
    "psycopg",
    "pymysql",
)
#: Put first on ``PYTHONPATH``: every process of the run refuses those imports and notes them.
BLOCKER = """
import os, sys

class _Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {names!r}:
            with open(os.environ["STASK_TEST_REFUSED"], "a") as log:
                log.write(name + "\\n")
            raise ImportError(name + " is not installed by make run")
        return None

sys.meta_path.insert(0, _Refuse())
"""


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    output: Path
    port: int
    refused: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Run]:
    """``python -m stask.embedded`` with nothing of the suite's environment; stopped with SIGTERM,
    as Ctrl-C would, and only what it started is killed if it does not stop."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER.format(names=set(NOT_INSTALLED_BY_MAKE_RUN)))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STASK_", "FLASK_", "PYTHON")) and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
    }
    port = free_port()
    refused = tmp_path / "refused.txt"
    env.update(
        PORT=str(port),
        STASK_INSTANCE_PATH=str(tmp_path / "instance"),
        PYTHONPATH=f"{blocker}{os.pathsep}{ROOT}",  # this tree's stask (a mutant's, under tools/mutants.py)
        STASK_TEST_REFUSED=str(refused),
    )
    output = tmp_path / "make-run.out"
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "stask.embedded"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    run = Run(process, output, port, refused)
    try:
        yield run
    finally:
        stop_launcher(process)


def test_what_make_run_prints_works_as_printed(make_run: Run) -> None:
    printed = wait_for(
        lambda: re.search(r"export STASK_API_TOKEN=(\S+)\n", make_run.text()) and make_run.text(),
        timeout=90,
        interval=0.2,
        what="make run to print its API token",
    )
    assert make_run.process.poll() is None, printed
    token = re.search(r"export STASK_API_TOKEN=(\S+)\n", printed).group(1)
    login = re.search(rf"http://127\.0\.0\.1:{make_run.port}(/stask/login\?token=\S+)\n", printed)
    assert login, printed
    wait_for(lambda: web_answers(make_run.port), timeout=60, interval=0.2, what="the web app to answer")

    # The README's curl example, exactly as written, but for the port of this run.
    method, url, headers, body = readme_curl()
    assert url.startswith(f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/stask/"), url  # where make run listens
    assert headers["Authorization"] == "Bearer $STASK_API_TOKEN", headers  # the variable printed
    headers["Authorization"] = f"Bearer {token}"
    path = url.split(f":{DEFAULT_PORT}", 1)[1]
    created = request(make_run.port, method, path, body=body, headers=headers)
    assert created.status == 201, created.text
    task_id = json.loads(created.text)["id"]

    def status() -> int | None:
        bearer = {"Authorization": f"Bearer {token}"}
        answer = request(make_run.port, "GET", f"/stask/api/tasks/{task_id}", headers=bearer)
        assert answer.status == 200, answer.text
        task = json.loads(answer.text)["task"]
        return int(task["status"]) if task["status"] in (FINISHED, 90, 100) else None

    assert wait_for(status, timeout=60, interval=0.3, what="the worker of make run to run the task") == FINISHED
    denied = request(make_run.port, "GET", "/stask/api/tasks", headers={"Authorization": "Bearer not-the-token"})
    assert denied.status == 401

    # The login link signs a browser in (once).
    signed_in = request(make_run.port, "GET", login.group(1))
    assert signed_in.status in (302, 303), signed_in.text
    cookie = signed_in.headers["set-cookie"].split(";", 1)[0]
    dashboard = request(make_run.port, "GET", "/stask/", headers={"Cookie": cookie})
    assert dashboard.status == 200, dashboard.text
    assert "/stask/logout" in dashboard.text  # a signed-in page, not the login form
    assert request(make_run.port, "GET", login.group(1)).status == 403  # one-time

    assert not make_run.refused.exists(), f"make run imported: {make_run.refused.read_text()}"
    assert stop_launcher(make_run.process) == []  # as Ctrl-C: it stopped everything it started


def test_a_token_the_user_set_is_used_and_never_printed() -> None:
    mine = {"STASK_API_TOKEN": "my-own-secret-token-0123456789"}
    line = api_token(mine)
    assert mine["STASK_API_TOKEN"] == "my-own-secret-token-0123456789"
    assert "my-own-secret" not in line and "yours" in line
    generated: dict[str, str] = {}
    line = api_token(generated)
    assert len(generated["STASK_API_TOKEN"]) >= 32
    assert f"export STASK_API_TOKEN={generated['STASK_API_TOKEN']}\n" in line
