"""Housekeeping: delete old tasks with their logs and files, and sweep orphaned files."""

from __future__ import annotations

from typing import Any

from ...scheduling.declared import Schedule
from ...service import current_stask
from ..base import BaseWorker
from ..fields import Field
from ..i18n import per_locale

#: Longest retention a cleanup accepts (100 years): larger values overflow date arithmetic.
MAX_DAYS = 36_500
#: The messages its tasks write (stored in English; the panel translates them).
STARTING = "Deleting tasks ended more than {days} days ago"
PROGRESS = "{done} of {total} tasks deleted"
DONE = "Deleted {removed} task(s) and {orphans} orphaned file(s)"
DONE_WITH_AUDIT = DONE + "; {expired} audit row(s) past their retention"

#: The panel's texts of this worker in de, fr, pl, ru and uk (counts after a colon: one wording
#: fits every number in languages with several plural forms).
TRANSLATIONS = per_locale(
    {
        "Maintenance": {
            "de": "Wartung",
            "fr": "Maintenance",
            "pl": "Konserwacja",
            "ru": "Обслуживание",
            "uk": "Обслуговування",
        },
        "Delete ended tasks older than N days with their logs and result files; sweep orphaned files.": {
            "de": (
                "Löscht beendete Aufgaben, die älter als N Tage sind, samt "
                "Protokollen und Ergebnisdateien; räumt verwaiste Dateien auf."
            ),
            "fr": (
                "Supprime les tâches terminées depuis plus de N jours avec leurs journaux et "
                "fichiers de résultat ; fait le ménage parmi les fichiers orphelins."
            ),
            "pl": (
                "Usuwa zakończone zadania starsze niż N dni wraz z ich "
                "dziennikami i plikami wyników; sprząta osierocone pliki."
            ),
            "ru": (
                "Удаляет завершённые задачи старше N дней вместе с их журналами и "
                "файлами результатов; убирает осиротевшие файлы."
            ),
            "uk": (
                "Видаляє завершені завдання, старші за N днів, разом із їхніми "
                "журналами та файлами результатів; прибирає осиротілі файли."
            ),
        },
        "cleanup": {"de": "Bereinigung", "fr": "nettoyage", "pl": "czyszczenie", "ru": "очистку", "uk": "очищення"},
        "Keep ended tasks for (days)": {
            "de": "Beendete Aufgaben aufbewahren (Tage)",
            "fr": "Conserver les tâches terminées (jours)",
            "pl": "Przechowuj zakończone zadania (dni)",
            "ru": "Хранить завершённые задачи (дней)",
            "uk": "Зберігати завершені завдання (днів)",
        },
        "A cleanup without its own 'days' option deletes ended tasks older than this.": {
            "de": (
                "Eine Bereinigung ohne eigene Option 'days' löscht beendete Aufgaben, die älter als dieser Wert sind."
            ),
            "fr": (
                "Un nettoyage sans sa propre option 'days' supprime les "
                "tâches terminées plus anciennes que cette durée."
            ),
            "pl": "Czyszczenie bez własnej opcji 'days' usuwa zakończone zadania starsze niż ta wartość.",
            "ru": "Очистка без собственного параметра 'days' удаляет завершённые задачи старше этого срока.",
            "uk": "Очищення без власного параметра 'days' видаляє завершені завдання, старші за цей строк.",
        },
        "Older than (days)": {
            "de": "Älter als (Tage)",
            "fr": "Plus anciennes que (jours)",
            "pl": "Starsze niż (dni)",
            "ru": "Старше (дней)",
            "uk": "Старші за (днів)",
        },
        STARTING: {
            "de": "Aufgaben, die vor mehr als {days} Tagen beendet wurden, werden gelöscht",
            "fr": "Suppression des tâches terminées depuis plus de {days} j",
            "pl": "Usuwanie zadań zakończonych ponad {days} dni temu",
            "ru": "Удаление задач, завершённых более {days} дн. назад",
            "uk": "Видалення завдань, завершених понад {days} дн. тому",
        },
        PROGRESS: {
            "de": "Gelöschte Aufgaben: {done} von {total}",
            "fr": "Tâches supprimées : {done} sur {total}",
            "pl": "Usunięte zadania: {done} z {total}",
            "ru": "Удалено задач: {done} из {total}",
            "uk": "Видалено завдань: {done} з {total}",
        },
        DONE: {
            "de": "Gelöschte Aufgaben: {removed}, verwaiste Dateien: {orphans}",
            "fr": "Tâches supprimées : {removed}, fichiers orphelins : {orphans}",
            "pl": "Usunięte zadania: {removed}, osierocone pliki: {orphans}",
            "ru": "Удалено задач: {removed}, осиротевших файлов: {orphans}",
            "uk": "Видалено завдань: {removed}, осиротілих файлів: {orphans}",
        },
        DONE_WITH_AUDIT: {
            "de": "Gelöschte Aufgaben: {removed}, verwaiste Dateien: {orphans}; abgelaufene Audit-Einträge: {expired}",
            "fr": (
                "Tâches supprimées : {removed}, fichiers orphelins : {orphans} ; "
                "entrées d’audit en fin de conservation : {expired}"
            ),
            "pl": (
                "Usunięte zadania: {removed}, osierocone pliki: {orphans}; "
                "wpisy audytu po okresie przechowywania: {expired}"
            ),
            "ru": (
                "Удалено задач: {removed}, осиротевших файлов: {orphans}; "
                "записей аудита с истёкшим сроком хранения: {expired}"
            ),
            "uk": (
                "Видалено завдань: {removed}, осиротілих файлів: {orphans}; записів "
                "аудиту зі спливлим строком зберігання: {expired}"
            ),
        },
    }
)


class MaintenanceWorker(BaseWorker):
    identifier = "maintenance"
    scope = "system"
    icon = "broom"
    title = "Maintenance"
    description = "Delete ended tasks older than N days with their logs and result files; sweep orphaned files."
    settings_fields = {
        "days": Field(
            type="int",
            default=30,
            min=0,
            max=MAX_DAYS,
            label="Keep ended tasks for (days)",
            help="A cleanup without its own 'days' option deletes ended tasks older than this.",
        )
    }
    max_attempts = 1
    action_fields = {"cleanup": {"days": Field(type="int", default=30, min=0, max=MAX_DAYS, label="Older than (days)")}}
    #: Nightly at 03:30 UTC with the ``days`` setting; disabled unless STASK_AUTO_ACTIVATE (enabled=None).
    schedules = [Schedule("30 3 * * *", action="cleanup", name="nightly cleanup")]
    translations = TRANSLATIONS

    def task_cleanup(self, task: Any, options: dict[str, Any]) -> None:
        days = int(options.get("days", self.settings["days"]))
        tasks = current_stask().tasks
        self.push_progress(0, STARTING.format(days=days))
        removed = tasks.cleanup(
            days=days,
            on_progress=lambda done, total: self.push_progress(
                90 * done / max(total, 1), PROGRESS.format(done=done, total=total), processed=done, total=total
            ),
        )
        orphans = tasks.sweep_orphan_files(keep=task.id)
        expired = current_stask().audit.cleanup()  # its own retention (STASK_AUDIT_RETENTION_DAYS), not ``days``
        done = DONE_WITH_AUDIT if expired else DONE
        self.mark_finished(done.format(removed=removed, orphans=orphans, expired=expired))
