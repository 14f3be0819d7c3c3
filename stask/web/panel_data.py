"""How the task page shows what a task left: the last traceback of its log, its result files."""

from __future__ import annotations

import json
from typing import Any

from ..models import Task
from ..storage import Storage


def last_traceback(lines: list[str]) -> str | None:
    """The last Python traceback in a log tail (the runner logs one per failed attempt)."""
    start = None
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            start = index
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and not lines[end].startswith("["):
        end += 1
    return "\n".join(lines[start:end])


def result_view(storage: Storage, task: Task) -> dict[str, Any]:
    """How to show a result: pretty JSON, plain text, and whether a file can be downloaded."""
    view: dict[str, Any] = {"json": None, "text": task.result, "file": None, "others": []}
    if not task.result:
        return view
    try:
        parsed = json.loads(task.result)
        if isinstance(parsed, (dict, list)):
            view["json"] = parsed
    except ValueError:
        pass
    try:
        path = storage.result_file(task.id, task.result)
        if path.is_file():
            view["file"] = path.name
            view["size"] = path.stat().st_size
            view["others"] = other_result_files(storage, task)
    except Exception:  # not a file name (a plain text result), or an unsafe one: nothing to offer
        pass
    return view


def other_result_files(storage: Storage, task: Task, limit: int = 20) -> list[tuple[str, int]]:
    """The other files of the task's result folder (name, size), each downloadable with ``?file=``:
    a worker may leave more than its result (the CSV importer's valid rows beside its report)."""
    folder = storage.result_dir(task.id)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.name != task.result and path.is_file() and not path.is_symlink():
            found.append((path.name, path.stat().st_size))
    return found[:limit]
