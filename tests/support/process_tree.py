"""Stopping a launcher the test started (``make run``, honcho) and what it started, nothing else.

Such launchers start each child in a session of its own (so a Ctrl-C reaches only them), so
killing the launcher's process group would miss the children: they are found through ``/proc``
before the launcher is stopped, and each one's session is killed if it outlives the launcher.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def children_of(pid: int) -> list[int]:
    """The processes ``pid`` started that are still there (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop_launcher(process: subprocess.Popen[bytes], timeout: float = 30) -> list[int]:
    """SIGTERM (as Ctrl-C would stop it), wait, then kill whatever it started that is still there.

    Returns the children that had to be killed (none when the launcher stopped them itself).
    """
    started = children_of(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    killed = []
    for child in started:
        if alive(child):
            killed.append(child)
            try:
                os.killpg(child, signal.SIGKILL)  # its session: gunicorn's workers, a work horse
            except ProcessLookupError:
                pass
    return killed
