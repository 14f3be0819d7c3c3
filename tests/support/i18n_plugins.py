"""A plugin that ships its translations as a gettext domain (translation tests only).

Its catalogue is compiled by the tests (:func:`compile_catalogue`, babel's ``write_mo``) into a
folder of their own, which they point ``translation_dir`` at; nothing is written next to this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from stask import BaseWorker
from stask.workers.fields import Field
from tests.support.api import AUTH_CONFIG

DOMAIN = "stask_greeter"
#: The catalogue's entries: English -> (Ukrainian, German).
CATALOGUE = {
    "Greeter": ("Вітальник", "Begrüßer"),
    "Greets someone by name.": ("Вітає когось на ім’я.", "Begrüßt jemanden mit Namen."),
    "greet": ("привітати", "begrüßen"),
    "Name": ("Ім’я", "Name"),
    "Who to greet.": ("Кого вітати.", "Wen begrüßen."),
    "Greeted {name} {times} time(s)": ("Привітано {name}, разів: {times}", "{name} begrüßt, Anzahl: {times}"),
}


class GreeterWorker(BaseWorker):
    identifier = "greeter"
    scope = "tests"
    icon = "user"
    title = "Greeter"
    description = "Greets someone by name."
    action_fields = {"greet": {"name": Field(type="str", default="world", label="Name", help="Who to greet.")}}
    translation_domain = DOMAIN
    message_templates = ("Greeted {name} {times} time(s)",)

    def task_greet(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished(f"Greeted {options.get('name', 'world')} 1 time(s)")


GREETER_CONFIG: dict[str, Any] = {
    **AUTH_CONFIG,
    "STASK_WORKERS": AUTH_CONFIG["STASK_WORKERS"] + f",{__name__}:GreeterWorker",
}


def compile_catalogue(folder: Path, entries: dict[str, tuple[str, str]] = CATALOGUE) -> Path:
    """``<folder>/{uk,de}/LC_MESSAGES/stask_greeter.mo`` from ``entries``; returns ``folder``."""
    for position, language in enumerate(("uk", "de")):
        catalog = Catalog(locale=language, domain=DOMAIN)
        for english, translated in entries.items():
            catalog.add(english, translated[position])
        target = folder / language / "LC_MESSAGES"
        target.mkdir(parents=True, exist_ok=True)
        with (target / f"{DOMAIN}.mo").open("wb") as handle:
            write_mo(handle, catalog)
    return folder
