"""Translations: every message in stask is translated to Ukrainian, catalogues compile, the switch works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from stask.web.i18n import LANGUAGES, TRANSLATIONS_DIR
from tests.support.environment import ROOT

HOW = (
    "update the catalogues: pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output "
    "-o stask/translations/messages.pot stask && pybabel update -i stask/translations/messages.pot "
    "-d stask/translations --no-fuzzy-matching, translate, then pybabel compile -d stask/translations"
)


def key(message_id: object) -> str:
    """A message's singular form (plural ids are tuples in .po files and lists in .mo files)."""
    return message_id if isinstance(message_id, str) else str(message_id[0])  # type: ignore[index]


def source_messages(tmp_path: Path) -> set[str]:
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "stask"],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as handle:
        return {key(m.id) for m in read_po(handle) if m.id}


@pytest.mark.parametrize("code", [code for code in LANGUAGES if code != "en"])
def test_catalogue_is_valid_and_compiled(code: str) -> None:
    folder = Path(TRANSLATIONS_DIR) / code / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as handle:
        po = read_po(handle, locale=code)
    problems = [(m.id, [str(e) for e in errors]) for m, errors in po.check()]
    assert not problems, f"{code}: placeholders or plural forms differ: {problems[:5]}"
    with (folder / "messages.mo").open("rb") as handle:
        mo = read_mo(handle)
    translated = {key(m.id) for m in po if m.id and m.string and (not isinstance(m.string, tuple) or all(m.string))}
    compiled = {key(m.id) for m in mo if m.id}
    assert translated <= compiled, f"{code}: messages.mo is older than messages.po; run pybabel compile"


def test_every_message_in_stask_has_a_ukrainian_translation(tmp_path: Path) -> None:
    with (Path(TRANSLATIONS_DIR) / "uk" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        uk = {
            key(m.id)
            for m in read_po(handle, locale="uk")
            if m.id and m.string and (not isinstance(m.string, tuple) or all(m.string))
        }
    missing = sorted(source_messages(tmp_path) - uk)
    assert not missing, f"untranslated in Ukrainian: {missing[:10]} — {HOW}"
