"""Where task files live, and the one function that keeps every path inside its folder.

Layout under ``STASK_STORAGE``::

    logs/<task_id>.log          the task's log (progress lines, errors, tracebacks)
    results/<task_id>/<name>    files a worker produced (downloadable)
    uploads/task-<task_id>/<name>, uploads/worker-<identifier>/<name>
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .exceptions import UnsafePath

#: Matched in full (``fullmatch``): ``$`` alone would also accept a name ending in a newline.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,199}")


def safe_name(name: str) -> str:
    """Accept a plain file name only: no separators, no ``..``, no hidden files."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise UnsafePath(f"invalid file name {name!r}: use letters, digits, '.', '_', '-' and no folders")
    return name


def resolve_inside(folder: Path, relative: str) -> Path:
    """Resolve ``relative`` under ``folder`` and refuse anything that ends up outside it.

    ``resolve()`` follows symlinks, so a link pointing out of the folder is refused too.
    """
    if not relative or os.path.isabs(relative) or "\x00" in relative:
        raise UnsafePath(f"invalid path {relative!r}")
    base = folder.resolve()
    target = (base / relative).resolve()
    if target == base or base not in target.parents:
        raise UnsafePath(f"path {relative!r} leaves its folder")
    return target


class Storage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def log_path(self, task_id: int) -> Path:
        return self.root / "logs" / f"{int(task_id)}.log"

    def result_dir(self, task_id: int) -> Path:
        return self.root / "results" / str(int(task_id))

    def upload_dir(self, owner: str) -> Path:
        """``owner`` is ``task-<id>`` or ``worker-<identifier>``: the two kinds never share a folder."""
        return self.root / "uploads" / safe_name(owner)

    def task_upload_dir(self, task_id: int) -> Path:
        return self.upload_dir(f"task-{int(task_id)}")

    def worker_upload_dir(self, identifier: str) -> Path:
        return self.upload_dir(f"worker-{identifier}")

    def result_file(self, task_id: int, relative: str) -> Path:
        """The result file of a task, guaranteed inside its result folder."""
        return resolve_inside(self.result_dir(task_id), relative)

    def append_log(self, task_id: int, line: str) -> None:
        path = self.log_path(task_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")

    def tail_log(self, task_id: int, lines: int = 50) -> list[str]:
        """The last ``lines`` lines, read from the end so a huge log costs little."""
        if lines <= 0:
            return []
        path = self.log_path(task_id)
        try:
            with path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                chunk = min(size, max(4096, lines * 240))
                handle.seek(size - chunk)
                data = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = data.splitlines()
        if chunk < size:
            out = out[1:]  # first line may be cut in half
        return out[-lines:]

    def free_bytes(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize
