"""Worker classes that break the plugin contract, for discovery tests."""

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
