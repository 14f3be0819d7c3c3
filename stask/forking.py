"""Fork hooks registered once per process, whatever the number of apps or ``init_app`` calls.

``os.register_at_fork`` cannot unregister; registering per app would pile hooks up (and keep
every app alive). Objects that must act in a forked child register here instead and are held
weakly, so a discarded app takes its hook with it.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol


class ForkAware(Protocol):
    def after_fork(self) -> None: ...


_objects: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False


def after_fork_in_child(obj: ForkAware) -> None:
    """Call ``obj.after_fork()`` in every child forked from now on, while ``obj`` lives."""
    global _installed
    with _lock:
        if not _installed:
            os.register_at_fork(after_in_child=_run)
            _installed = True
        _objects.add(obj)


def _run() -> None:
    for obj in list(_objects):
        obj.after_fork()
