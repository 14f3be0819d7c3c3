"""The extension contract (Flask-SQLAlchemy's): init once per app, fork hooks once per process,
a host's configuration and templates left alone. No server is needed: nothing here connects."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string

from stask import STask, forking
from stask.service import current_stask


def host_app(tmp_path: Path, **config: Any) -> Flask:
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.db'}",
        REDIS_URL="redis://127.0.0.1:1/0",  # never contacted: construction connects to nothing
        STASK_STORAGE=str(tmp_path / "storage"),
        **config,
    )
    return app


@pytest.fixture
def fresh_fork_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Record ``os.register_at_fork`` calls as if this process had never installed stask's hook."""
    calls: list[Any] = []
    monkeypatch.setattr(forking, "_installed", False)
    monkeypatch.setattr(os, "register_at_fork", lambda **kwargs: calls.append(kwargs))
    yield calls


def test_a_second_init_app_is_refused_before_anything_changes(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    STask(app)
    extensions, config = dict(app.extensions), dict(app.config)
    blueprints, commands = dict(app.blueprints), dict(app.cli.commands)
    with pytest.raises(RuntimeError, match="already set up on this app"):
        STask(app)
    with pytest.raises(RuntimeError, match="already set up on this app"):
        STask().init_app(app)
    assert (dict(app.extensions), dict(app.config)) == (extensions, config)
    assert (dict(app.blueprints), dict(app.cli.commands)) == (blueprints, commands)


def test_fork_hooks_are_registered_once_per_process(tmp_path: Path, fresh_fork_hooks: list[Any]) -> None:
    for index in range(3):
        STask(host_app(tmp_path / str(index)))
    assert len(fresh_fork_hooks) == 1


def test_a_discarded_app_takes_its_fork_hooks_with_it(tmp_path: Path, fresh_fork_hooks: list[Any]) -> None:
    gc.collect()
    before = len(forking._objects)
    app = host_app(tmp_path)
    STask(app)
    assert len(forking._objects) == before + 2  # the app's engine disposer and its worker cache
    del app
    gc.collect()
    assert len(forking._objects) == before


def test_the_hosts_session_config_and_templates_are_left_alone(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    STask(app)
    assert app.config.get("SECRET_KEY") is None
    assert app.config["SESSION_COOKIE_SAMESITE"] is None
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert "Status" not in app.jinja_env.globals
    babel = {"_", "gettext", "ngettext", "pgettext", "npgettext"}  # Flask-Babel's own, installed as documented
    added = set(app.jinja_env.globals) - set(Flask("bare").jinja_env.globals) - babel
    assert added and all(name.startswith("stask_") for name in added), added

    @app.get("/page")
    def page() -> str:
        return render_template_string(
            "{{ Status is defined }} {{ stask_languages is defined }} {{ csrf_token is defined }}"
        )

    with app.test_client() as client:
        assert client.get("/page?lang=uk").get_data(as_text=True) == "False False False"


def test_the_host_keeps_its_language_outside_stask_pages(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    STask(app)

    @app.get("/lang")
    def lang() -> str:
        from flask_babel import get_locale

        return str(get_locale())

    with app.test_client() as client:
        response = client.get("/lang?lang=uk", headers={"Accept-Language": "de"})
        assert response.get_data(as_text=True) == "en"
        assert "lang=" not in response.headers.get("Set-Cookie", "")


def test_settings_are_read_once_and_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STASK_TIMEOUT", "90")
    app = host_app(tmp_path, STASK_MAX_ATTEMPTS="7")
    STask(app)
    monkeypatch.setenv("STASK_TIMEOUT", "5")
    with app.app_context():
        settings = current_stask().settings
        assert (settings.timeout, settings.max_attempts) == (90, 7)
    assert app.config["STASK_TIMEOUT"] == 90  # filled in for the host, like Flask-SQLAlchemy's keys


def test_current_stask_explains_a_missing_setup() -> None:
    with Flask("bare").app_context(), pytest.raises(RuntimeError, match="STask\\(app\\)"):
        current_stask()
