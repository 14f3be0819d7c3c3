"""Flask-Babel set-up: the panel speaks the language picked by a switch, else the browser's.

Order of choice: ``?lang=xx`` (the switch; also stored in the ``lang`` cookie), the ``lang``
cookie, the browser's ``Accept-Language``, then English. A host application that already runs
Flask-Babel keeps its own instance: stask only adds its catalogue directory to it. On a host
without Flask-Babel stask installs it, but its choice (and the ``lang`` cookie, and the
template names ``stask_languages``/``stask_lang``) applies to stask's own requests only: the
host's pages get Babel's default locale.

Recompile the catalogues after editing a ``.po`` file (no Makefile needed)::

    pybabel extract -F babel.cfg -k _l -o stask/translations/messages.pot stask
    pybabel update -i stask/translations/messages.pot -d stask/translations
    pybabel compile -d stask/translations
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, has_request_context, request
from flask_babel import Babel, get_babel

from .errors import is_stask_request

#: Where the compiled catalogues (``<lang>/LC_MESSAGES/messages.mo``) live.
TRANSLATIONS_DIR = str(Path(__file__).resolve().parent.parent / "translations")
#: Languages the panel ships, code -> name in that language (for the switch).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "uk": "Українська",
    "fr": "Français",
    "de": "Deutsch",
    "pl": "Polski",
    "ru": "Русский",
}
#: One year: the switch is a preference, not a session.
COOKIE_MAX_AGE = 365 * 24 * 3600


def available_languages() -> dict[str, str]:
    """The languages with a compiled catalogue (English always)."""
    root = Path(TRANSLATIONS_DIR)
    return {
        code: name
        for code, name in LANGUAGES.items()
        if code == "en" or (root / code / "LC_MESSAGES" / "messages.mo").is_file()
    }


def select_locale() -> str:
    """Flask-Babel's locale selector: switch, then cookie, then the browser, then English."""
    languages = available_languages()
    for candidate in (request.args.get("lang"), request.cookies.get("lang")):
        if candidate in languages:
            return candidate
    return request.accept_languages.best_match(list(languages)) or "en"


def _for_stask() -> bool:
    """Whether the current request is stask's (False outside a request, e.g. a CLI rendering a template)."""
    return has_request_context() and is_stask_request()


def _stask_locale() -> str | None:
    """The locale selector stask installs with Flask-Babel: its choice on stask's requests only."""
    if not _for_stask():
        return None  # Babel's default (BABEL_DEFAULT_LOCALE) for the host's own pages
    return select_locale()


def _remember_switch(response: Response) -> Response:
    """Keep a language picked with ``?lang=`` for the next pages (stask's requests only)."""
    if not _for_stask():
        return response
    lang = request.args.get("lang")
    if lang and lang in available_languages() and request.cookies.get("lang") != lang:
        response.set_cookie("lang", lang, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True)
    return response


def init_i18n(app: Flask) -> None:
    """Install Flask-Babel (or join the host's) and the language switch."""
    if "babel" in app.extensions:
        directories = get_babel(app).translation_directories
        if TRANSLATIONS_DIR not in directories:
            directories.append(TRANSLATIONS_DIR)
    else:
        Babel(app, locale_selector=_stask_locale, default_translation_directories=TRANSLATIONS_DIR)
    app.after_request(_remember_switch)

    @app.context_processor
    def _languages() -> dict[str, object]:
        # Only on stask pages, like auth's ``_auth_context``: the host's templates stay untouched.
        if not _for_stask():
            return {}
        return {"stask_languages": available_languages(), "stask_lang": _current_lang()}


def _current_lang() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale else "en"
