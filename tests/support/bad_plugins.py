"""Worker classes that break the plugin contract (discovery) or fail to construct (execution)."""

from __future__ import annotations

from typing import Any

from stask import BaseWorker


class NoActions(BaseWorker):
    identifier = "no_actions"


class HtmlIcon(BaseWorker):
    identifier = "html_icon"
    icon = '<i class="fa fa-envelope"></i>'

    def task_go(self, task: Any, options: dict[str, Any]) -> None:
        pass


class DuplicateEcho(BaseWorker):
    identifier = "echo"

    def task_go(self, task: Any, options: dict[str, Any]) -> None:
        pass


class NotAWorker:
    identifier = "plain"


class BrokenInit(BaseWorker):
    """Its constructor raises (as one connecting to a mail server that is down would)."""

    identifier = "echo"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("cannot connect to the mail server")

    def task_say(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished("never")
