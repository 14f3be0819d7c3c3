"""Sends the deliveries of notification rules: one task per delivery, in the ``low`` queue.

Stask's own tasks: retried with backoff when the receiver fails, never notifying about
themselves, and always active (``always_active``) because rules rely on them.
"""

from __future__ import annotations

from typing import Any

from ...notify.outcome import DeliveryFailed
from ...service import current_stask
from ..base import BaseWorker


class NotifierWorker(BaseWorker):
    identifier = "notifier"
    scope = "system"
    icon = "bell"
    title = "Notifier"
    description = "Sends task notifications by e-mail and webhook, retrying with backoff."
    always_active = True
    #: Retried with the usual backoff (``STASK_BACKOFF_BASE``/``_CAP``: by default 5 s doubling
    #: to 10 min, about half an hour in all) before a delivery is given up.
    max_attempts = 10
    timeout = 60

    def task_deliver(self, task: Any, options: dict[str, Any]) -> None:
        delivery_id = options.get("delivery_id")
        if isinstance(delivery_id, bool) or not isinstance(delivery_id, int):
            self.mark_failed(f"data must name a delivery: {{'delivery_id': <id>}}, got {options!r}"[:300])
            return
        last_attempt = task.attempts >= task.max_attempts
        try:
            message = current_stask().deliveries.deliver(delivery_id, last_attempt=last_attempt)
        except DeliveryFailed as exc:
            if exc.permanent:
                self.mark_failed(f"delivery {delivery_id}: {exc}")
                return
            raise
        self.mark_finished(message)
