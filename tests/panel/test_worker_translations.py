"""Workers speak the panel's language: titles, descriptions, fields and their tasks' messages.

The built-in workers translate with a dict (``translations``); the greeter test plugin with a
gettext domain whose catalogue each test compiles into its own folder. The API stays English.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import ADMIN, create, login
from tests.support.apps import run_worker
from tests.support.i18n_plugins import GREETER_CONFIG, GreeterWorker, compile_catalogue


def run(app: Flask) -> None:
    with app.app_context():
        run_worker(app)


def text_of(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def card(page: str, identifier: str) -> str:
    """One worker's card on the workers page."""
    match = re.search(rf'<article class="card worker[^"]*" id="worker-{identifier}">(.*?)</article>', page, re.S)
    assert match, identifier
    return match.group(1)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "uk",
            [
                "<h2>Експорт у CSV</h2>",
                "Вивантажує історію завдань або список обробників у CSV-файл, який можна завантажити.",
                "<strong>експорт</strong>",
                ">Джерело</label>",
                ">Історія завдань</option>",
                ">Список обробників</option>",
                ">Завдання, створені за останні N днів</label>",
                "0 — вивантажити всі завдання.",
                ">Пауза між пакетами (мс)</label>",
            ],
        ),
        (
            "de",
            [
                "<h2>CSV-Export</h2>",
                "Exportiert den Aufgabenverlauf oder die Worker-Liste in eine CSV-Datei zum Herunterladen.",
                "<strong>Export</strong>",
                ">Quelle</label>",
                ">Aufgabenverlauf</option>",
                ">Aufgaben, die in den letzten N Tagen erstellt wurden</label>",
                "0 exportiert alle Aufgaben.",
            ],
        ),
    ],
    ids=["uk", "de"],
)
def test_workers_page_shows_builtin_workers_in_the_panels_language(
    client: FlaskClient, lang: str, expected: list[str]
) -> None:
    login(client)
    page = text_of(client.get(f"/stask/workers?lang={lang}"))
    csv_card = card(page, "csv_export")
    for fragment in expected:
        assert fragment in csv_card, fragment
    assert 'value="tasks"' in csv_card and 'value="workers"' in csv_card  # the values stay as they are
    maintenance = card(page, "maintenance")
    assert {"uk": "<h2>Обслуговування</h2>", "de": "<h2>Wartung</h2>"}[lang] in maintenance
    assert {"uk": ">Старші за (днів)</label>", "de": ">Älter als (Tage)</label>"}[lang] in maintenance
    notifier = card(page, "notifier")
    assert {"uk": "<h2>Сповіщення</h2>", "de": "<h2>Benachrichtigungen</h2>"}[lang] in notifier


def test_workers_page_in_english_is_unchanged(client: FlaskClient) -> None:
    login(client)
    page = text_of(client.get("/stask/workers?lang=en"))
    csv_card = card(page, "csv_export")
    assert "<h2>CSV export</h2>" in csv_card and ">Source</label>" in csv_card and "<strong>export</strong>" in csv_card
    assert ">Task history</option>" in csv_card
    assert "<h2>Echo</h2>" in card(page, "echo")  # a worker without translations


@pytest.mark.parametrize(
    ("lang", "title", "label", "help_text"),
    [
        (
            "uk",
            "Налаштування: Експорт у CSV",
            ">Розмір пакета</label>",
            "Скільки рядків читати з бази даних за раз і скільки рядків минає між двома звітами про перебіг роботи.",
        ),
        (
            "de",
            "CSV-Export",
            ">Stapelgröße</label>",
            "Zeilen, die auf einmal aus der Datenbank gelesen werden, und Zeilen zwischen zwei Fortschrittsmeldungen.",
        ),
    ],
    ids=["uk", "de"],
)
def test_settings_page_shows_labels_and_help_in_the_panels_language(
    client: FlaskClient, lang: str, title: str, label: str, help_text: str
) -> None:
    login(client)
    page = text_of(client.get(f"/stask/workers/csv_export/settings?lang={lang}"))
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert heading and title in heading.group(1)
    assert label in page and help_text in page
    assert {"uk": ">Роздільник</label>", "de": ">Trennzeichen</label>"}[lang] in page


@pytest.mark.parametrize(
    ("lang", "label", "error"),
    [("uk", ">Пауза між пакетами (мс)</label>", "60000"), ("de", ">Pause zwischen Stapeln (ms)</label>", "60000")],
    ids=["uk", "de"],
)
def test_a_run_form_answered_by_htmx_keeps_the_translated_fields(
    client: FlaskClient, lang: str, label: str, error: str
) -> None:
    csrf = login(client)
    response = client.post(
        f"/stask/workers/csv_export/run/export?lang={lang}",
        data={"csrf_token": csrf, "source": "workers", "days": "7", "throttle_ms": "99999999"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    fragment = text_of(response)
    assert label in fragment and 'class="error"' in fragment and error in fragment
    assert {"uk": ">Список обробників</option>", "de": ">Worker-Liste</option>"}[lang] in fragment
    assert 'value="workers" selected' in fragment  # the submitted value is kept


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("uk", "Видалено завдань: 0, осиротілих файлів: 0"),
        ("de", "Gelöschte Aufgaben: 0, verwaiste Dateien: 0"),
        ("en", "Deleted 0 task(s) and 0 orphaned file(s)"),
    ],
    ids=["uk", "de", "en"],
)
def test_a_finished_maintenance_tasks_message_is_shown_in_the_panels_language(
    api_app: Flask, lang: str, message: str
) -> None:
    client = api_app.test_client()
    login(client)
    task_id = create(api_app, "maintenance", "cleanup", data={"days": 30})
    run(api_app)
    page = text_of(client.get(f"/stask/tasks/{task_id}?lang={lang}"))
    assert f'<dd class="message">{message}</dd>' in page
    assert f'<span class="progress-message">{message}</span>' in page
    bar = text_of(client.get(f"/stask/tasks/{task_id}/bar?detail=1"))  # the live fragment (cookie: lang)
    assert message in bar
    stored = client.get(f"/stask/api/tasks/{task_id}", headers={**ADMIN, "Accept-Language": "uk"}).get_json()
    assert stored["task"]["message"] == "Deleted 0 task(s) and 0 orphaned file(s)"  # stored and served in English


def test_a_failed_tasks_error_matching_a_template_is_translated(api_app: Flask) -> None:
    client = api_app.test_client()
    login(client)
    task_id = create(api_app, "csv_export", "export", data={"source": "passwords"}, max_attempts=1)
    run(api_app)
    page = text_of(client.get(f"/stask/tasks/{task_id}?lang=uk"))
    assert "ValueError: source має бути 'tasks' або 'workers', а не 'passwords'" in page


def test_the_api_keeps_english_whatever_the_browser_asks(client: FlaskClient) -> None:
    body = client.get("/stask/api/workers/csv_export", headers={**ADMIN, "Accept-Language": "uk"}).get_json()
    assert body["worker"]["title"] == "CSV export" and body["worker"]["description"].startswith("Export the task")


def test_the_schedule_form_lists_workers_by_their_translated_title(client: FlaskClient) -> None:
    login(client)
    page = text_of(client.get("/stask/schedules/new?lang=uk"))
    assert ">Обслуговування (maintenance)</option>" in page


# -- a plugin with a gettext domain ----------------------------------------------------------------
@pytest.fixture
def greeter_app(make_api_app: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(GreeterWorker, "translation_dir", str(compile_catalogue(tmp_path / "locales")))
    return make_api_app(**GREETER_CONFIG)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("uk", ["<h2>Вітальник</h2>", "Вітає когось на ім’я.", "<strong>привітати</strong>", ">Ім’я</label>"]),
        ("de", ["<h2>Begrüßer</h2>", "Begrüßt jemanden mit Namen.", "<strong>begrüßen</strong>", "Wen begrüßen."]),
    ],
    ids=["uk", "de"],
)
def test_a_plugins_gettext_domain_translates_its_card(greeter_app: Flask, lang: str, expected: list[str]) -> None:
    client = greeter_app.test_client()
    login(client)
    greeter = card(text_of(client.get(f"/stask/workers?lang={lang}")), "greeter")
    for fragment in expected:
        assert fragment in greeter, fragment


def test_a_plugins_message_template_from_its_domain_is_applied(greeter_app: Flask) -> None:
    client = greeter_app.test_client()
    login(client)
    task_id = create(greeter_app, "greeter", "greet", data={"name": "Оля"})
    run(greeter_app)
    page = text_of(client.get(f"/stask/tasks/{task_id}?lang=uk"))
    assert '<dd class="message">Привітано Оля, разів: 1</dd>' in page
    page = text_of(client.get(f"/stask/tasks/{task_id}?lang=fr"))  # no French catalogue: English
    assert '<dd class="message">Greeted Оля 1 time(s)</dd>' in page


def test_values_put_into_a_translated_message_are_escaped(greeter_app: Flask) -> None:
    client = greeter_app.test_client()
    login(client)
    task_id = create(greeter_app, "greeter", "greet", data={"name": "<b>Ann</b>"})
    run(greeter_app)
    page = client.get(f"/stask/tasks/{task_id}?lang=uk").get_data(as_text=True)
    assert '<dd class="message">Привітано &lt;b&gt;Ann&lt;/b&gt;, разів: 1</dd>' in page
    assert "<b>Ann</b>" not in page
