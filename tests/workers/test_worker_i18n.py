"""The resolver of a worker's own texts: the dict form, the gettext domain, templates, English fallback."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stask import BaseWorker
from stask.workers import i18n
from stask.workers.builtin.csv_export import CsvExportWorker
from stask.workers.builtin.maintenance import MaintenanceWorker
from stask.workers.builtin.notifier import NotifierWorker
from stask.workers.discovery import validate_worker_class
from stask.workers.fields import Field
from stask.workers.i18n import candidates, localised_fields, worker_text
from stask.workers.registry import WorkerDefinition
from tests.support.i18n_plugins import DOMAIN, GreeterWorker, compile_catalogue

LANGUAGES = ("de", "fr", "pl", "ru", "uk")
BUILTINS = (CsvExportWorker, MaintenanceWorker, NotifierWorker)


class DictWorker(BaseWorker):
    identifier = "dict_worker"
    title = "Importer"
    description = "Reads rows."
    action_fields = {"run": {"mode": Field(type="choice", choices=(("a", "Fast"), ("b", "Safe")), label="Mode")}}
    translations = {
        "uk": {
            "Importer": "Імпортер",
            "Mode": "Режим",
            "Fast": "Швидко",
            "Deleted {removed} task(s)": "Видалено завдань: {removed}",
            "Deleted {removed} task(s) and {orphans} file(s)": "Видалено завдань: {removed}, файлів: {orphans}",
            "{a} and {a}": "{a} і ще раз {a}",
        },
        "pt": {"Importer": "Importador"},
        "pt_BR": {"Reads rows.": "Lê linhas."},
    }

    def task_run(self, task: Any, options: dict[str, Any]) -> None:
        pass


@pytest.fixture
def greeter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[GreeterWorker]:
    """The domain plugin, its catalogue compiled (babel's ``write_mo``) into this test's folder."""
    monkeypatch.setattr(GreeterWorker, "translation_dir", str(compile_catalogue(tmp_path / "locales")))
    return GreeterWorker


# -- the dict form -----------------------------------------------------------------------------------
def test_the_dict_form_translates_exact_texts() -> None:
    assert worker_text(DictWorker, "Importer", "uk") == "Імпортер"
    assert worker_text(DictWorker, "Mode", "uk") == "Режим"


def test_a_region_falls_back_to_its_language_and_prefers_its_own_entry() -> None:
    assert worker_text(DictWorker, "Importer", "pt_BR") == "Importador"  # only "pt" has it
    assert worker_text(DictWorker, "Reads rows.", "pt_BR") == "Lê linhas."
    assert worker_text(DictWorker, "Reads rows.", "pt-br") == "Lê linhas."
    assert worker_text(DictWorker, "Reads rows.", "pt") == "Reads rows."


def test_english_is_shown_without_a_translation() -> None:
    assert worker_text(DictWorker, "Reads rows.", "uk") == "Reads rows."  # no entry in this language
    assert worker_text(DictWorker, "Importer", "de") == "Importer"  # no such language
    assert worker_text(DictWorker, "Importer", "en") == "Importer"
    assert worker_text(DictWorker, "Importer", None) == "Importer"
    assert worker_text(None, "Importer", "uk") == "Importer"  # no class (it failed to import)


@pytest.mark.parametrize("locale", ["xx", "../../etc", "uk/../de", "", "u", "uk_UA_x_y_z", "uk\x00"])
def test_an_unknown_or_malformed_locale_shows_english(locale: str) -> None:
    assert worker_text(DictWorker, "Importer", locale) == ("Importer")


def test_candidates_never_name_a_path() -> None:
    assert candidates("zh_hant_tw") == ["zh_Hant_TW", "zh_Hant", "zh"]
    assert candidates("de") == ["de"]
    assert candidates("../uk") == [] and candidates("uk/LC_MESSAGES") == []


def test_a_definition_or_a_row_is_resolved_to_its_class() -> None:
    definition = WorkerDefinition("csv_export", CsvExportWorker.class_path(), True)
    assert worker_text(definition, "CSV export", "uk") == "Експорт у CSV"
    broken = WorkerDefinition("gone", "no.such.module:Worker", True)
    assert worker_text(broken, "CSV export", "uk") == "CSV export"


# -- templates ---------------------------------------------------------------------------------------
def test_a_message_matching_a_template_is_translated_with_its_values() -> None:
    assert worker_text(DictWorker, "Deleted 5 task(s)", "uk") == "Видалено завдань: 5"
    assert worker_text(DictWorker, "Deleted 5 task(s) and 2 file(s)", "uk") == "Видалено завдань: 5, файлів: 2"
    assert worker_text(DictWorker, "x and x", "uk") == "x і ще раз x"
    assert worker_text(DictWorker, "x and y", "uk") == "x and y"  # a repeated placeholder is one value
    assert worker_text(DictWorker, "Deleted 5 tasks", "uk") == "Deleted 5 tasks"  # no template matches


def test_the_template_with_most_fixed_text_wins() -> None:
    """ "{event} of {subject}" also matches a message ending in " (200)": the longer template is meant."""

    class Sender(DictWorker):
        message_templates = ("{event} of {subject}", "{event} of {subject} ({code})")
        translations = {
            "uk": {
                "{event} of {subject}": "{event}: {subject}",
                "{event} of {subject} ({code})": "{event}: {subject}, {code}",
            }
        }

    assert worker_text(Sender, "sent of task:7 (200)", "uk") == "sent: task:7, 200"
    assert worker_text(Sender, "sent of task:7", "uk") == "sent: task:7"
    message = "finished of task:7 delivered by webhook (200)"
    assert worker_text(NotifierWorker, message, "uk") == "Подію «finished» для task:7 доставлено через webhook (200)"
    assert worker_text(NotifierWorker, "finished of task:7 delivered by email", "de") == (
        "Ereignis „finished“ zu task:7 per email zugestellt"
    )


def test_a_crafted_long_message_is_matched_in_linear_time() -> None:
    """A remote answer ends up in a notifier's error: it must not stall the task page."""
    message = " of delivered by  (" * 5000  # 95 KB of near misses for a four-placeholder template
    started = time.perf_counter()
    assert worker_text(NotifierWorker, message, "uk").startswith("Подію «")  # the template without "(code)"
    assert time.perf_counter() - started < 1.0


def test_values_are_filled_in_as_text_never_as_format_fields() -> None:
    assert worker_text(DictWorker, "Deleted {0.__class__} task(s)", "uk") == "Видалено завдань: {0.__class__}"


# -- the gettext domain ------------------------------------------------------------------------------
def test_the_domain_form_reads_the_compiled_catalogue(greeter: type[GreeterWorker]) -> None:
    assert worker_text(greeter, "Greeter", "uk") == "Вітальник"
    assert worker_text(greeter, "Greeter", "de") == "Begrüßer"
    assert worker_text(greeter, "Greeted Ann 1 time(s)", "uk") == "Привітано Ann, разів: 1"  # a declared template
    assert worker_text(greeter, "Greeter", "fr") == "Greeter"  # no catalogue for French
    assert worker_text(greeter, "Not in the catalogue", "uk") == "Not in the catalogue"


def test_the_dict_is_read_before_the_domain(greeter: type[GreeterWorker], monkeypatch: pytest.MonkeyPatch) -> None:
    class Both(greeter):  # type: ignore[valid-type,misc]
        translations = {"uk": {"Greeter": "Привітальник"}}

    assert worker_text(Both, "Greeter", "uk") == "Привітальник"
    assert worker_text(Both, "Name", "uk") == "Ім’я"  # only in the domain


def test_a_missing_domain_folder_shows_english(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(GreeterWorker, "translation_dir", str(tmp_path / "nowhere"))
    assert worker_text(GreeterWorker, "Greeter", "uk") == "Greeter"


@pytest.fixture
def plugin_on_disk(tmp_path: Path) -> Iterator[Path]:
    """A plugin module in its own folder with a ``translations`` folder next to it."""
    package = tmp_path / "shipped_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from stask import BaseWorker\n\n"
        "class ShippedWorker(BaseWorker):\n"
        "    identifier = 'shipped'\n"
        "    title = 'Greeter'\n"
        f"    translation_domain = {DOMAIN!r}\n\n"
        "    def task_run(self, task, options):\n"
        "        pass\n"
    )
    compile_catalogue(package / "translations")
    sys.path.insert(0, str(tmp_path))
    yield package
    sys.path.remove(str(tmp_path))
    sys.modules.pop("shipped_plugin", None)


def test_the_default_domain_folder_is_translations_next_to_the_module(plugin_on_disk: Path) -> None:
    cls = importlib.import_module("shipped_plugin").ShippedWorker
    assert i18n.translation_folder(cls) == (plugin_on_disk / "translations").resolve()
    assert worker_text(cls, "Greeter", "uk") == "Вітальник"


def test_a_relative_domain_folder_is_read_from_the_module_folder(plugin_on_disk: Path) -> None:
    cls = importlib.import_module("shipped_plugin").ShippedWorker
    (plugin_on_disk / "translations").rename(plugin_on_disk / "locale")
    relative = type("Relative", (cls,), {"translation_dir": "locale", "__module__": cls.__module__})
    assert i18n.translation_folder(relative) == (plugin_on_disk / "locale").resolve()
    assert worker_text(relative, "Greeter", "de") == "Begrüßer"


# -- fields ------------------------------------------------------------------------------------------
def test_fields_get_translated_labels_help_and_choice_labels_but_keep_their_values() -> None:
    fields = localised_fields(DictWorker, DictWorker.form_fields("run"), "uk")
    assert fields["mode"].label == "Режим"
    assert fields["mode"].choices == (("a", "Швидко"), ("b", "Safe"))
    assert fields["mode"].choice_values == ["a", "b"]


# -- declarations ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"translations": ["uk"]}, "translations must be a dict"),
        ({"translations": {"UK": {}}}, "is not a locale"),
        ({"translations": {"../uk": {}}}, "is not a locale"),
        ({"translations": {"uk": {"Title": 3}}}, "must map English text"),
        ({"translations": {"uk": {"Deleted {n}": "Видалено {count}"}}}, "must use the placeholders ['n']"),
        ({"translation_domain": "../etc/passwd"}, "translation_domain must be"),
        ({"translation_dir": 3}, "translation_dir must be"),
        ({"message_templates": "Deleted {n}"}, "message_templates must be"),
    ],
)
def test_discovery_refuses_a_broken_translation_declaration(attributes: dict[str, Any], reason: str) -> None:
    broken = type("Broken", (DictWorker,), attributes)
    assert reason in (validate_worker_class(broken) or "")


def test_the_test_plugins_declarations_are_valid() -> None:
    assert validate_worker_class(DictWorker) is None and validate_worker_class(GreeterWorker) is None


# -- the built-in workers ----------------------------------------------------------------------------
def shown_texts(cls: type[BaseWorker]) -> set[str]:
    """Every text of a worker the panel shows: title, description, actions, labels, help, choices."""
    texts = {cls.title, cls.description, *cls.actions()}
    fields = [*cls.setting_fields().values(), *(f for a in cls.actions() for f in cls.form_fields(a).values())]
    for spec in fields:
        texts |= {spec.label, spec.help, *(label for _value, label in spec.choices)}
    return {text for text in texts if text}


@pytest.mark.parametrize("cls", BUILTINS, ids=lambda cls: cls.identifier)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_builtin_text_is_translated(cls: type[BaseWorker], language: str) -> None:
    table = cls.translations[language]
    missing = sorted(shown_texts(cls) - set(table))
    assert not missing, f"{cls.identifier} has no {language} translation of {missing}"
    assert set(table) == set(cls.translations["uk"]), f"{language} and uk translate different texts"
    assert all(worker_text(cls, text, language) == table[text] for text in shown_texts(cls))
    assert validate_worker_class(cls) is None
