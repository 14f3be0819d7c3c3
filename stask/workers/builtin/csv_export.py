"""Export task history (or the worker registry) to a downloadable CSV file, with progress."""

from __future__ import annotations

import csv
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from ...models import Task, Worker, utcnow
from ...service import current_stask
from ..base import BaseWorker
from ..fields import Field
from ..i18n import per_locale

TASK_COLUMNS = [
    "id",
    "identifier",
    "action",
    "status",
    "priority",
    "progress",
    "message",
    "attempts",
    "created_at",
    "started_at",
    "finished_at",
    "wait_ms",
    "run_ms",
]
WORKER_COLUMNS = ["identifier", "scope", "title", "active", "class_path"]
#: Largest ``batch_size``: rows a database cursor fetches at a time (PostgreSQL refuses counts past int32).
MAX_BATCH = 100_000
#: The messages its tasks write, per source (stored in English; the panel translates them).
STARTING = {"tasks": "Exporting {total} tasks", "workers": "Exporting {total} workers"}
PROGRESS = "{written} of {total} rows"
WRITTEN = "{written} rows written"
DONE = {"tasks": "Exported {written} tasks to {file}", "workers": "Exported {written} workers to {file}"}
BAD_SOURCE = "source must be 'tasks' or 'workers', not {source}"

#: The panel's texts of this worker in de, fr, pl, ru and uk. Counted things come after a colon
#: ("Zeilen: 5") so that one wording fits every number in languages with several plural forms.
TRANSLATIONS = per_locale(
    {
        "CSV export": {
            "de": "CSV-Export",
            "fr": "Export CSV",
            "pl": "Eksport CSV",
            "ru": "Экспорт в CSV",
            "uk": "Експорт у CSV",
        },
        "Export the task history or the worker list to a CSV file you can download.": {
            "de": "Exportiert den Aufgabenverlauf oder die Worker-Liste in eine CSV-Datei zum Herunterladen.",
            "fr": "Exporte l’historique des tâches ou la liste des workers dans un fichier CSV à télécharger.",
            "pl": "Eksportuje historię zadań lub listę workerów do pliku CSV do pobrania.",
            "ru": "Выгружает историю задач или список обработчиков в CSV-файл, который можно скачать.",
            "uk": "Вивантажує історію завдань або список обробників у CSV-файл, який можна завантажити.",
        },
        "export": {"de": "Export", "fr": "export", "pl": "eksport", "ru": "экспорт", "uk": "експорт"},
        "Batch size": {
            "de": "Stapelgröße",
            "fr": "Taille des lots",
            "pl": "Rozmiar partii",
            "ru": "Размер пакета",
            "uk": "Розмір пакета",
        },
        "Rows read from the database at a time, and rows between two progress reports.": {
            "de": (
                "Zeilen, die auf einmal aus der Datenbank gelesen werden, und "
                "Zeilen zwischen zwei Fortschrittsmeldungen."
            ),
            "fr": "Lignes lues à la fois dans la base de données, et lignes entre deux points d’avancement.",
            "pl": "Liczba wierszy odczytywanych naraz z bazy danych i liczba wierszy między dwoma raportami postępu.",
            "ru": (
                "Сколько строк читать из базы данных за раз и сколько строк "
                "проходит между двумя отчётами о ходе работы."
            ),
            "uk": (
                "Скільки рядків читати з бази даних за раз і скільки рядків минає між двома звітами про перебіг роботи."
            ),
        },
        "Delimiter": {
            "de": "Trennzeichen",
            "fr": "Séparateur",
            "pl": "Separator",
            "ru": "Разделитель",
            "uk": "Роздільник",
        },
        "One character between columns, such as , or ; or a tab (not the quote character).": {
            "de": "Ein Zeichen zwischen den Spalten, etwa , oder ; oder ein Tabulator (nicht das Anführungszeichen).",
            "fr": "Un caractère entre les colonnes, comme , ou ; ou une tabulation (pas le guillemet).",
            "pl": "Jeden znak między kolumnami, np. , lub ; albo tabulator (nie cudzysłów).",
            "ru": "Один символ между столбцами, например , или ; или табуляция (но не кавычка).",
            "uk": "Один символ між стовпцями, наприклад , або ; або табуляція (але не лапки).",
        },
        "Source": {"de": "Quelle", "fr": "Source", "pl": "Źródło", "ru": "Источник", "uk": "Джерело"},
        "Task history": {
            "de": "Aufgabenverlauf",
            "fr": "Historique des tâches",
            "pl": "Historia zadań",
            "ru": "История задач",
            "uk": "Історія завдань",
        },
        "Worker list": {
            "de": "Worker-Liste",
            "fr": "Liste des workers",
            "pl": "Lista workerów",
            "ru": "Список обработчиков",
            "uk": "Список обробників",
        },
        "Tasks created in the last N days": {
            "de": "Aufgaben, die in den letzten N Tagen erstellt wurden",
            "fr": "Tâches créées au cours des N derniers jours",
            "pl": "Zadania utworzone w ciągu ostatnich N dni",
            "ru": "Задачи, созданные за последние N дней",
            "uk": "Завдання, створені за останні N днів",
        },
        "0 exports every task.": {
            "de": "0 exportiert alle Aufgaben.",
            "fr": "0 exporte toutes les tâches.",
            "pl": "0 eksportuje wszystkie zadania.",
            "ru": "0 — выгрузить все задачи.",
            "uk": "0 — вивантажити всі завдання.",
        },
        "Pause between batches (ms)": {
            "de": "Pause zwischen Stapeln (ms)",
            "fr": "Pause entre les lots (ms)",
            "pl": "Przerwa między partiami (ms)",
            "ru": "Пауза между пакетами (мс)",
            "uk": "Пауза між пакетами (мс)",
        },
        STARTING["tasks"]: {
            "de": "Aufgaben werden exportiert: {total}",
            "fr": "Export des tâches : {total}",
            "pl": "Eksportowanie zadań: {total}",
            "ru": "Выгрузка задач: {total}",
            "uk": "Вивантаження завдань: {total}",
        },
        STARTING["workers"]: {
            "de": "Worker werden exportiert: {total}",
            "fr": "Export des workers : {total}",
            "pl": "Eksportowanie workerów: {total}",
            "ru": "Выгрузка обработчиков: {total}",
            "uk": "Вивантаження обробників: {total}",
        },
        PROGRESS: {
            "de": "Zeilen: {written} von {total}",
            "fr": "Lignes : {written} sur {total}",
            "pl": "Wiersze: {written} z {total}",
            "ru": "Строки: {written} из {total}",
            "uk": "Рядки: {written} з {total}",
        },
        WRITTEN: {
            "de": "Geschriebene Zeilen: {written}",
            "fr": "Lignes écrites : {written}",
            "pl": "Zapisane wiersze: {written}",
            "ru": "Записано строк: {written}",
            "uk": "Записано рядків: {written}",
        },
        DONE["tasks"]: {
            "de": "Nach {file} exportierte Aufgaben: {written}",
            "fr": "Tâches exportées dans {file} : {written}",
            "pl": "Zadania wyeksportowane do {file}: {written}",
            "ru": "Выгружено задач в {file}: {written}",
            "uk": "Вивантажено завдань у {file}: {written}",
        },
        DONE["workers"]: {
            "de": "Nach {file} exportierte Worker: {written}",
            "fr": "Workers exportés dans {file} : {written}",
            "pl": "Workery wyeksportowane do {file}: {written}",
            "ru": "Выгружено обработчиков в {file}: {written}",
            "uk": "Вивантажено обробників у {file}: {written}",
        },
        "ValueError: " + BAD_SOURCE: {
            "de": "ValueError: source muss 'tasks' oder 'workers' sein, nicht {source}",
            "fr": "ValueError: source doit valoir 'tasks' ou 'workers', pas {source}",
            "pl": "ValueError: source musi mieć wartość 'tasks' lub 'workers', a nie {source}",
            "ru": "ValueError: source должен быть 'tasks' или 'workers', а не {source}",
            "uk": "ValueError: source має бути 'tasks' або 'workers', а не {source}",
        },
    }
)


class CsvExportWorker(BaseWorker):
    identifier = "csv_export"
    scope = "data"
    icon = "file-csv"
    title = "CSV export"
    description = "Export the task history or the worker list to a CSV file you can download."
    settings_fields = {
        "batch_size": Field(
            type="int",
            default=500,
            min=1,
            max=MAX_BATCH,
            label="Batch size",
            help="Rows read from the database at a time, and rows between two progress reports.",
        ),
        "delimiter": Field(
            type="str",
            default=",",
            min_length=1,
            max_length=1,
            allowed_controls="\t",
            pattern='[^"]',
            label="Delimiter",
            help="One character between columns, such as , or ; or a tab (not the quote character).",
        ),
    }
    max_attempts = 2
    action_fields = {
        "export": {
            "source": Field(
                type="choice",
                choices=(("tasks", "Task history"), ("workers", "Worker list")),
                default="tasks",
                label="Source",
            ),
            "days": Field(
                type="int",
                default=7,
                min=0,
                max=36_500,
                label="Tasks created in the last N days",
                help="0 exports every task.",
            ),
            "throttle_ms": Field(type="int", default=0, min=0, max=60_000, label="Pause between batches (ms)"),
        }
    }
    translations = TRANSLATIONS

    def task_export(self, task: Any, options: dict[str, Any]) -> None:
        source = options.get("source", "tasks")
        if source not in ("tasks", "workers"):
            raise ValueError(BAD_SOURCE.format(source=repr(source)))
        days = int(options.get("days", 7))
        throttle = max(0, int(options.get("throttle_ms", 0))) / 1000
        batch = int(self.settings["batch_size"])  # validated: 1..MAX_BATCH (a stale value gives the default)
        session = current_stask().db.session
        if source == "workers":
            columns, query = WORKER_COLUMNS, sa.select(*(getattr(Worker, c) for c in WORKER_COLUMNS))
            total = session.scalar(sa.select(sa.func.count()).select_from(Worker)) or 0
        else:
            columns, query = TASK_COLUMNS, sa.select(*(getattr(Task, c) for c in TASK_COLUMNS)).order_by(Task.id)
            if days > 0:
                query = query.where(Task.created_at >= utcnow() - timedelta(days=days))
            total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        path = self.result_path(f"{source}-{task.id}.csv")
        self.push_progress(0, STARTING[source].format(total=total), processed=0, total=total)
        written = 0
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter=self.settings["delimiter"])  # validated: one character
            writer.writerow(columns)
            for row in session.execute(query.execution_options(yield_per=batch)):
                writer.writerow(row)
                written += 1
                if written % batch == 0:
                    self.push_progress(
                        None, PROGRESS.format(written=written, total=total), processed=written, total=total
                    )
                    if throttle:
                        time.sleep(throttle)
        session.commit()
        self.push_progress(100, WRITTEN.format(written=written), processed=written, total=max(total, written))
        self.mark_finished(DONE[source].format(written=written, file=path.name), result=path)
