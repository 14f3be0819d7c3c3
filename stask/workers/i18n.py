"""A worker's own texts in the reader's language: the one resolver the panel uses.

A worker translates its title, description, field labels, help, choice labels, action names
and the messages its tasks write in one or both of two ways:

* ``translations = {"uk": {"CSV export": "Експорт CSV"}}``: per locale, English text ->
  translation (a dict in code);
* ``translation_domain = "myplugin"``: a gettext catalogue shipped with the plugin,
  ``<translation_dir>/<locale>/LC_MESSAGES/myplugin.mo`` (``translation_dir`` defaults to a
  ``translations`` folder next to the worker's module), read with :mod:`gettext` once per
  process and language.

**Lookup.** For ``pt_BR`` the candidates are ``pt_BR`` then ``pt``; for each, the dict first,
then the domain. No translation: the English text as given. Never raises: a broken
declaration or an unreadable catalogue shows English (discovery reports broken declarations).

**Messages are stored in English** (the source) and translated when shown, so a task's row
reads the same to the API, logs and notifications whatever language the panel speaks. A
message is translated when it *is* a translated text, or when it matches a template with
``{name}`` placeholders: one of ``message_templates``, or (dict form) a key of the locale's
dict that has placeholders. The values found in the message fill the translation's
placeholders as they were written (numbers are not reformatted). When several templates
match, the one with the most fixed text wins, so ``"{a} of {b} delivered by {c} ({code})"``
is tried before ``"{a} of {b} delivered by {c}"``.
"""

from __future__ import annotations

import dataclasses
import functools
import gettext
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import BaseWorker
from .fields import Field

#: ``uk``, ``de``, ``pt_BR``, ``zh_Hant_TW``: never a path (a language names a catalogue folder).
LOCALE_RE = re.compile(r"\A[A-Za-z]{2,8}(?:_[A-Za-z0-9]{2,8}){0,2}\Z")
#: A gettext domain: a file name without its ``.mo``, never a path.
DOMAIN_RE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\Z")
#: ``{name}`` in a template or its translation.
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def worker_class_of(source: Any) -> type[BaseWorker] | None:
    """The worker class behind a class, a ``WorkerDefinition`` or a ``Worker`` row (``None``
    when it cannot be imported: its texts stay as stored)."""
    if isinstance(source, type):
        return source if issubclass(source, BaseWorker) else None
    class_path = getattr(source, "class_path", None)
    if not isinstance(class_path, str) or not class_path:
        return None
    from .registry import load_class  # the registry imports plugins; this module stays import-light

    try:
        cls = load_class(class_path)
    except Exception:  # importing a plugin runs its code; the page shows the stored English instead
        return None
    return cls if isinstance(cls, type) and issubclass(cls, BaseWorker) else None


def candidates(locale: Any) -> list[str]:
    """``pt_BR`` -> ``["pt_BR", "pt"]``; ``pt-br`` is read as ``pt_BR``; nothing for a bad name."""
    if locale is None:
        return []
    name = str(locale).replace("-", "_")
    if not LOCALE_RE.fullmatch(name):
        return []
    parts = name.split("_")
    parts = [parts[0].lower(), *(p.upper() if len(p) == 2 else p.title() for p in parts[1:])]
    return ["_".join(parts[:n]) for n in range(len(parts), 0, -1)]


def worker_text(source: Any, text: str, locale: Any) -> str:
    """``text`` (a title, label, message, …) of this worker in ``locale``, else ``text`` itself."""
    if not text or not isinstance(text, str):
        return text
    cls = worker_class_of(source)
    if cls is None:
        return text
    languages = candidates(locale)
    for language in languages:
        found = _lookup(cls, text, language)
        if found is not None:
            return found
    for language in languages:
        for template in _templates(cls, language):
            values = template.match(text)
            if values is None:
                continue
            translated = _lookup(cls, template.text, language)
            if translated is not None:
                return template.fill(translated, values)
    return text


def per_locale(by_text: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """``{"CSV export": {"de": "CSV-Export", …}}`` as ``translations`` wants it (per locale):
    written by English text, each with its languages next to it, it is easier to review."""
    table: dict[str, dict[str, str]] = {}
    for text, languages in by_text.items():
        for language, translated in languages.items():
            table.setdefault(language, {})[text] = translated
    return table


def localised_field(source: Any, field: Field, locale: Any) -> Field:
    """The same field with its label, help and choice labels in ``locale`` (values unchanged)."""
    choices = tuple((value, worker_text(source, label, locale)) for value, label in field.choices)
    return dataclasses.replace(
        field,
        label=worker_text(source, field.label, locale),
        help=worker_text(source, field.help, locale),
        choices=choices,
    )


def localised_fields(source: Any, fields: Mapping[str, Field], locale: Any) -> dict[str, Field]:
    return {name: localised_field(source, spec, locale) for name, spec in fields.items()}


# -- the two forms --------------------------------------------------------------------------------
def _lookup(cls: type[BaseWorker], text: str, language: str) -> str | None:
    """The translation of exactly ``text`` in one language: the dict, then the domain."""
    table = cls.translations.get(language) if isinstance(cls.translations, Mapping) else None
    if isinstance(table, Mapping):
        found = table.get(text)
        if isinstance(found, str) and found:
            return found
    catalogue = domain_catalogue(cls, language)
    if catalogue is not None:
        found = catalogue.gettext(text)
        if found != text and found:
            return found
    return None


def domain_catalogue(cls: type[BaseWorker], language: str) -> gettext.NullTranslations | None:
    """The worker's gettext catalogue for one language, or ``None`` (no domain, no file)."""
    domain = cls.translation_domain
    if not isinstance(domain, str) or not DOMAIN_RE.fullmatch(domain):
        return None
    folder = translation_folder(cls)
    if folder is None:
        return None
    return _catalogue(domain, str(folder), language)


def translation_folder(cls: type[BaseWorker]) -> Path | None:
    """``translation_dir`` (relative to the worker's module folder), else ``translations`` there."""
    module = sys.modules.get(cls.__module__)
    module_file = getattr(module, "__file__", None)
    base = Path(module_file).resolve().parent if module_file else None
    declared = cls.translation_dir
    if declared is not None:
        if not isinstance(declared, (str, os.PathLike)):
            return None
        path = Path(declared)
        if path.is_absolute():
            return path
        return base / path if base is not None else None
    return base / "translations" if base is not None else None


@functools.lru_cache(maxsize=512)
def _catalogue(domain: str, folder: str, language: str) -> gettext.NullTranslations | None:
    """Read once per process (a plugin upgrade restarts the processes that show it)."""
    try:
        return gettext.translation(domain, localedir=folder, languages=[language])
    except OSError:  # no catalogue for this language (or an unreadable one): English
        return None


# -- message templates ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Template:
    """An English message with ``{name}`` placeholders, matched against whole stored messages.

    Matched without regular expressions, in one pass: the fixed parts are found left to right,
    each at its first place after a non-empty value. That finds a match whenever one exists
    (the earliest place of each part leaves the most room for the rest), in time linear in the
    message, whereas a pattern of lazy groups backtracks: a 4.5 KB message crafted against a
    four-placeholder template took it 50 s. A placeholder used twice must take the same value.
    """

    text: str
    #: The fixed text around the placeholders: one more than ``names``.
    parts: tuple[str, ...]
    names: tuple[str, ...]
    fixed: int

    @classmethod
    def compile(cls, text: str) -> Template:
        parts: list[str] = []
        names: list[str] = []
        position = 0
        for found in PLACEHOLDER_RE.finditer(text):
            parts.append(text[position : found.start()])
            names.append(found.group(1))
            position = found.end()
        parts.append(text[position:])
        return cls(text, tuple(parts), tuple(names), sum(len(part) for part in parts))

    def match(self, message: str) -> dict[str, str] | None:
        """The placeholders' values when ``message`` is this template filled in, else ``None``."""
        first, last = self.parts[0], self.parts[-1]
        if not self.names or not message.startswith(first) or not message.endswith(last):
            return None
        end = len(message) - len(last)
        position = len(first)
        values: dict[str, str] = {}
        for index, name in enumerate(self.names):
            if index == len(self.names) - 1:
                found, following = end, last
            else:
                following = self.parts[index + 1]
                found = message.find(following, position + 1, end)
            if found <= position:  # not there, or an empty value
                return None
            value = message[position:found]
            if values.setdefault(name, value) != value:
                return None
            position = found + len(following)
        return values

    @staticmethod
    def fill(translation: str, values: Mapping[str, str]) -> str:
        """Placeholders replaced by the message's values (an unknown one is left as written)."""
        return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), translation)


def has_placeholders(text: str) -> bool:
    return PLACEHOLDER_RE.search(text) is not None


#: (worker class, language) -> its templates, compiled once per process.
_compiled: dict[tuple[type[BaseWorker], str], tuple[Template, ...]] = {}


def _templates(cls: type[BaseWorker], language: str) -> tuple[Template, ...]:
    """Declared templates and the dict's keys with placeholders, most fixed text first."""
    key = (cls, language)
    if key not in _compiled:
        _compiled[key] = _compile_templates(cls, language)
    return _compiled[key]


def _compile_templates(cls: type[BaseWorker], language: str) -> tuple[Template, ...]:
    texts: list[str] = [t for t in cls.message_templates or () if isinstance(t, str) and has_placeholders(t)]
    table = cls.translations.get(language) if isinstance(cls.translations, Mapping) else None
    if isinstance(table, Mapping):
        texts += [key for key in table if isinstance(key, str) and has_placeholders(key) and key not in texts]
    compiled = [Template.compile(text) for text in dict.fromkeys(texts)]
    return tuple(sorted(compiled, key=lambda t: -t.fixed))


def declaration_problem(cls: type[BaseWorker]) -> str | None:
    """Why the translation attributes break the plugin contract (for discovery), or ``None``."""
    table = cls.translations
    if not isinstance(table, Mapping):
        return "translations must be a dict: locale -> {English text: translation}"
    for language, texts in table.items():
        if not isinstance(language, str) or candidates(language)[:1] != [language]:
            return f"translations: {language!r} is not a locale written as 'de' or 'pt_BR'"
        if not isinstance(texts, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in texts.items()
        ):
            return f"translations[{language!r}] must map English text to translated text (strings)"
        for source, translated in texts.items():
            wanted = set(PLACEHOLDER_RE.findall(source))
            if set(PLACEHOLDER_RE.findall(translated)) != wanted:
                return f"translations[{language!r}][{source!r}] must use the placeholders {sorted(wanted)}"
    domain = cls.translation_domain
    if domain is not None and (not isinstance(domain, str) or not DOMAIN_RE.fullmatch(domain)):
        return "translation_domain must be a gettext domain name (letters, digits, '_', '.', '-') or None"
    if cls.translation_dir is not None and not isinstance(cls.translation_dir, (str, os.PathLike)):
        return "translation_dir must be a folder path or None"
    templates = cls.message_templates
    if not isinstance(templates, (tuple, list)) or not all(isinstance(t, str) for t in templates):
        return "message_templates must be a tuple of strings"
    return None
