"""Fork hooks registered once per process, whatever the number of apps or ``init_app`` calls.

``os.register_at_fork`` cannot unregister; registering per app would pile hooks up (and keep
every app alive). Objects that must act in a forked child register here instead and are held
weakly, so a discarded app takes its hook with it. An object may also prepare in the parent,
just before each fork (``before_fork``), what its child then only has to swap in: a work horse
pays for every page it writes to (copy-on-write), the parent for none it has already written.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol


class ForkAware(Protocol):
    def after_fork(self) -> None: ...


class PreparesFork(ForkAware, Protocol):
    def before_fork(self) -> None: ...


_objects: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False


def after_fork_in_child(obj: ForkAware) -> None:
    """Call ``obj.after_fork()`` in every child forked from now on, while ``obj`` lives
    (and ``obj.before_fork()``, if it has one, in this process just before each fork)."""
    global _installed
    with _lock:
        if not _installed:
            os.register_at_fork(before=_prepare, after_in_child=_run)
            _installed = True
        _objects.add(obj)


def _prepare() -> None:
    for obj in list(_objects):
        prepare = getattr(obj, "before_fork", None)
        if prepare is not None:
            prepare()


def _run() -> None:
    for obj in list(_objects):
        obj.after_fork()
