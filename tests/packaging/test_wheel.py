"""The wheel on its own: build it, install it in a fresh venv, and drive stask from an empty folder.

Nothing from the source tree is importable there (no ``migrations/`` link, no ``wsgi.py``, no
``PYTHONPATH``): ``flask --app stask db upgrade`` must find the Alembic scripts inside the
installed package, and the built-in ``csv_export`` worker must run a task to the end through a
private Redis and a SQLite file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from stask.embedded import start_redis

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
#: What a checkout holds besides source, at its top level: never copied into the build folder.
NOT_SOURCE_TOP = {".git", ".venv", "build", "dist", "instance", "node_modules", "test-artifacts"}
#: Caches, at any depth.
NOT_SOURCE_ANYWHERE = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
FINISHED = 80
VENV_BIN = "Scripts" if os.name == "nt" else "bin"


def run(
    args: list[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it exits non-zero."""
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def build_wheel(out: Path, work: Path) -> Path:
    """``pip wheel`` from a copy of the tree, so a stale ``build/`` in the checkout cannot leak in."""

    def not_source(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in NOT_SOURCE_ANYWHERE or n.endswith(".egg-info")}
        if Path(folder) == ROOT:
            skipped |= NOT_SOURCE_TOP & set(names)
        if Path(folder) == ROOT / "bench":
            skipped |= {"results"} & set(names)
        return skipped

    source = work / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=not_source)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, source])
    wheels = list(out.glob("stask-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contents_and_fresh_install(tmp_path: Path) -> None:
    started = time.monotonic()
    wheel = build_wheel(tmp_path / "dist", tmp_path)

    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "stask/migrations/alembic.ini",
        "stask/migrations/env.py",
        "stask/migrations/script.py.mako",
        "stask/migrations/versions/0001_initial.py",
        "stask/workers/builtin/csv_export.py",
        "stask/templates/stask/base.html",
    ):
        assert required in names, f"{required} is missing from {wheel.name}"
    assert any(n.startswith("stask/translations/") and n.endswith(".mo") for n in names), "no compiled catalogs"
    strays = sorted(n for n in names if not n.startswith(("stask/", "stask-")))
    assert not strays, f"files outside the package in the wheel: {strays}"

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    python, flask = venv / VENV_BIN / "python", venv / VENV_BIN / "flask"
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel])

    empty = tmp_path / "empty"
    empty.mkdir()
    redis_process, redis_url = start_redis(tmp_path / "redis")
    try:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("STASK_", "FLASK_", "PYTHON", "VIRTUAL_ENV"))
            and key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
        }
        env.update(
            PATH=f"{venv / VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            VIRTUAL_ENV=str(venv),
            DATABASE_URL=f"sqlite:///{tmp_path / 'stask.db'}",
            REDIS_URL=redis_url,
            STASK_STORAGE=str(tmp_path / "storage"),
        )

        def cli(*args: str) -> str:
            return run([flask, "--app", "stask", *args], cwd=empty, env=env).stdout

        where = run([python, "-c", "import stask; print(stask.__file__)"], cwd=empty, env=env).stdout.strip()
        assert Path(where).is_relative_to(venv), f"stask was imported from {where}, not from the venv"

        cli("db", "upgrade")
        cli("stask", "discover")
        listed = cli("stask", "workers")
        assert "csv_export" in listed and "maintenance" in listed, listed
        cli("stask", "activate", "csv_export")
        task_id = int(cli("stask", "create", "csv_export", "export", "--data", '{"source": "tasks"}').strip())
        cli("stask", "worker", "--burst")
        status = json.loads(cli("stask", "status", str(task_id), "--json"))
    finally:
        redis_process.terminate()
        try:
            redis_process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            redis_process.kill()
            redis_process.wait()

    assert status["status"] == FINISHED, status
    assert status["progress"] == 100, status
    assert (tmp_path / "storage").is_dir()
    elapsed = time.monotonic() - started
    assert elapsed < 120, f"the wheel check took {elapsed:.0f} s"
