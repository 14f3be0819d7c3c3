"""Worker plugins used by the tests (registered through ``STASK_WORKERS`` as ``tests.support.plugins:…``).

``UploadWorker`` is registered only by the API fixtures (``tests.support.api.AUTH_CONFIG``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from flask import current_app

from stask import BaseWorker


class EchoWorker(BaseWorker):
    identifier = "echo"
    scope = "tests"
    icon = "comment"
    title = "Echo"
    description = "Reports progress <b>in steps</b> and finishes with its message."
    default_settings = {"greeting": "hello", "steps": 3}

    def task_say(self, task: Any, options: dict[str, Any]) -> None:
        steps = int(options.get("steps", self.settings["steps"]))
        for step in range(1, steps + 1):
            self.push_progress(processed=step, total=steps, message=f"step {step}")
        self.mark_finished(f"{self.settings['greeting']} {options.get('text', '')}".strip())

    def task_noop(self, task: Any, options: dict[str, Any]) -> None:
        pass

    def task_write_file(self, task: Any, options: dict[str, Any]) -> None:
        path = self.result_path("out.txt")
        path.write_text(options.get("text", "result"))
        self.mark_finished("written", result=path)


class FlakyWorker(BaseWorker):
    identifier = "flaky"
    scope = "tests"
    title = "Flaky"
    description = "Fails its first `fail_times` attempts."
    max_attempts = 3

    def task_run(self, task: Any, options: dict[str, Any]) -> None:
        if task.attempts <= int(options.get("fail_times", 1)):
            raise RuntimeError(f"planned failure on attempt {task.attempts}")
        self.mark_finished(f"succeeded on attempt {task.attempts}")

    def task_give_up(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_failed("nothing to do")


class SlowWorker(BaseWorker):
    identifier = "slow"
    scope = "tests"
    title = "Slow"
    description = "Sleeps, reporting progress, so a test can interrupt it."
    max_attempts = 2

    def task_sleep(self, task: Any, options: dict[str, Any]) -> None:
        seconds = float(options.get("seconds", 5)) if task.attempts == 1 else 0.1
        marker = options.get("marker")
        if marker:
            with open(marker, "a") as handle:
                handle.write(f"{os.getpid()} {task.attempts}\n")
        steps = max(1, int(seconds / 0.1))
        counted = bool(options.get("counted"))  # a message that states the counts, as csv_export's does
        for step in range(steps):
            time.sleep(0.1)
            message = f"{step + 1} of {steps} naps" if counted else "sleeping"
            self.push_progress(processed=step + 1, total=steps, message=message)
        self.mark_finished("woke up")


class RecorderWorker(BaseWorker):
    identifier = "recorder"
    scope = "tests"
    title = "Recorder"
    description = "Appends its task's label to a Redis list, so tests can see execution order."

    def task_record(self, task: Any, options: dict[str, Any]) -> None:
        with redis.Redis.from_url(current_app.config["REDIS_URL"]) as connection:  # closed after the push
            connection.rpush("test:order", options["label"])


class UploadWorker(BaseWorker):
    identifier = "importer"
    scope = "tests"
    title = "Importer"
    description = "Reads an uploaded file."
    accepts_upload = True
    default_settings = {"upload_max_mb": 1.0, "upload_extensions": ["csv", "txt"]}

    def task_load(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished(f"loaded {options.get('file', '')}")
