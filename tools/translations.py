"""Catalogue upkeep without ``pybabel update`` (which rewraps every entry): list the messages a
language lacks, and merge translations from a JSON file into the catalogues, then compile.

    python tools/translations.py missing [--lang uk]      # JSON: {lang: [msgid, ...]}
    python tools/translations.py add translations.json    # {lang: {msgid: text or [singular, plural...]}}
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "stask" / "translations"
LANGUAGES = ("de", "fr", "pl", "ru", "uk")


def source() -> Catalog:
    """The messages in stask's code and templates now (a fresh extraction)."""
    with tempfile.TemporaryDirectory() as folder:
        pot = Path(folder) / "messages.pot"
        pybabel = Path(sys.executable).with_name("pybabel")
        extract = [str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext"]
        subprocess.run([*extract, "--no-location", "-o", str(pot), "stask"], cwd=ROOT, check=True)
        with pot.open("rb") as handle:
            return read_po(handle)


def catalogue(lang: str) -> Catalog:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def _done(message: Any) -> bool:
    return bool(message.string) and (not isinstance(message.string, tuple) or all(message.string))


def missing(langs: tuple[str, ...]) -> dict[str, list[Any]]:
    wanted = [m for m in source() if m.id]
    found = {}
    for lang in langs:
        po = catalogue(lang)
        found[lang] = [m.id for m in wanted if po.get(m.id) is None or not _done(po.get(m.id))]
    return found


def add(path: Path) -> None:
    new: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    for lang, entries in new.items():
        po = catalogue(lang)
        for msgid, text in entries.items():
            key: Any = msgid
            existing = po.get(msgid)
            if existing is None and isinstance(text, list):  # a plural entry: its id is (singular, plural)
                raise SystemExit(f"{lang}: plural {msgid!r} must already be in the catalogue")
            if existing is not None:
                existing.string = tuple(text) if isinstance(text, list) else text
            else:
                po.add(key, text)
        folder = TRANSLATIONS / lang / "LC_MESSAGES"
        with (folder / "messages.po").open("wb") as handle:
            write_po(handle, po, width=76, omit_header=False)
        with (folder / "messages.mo").open("wb") as handle:
            write_mo(handle, po)
        print(f"{lang}: {len(entries)} entries merged and compiled")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("missing")
    listing.add_argument("--lang", action="append", choices=LANGUAGES)
    merging = sub.add_parser("add")
    merging.add_argument("file", type=Path)
    args = parser.parse_args()
    if args.command == "missing":
        print(json.dumps(missing(tuple(args.lang or LANGUAGES)), ensure_ascii=False, indent=1, default=list))
    else:
        add(args.file)


if __name__ == "__main__":
    main()
