"""Activating or deactivating a worker takes effect at once: in this process (its L1 cache) and in
every other one (the shared L2 cache on Redis), however recently the definition was looked up.

The second app stands for another process: same database and Redis, its own L1. Its L1 TTL is 0, so
each of its lookups goes to the shared L2 — which is what the change must have invalidated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from stask.exceptions import InactiveWorker


def test_deactivating_is_seen_at_once_by_this_process(sqlite_app: Flask) -> None:
    stask: Any = sqlite_app.extensions["stask"]
    assert stask.resolve_worker("echo").active  # now in this process's L1 and in L2
    stask.deactivate_worker("echo")
    with pytest.raises(InactiveWorker):
        stask.create("echo", "noop")


def test_activating_is_seen_at_once_by_this_process(sqlite_app: Flask) -> None:
    stask: Any = sqlite_app.extensions["stask"]
    stask.deactivate_worker("echo")
    assert not stask.resolve_worker("echo").active  # the inactive definition is cached now
    stask.activate_worker("echo")
    assert stask.create("echo", "noop").id


def two_processes(make_app: Callable[..., Flask]) -> tuple[Any, Flask]:
    """(this app's STask, another app on the same database and Redis that reads through L2)."""
    here = make_app("sqlite")
    other = make_app("sqlite", STASK_CACHE_L1_TTL=0)  # built second: building empties both stores
    with here.app_context():
        here.extensions["stask"].discover_workers()
        here.extensions["stask"].db.session.remove()
    return here, other


def resolve_elsewhere(other: Flask, identifier: str) -> bool:
    with other.app_context():
        stask = other.extensions["stask"]
        active = bool(stask.resolve_worker(identifier).active)
        stask.db.session.remove()
    return active


@pytest.mark.parametrize("active_after", [False, True])
def test_a_change_is_seen_at_once_by_other_processes(make_app: Callable[..., Flask], active_after: bool) -> None:
    here, other = two_processes(make_app)
    with here.app_context():
        stask = here.extensions["stask"]
        if active_after:
            stask.deactivate_worker("echo")
        assert resolve_elsewhere(other, "echo") is (not active_after)  # L2 holds the old state now
        if active_after:
            stask.activate_worker("echo")
        else:
            stask.deactivate_worker("echo")
        stask.db.session.remove()
    assert resolve_elsewhere(other, "echo") is active_after
