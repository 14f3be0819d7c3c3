"""Sends the deliveries of notification rules: one task per delivery, in the ``low`` queue.

Stask's own tasks: retried with backoff when the receiver fails, never notifying about
themselves, and always active (``always_active``) because rules rely on them.
"""

from __future__ import annotations

from typing import Any

from ...notify.outcome import DeliveryFailed
from ...service import current_stask
from ..base import BaseWorker
from ..i18n import per_locale

#: The panel's texts of this worker in de, fr, pl, ru and uk. The messages its tasks write are
#: worded by the deliveries service (in English, as stored); these templates translate them.
TRANSLATIONS = per_locale(
    {
        "Notifier": {
            "de": "Benachrichtigungen",
            "fr": "Notifications",
            "pl": "Powiadomienia",
            "ru": "Уведомления",
            "uk": "Сповіщення",
        },
        "Sends task notifications by e-mail and webhook, retrying with backoff.": {
            "de": (
                "Versendet Benachrichtigungen zu Aufgaben per E-Mail und Webhook "
                "und wiederholt Fehlversuche mit wachsendem Abstand."
            ),
            "fr": "Envoie les notifications des tâches par e-mail et webhook, en réessayant avec un délai croissant.",
            "pl": "Wysyła powiadomienia o zadaniach e-mailem i webhookiem, ponawiając próby z rosnącym odstępem.",
            "ru": (
                "Отправляет уведомления о задачах по электронной почте и через "
                "вебхуки, повторяя попытки с нарастающей задержкой."
            ),
            "uk": (
                "Надсилає сповіщення про завдання електронною поштою та "
                "вебхуками, повторюючи спроби зі зростаючою затримкою."
            ),
        },
        "deliver": {"de": "Zustellung", "fr": "envoi", "pl": "doręczenie", "ru": "доставку", "uk": "доставку"},
        "delivery {delivery_id} or its rule was deleted: nothing sent": {
            "de": "Zustellung {delivery_id} oder ihre Regel wurde gelöscht: nichts gesendet",
            "fr": "L’envoi {delivery_id} ou sa règle a été supprimé : rien n’a été envoyé",
            "pl": "Doręczenie {delivery_id} lub jego reguła zostały usunięte: nic nie wysłano",
            "ru": "Доставка {delivery_id} или её правило удалены: ничего не отправлено",
            "uk": "Доставку {delivery_id} або її правило видалено: нічого не надіслано",
        },
        "delivery {delivery_id} was already delivered": {
            "de": "Zustellung {delivery_id} wurde bereits zugestellt",
            "fr": "L’envoi {delivery_id} a déjà été effectué",
            "pl": "Doręczenie {delivery_id} zostało już zrealizowane",
            "ru": "Доставка {delivery_id} уже выполнена",
            "uk": "Доставку {delivery_id} уже виконано",
        },
        "{event} of {subject} delivered by {channel} ({code})": {
            "de": "Ereignis „{event}“ zu {subject} per {channel} zugestellt ({code})",
            "fr": "Événement « {event} » de {subject} envoyé par {channel} ({code})",
            "pl": "Zdarzenie „{event}” dla {subject} doręczone przez {channel} ({code})",
            "ru": "Событие «{event}» для {subject} доставлено через {channel} ({code})",
            "uk": "Подію «{event}» для {subject} доставлено через {channel} ({code})",
        },
        "{event} of {subject} delivered by {channel}": {
            "de": "Ereignis „{event}“ zu {subject} per {channel} zugestellt",
            "fr": "Événement « {event} » de {subject} envoyé par {channel}",
            "pl": "Zdarzenie „{event}” dla {subject} doręczone przez {channel}",
            "ru": "Событие «{event}» для {subject} доставлено через {channel}",
            "uk": "Подію «{event}» для {subject} доставлено через {channel}",
        },
        "delivery {delivery_id}: {reason}": {
            "de": "Zustellung {delivery_id}: {reason}",
            "fr": "Envoi {delivery_id} : {reason}",
            "pl": "Doręczenie {delivery_id}: {reason}",
            "ru": "Доставка {delivery_id}: {reason}",
            "uk": "Доставка {delivery_id}: {reason}",
        },
    }
)


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
    translations = TRANSLATIONS

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
