"""Figures with units that scale: durations ms → s → min → h, sizes B → KB → MB → GB → TB.

One place picks the unit and the digits, so the Performance page (its counters, tables, health
card and charts) and the task page show a figure the same way ("5.6 sec", not "5575 ms"; "76.5 GB", not "78289 MB").
Unit names come from CLDR through babel, so every language the panel speaks gets its own
("5,6 с" in Ukrainian) without a translation string. The Prometheus text stays in base units:
machines want raw numbers.

A figure never wraps: the space between number and unit is a no-break space.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import format_decimal, format_percent
from babel.units import format_unit
from flask_babel import get_locale

#: (CLDR unit, its size in the base unit), smallest first.
Units = Sequence[tuple[str, float]]
DURATION_MS: Units = (
    ("duration-millisecond", 1),
    ("duration-second", 1000),
    ("duration-minute", 60_000),
    ("duration-hour", 3_600_000),
)
#: Binary multiples, as operating systems report memory and free disk.
SIZE_BYTES: Units = (
    ("digital-byte", 1),
    ("digital-kilobyte", 1024),
    ("digital-megabyte", 1024**2),
    ("digital-gigabyte", 1024**3),
    ("digital-terabyte", 1024**4),
)
NBSP = "\u00a0"
DASH = "—"
_LEADING_NUMBER = re.compile(r"\A[\d\s\u00a0\u202f.,]+")


def locale_name() -> str:
    """The request's locale (English outside a request, e.g. in a unit test)."""
    try:
        return str(get_locale() or "en")
    except RuntimeError:
        return "en"


def decimals_for(scaled: float) -> int:
    """One decimal below 100, none above: "5.6", "76.5", "312", "1,023"."""
    return 1 if abs(scaled) < 100 else 0


def pick_unit(value: float, units: Units) -> tuple[str, float]:
    """The largest unit that ``value`` fills, moved up one when rounding would reach the next.

    998 ms stays "998 ms"; 59,990 ms reads "1 min", never "60 sec"; 1,023.96 KB reads "1 MB".
    """
    magnitude = abs(value)
    index = 0
    for position, (_name, size) in enumerate(units):
        if magnitude >= size:
            index = position
    if index + 1 < len(units):
        scaled = magnitude / units[index][1]
        if round(scaled, decimals_for(scaled)) >= units[index + 1][1] / units[index][1]:
            index += 1
    return units[index]


def unit_symbol(unit: str, locale: str | None = None) -> str:
    """The short name of a unit alone ("sec", "MB"; "с", "МБ"), for an axis caption."""
    text = format_unit(10, unit, length="short", locale=locale or locale_name())
    return _LEADING_NUMBER.sub("", text).strip() or unit


def number(value: float, decimals: int = 0, locale: str | None = None) -> str:
    """A bare localised number with at most ``decimals`` decimals ("0.5"; "0,5" in Ukrainian)."""
    return _number(value, decimals, locale or locale_name())


#: Formatted figures kept per (value, unit, locale): Babel parses its number and unit patterns at
#: every call, and the Performance page writes a few hundred figures, mostly the same at each refresh.
FORMATTED_KEPT = 4096


@lru_cache(maxsize=FORMATTED_KEPT)
def _number(value: float, decimals: int, locale: str) -> str:
    pattern = "#,##0" + ("." + "#" * decimals if decimals > 0 else "")
    return str(format_decimal(value, format=pattern, locale=locale))


def percent(ratio: Any, decimals: int = 1, locale: str | None = None) -> str:
    """A ratio (0.062) as the locale writes a percentage ("6.2%"; "6,2 %" in French); None reads "—"."""
    if ratio is None:
        return DASH
    rounded = Decimal(str(round(float(ratio) * 100, decimals))) / 100
    text = format_percent(rounded, locale=locale or locale_name(), decimal_quantization=False)
    return str(text).replace(" ", NBSP)


def quantity(value: Any, units: Units, locale: str | None = None) -> str:
    """``value`` (in the base unit of ``units``) in the unit that reads best, e.g. "5.6 sec"."""
    if value is None:
        return DASH
    return _quantity(float(value), tuple(units), locale or locale_name())


@lru_cache(maxsize=FORMATTED_KEPT)
def _quantity(value: float, units: tuple[tuple[str, float], ...], locale: str) -> str:
    name, size = pick_unit(value, units)
    scaled = value / size
    pattern = "#,##0.#" if decimals_for(scaled) else "#,##0"
    text = format_unit(scaled, name, length="short", format=pattern, locale=locale)
    return str(text).replace(" ", NBSP)


def quantities(values: Iterable[Any], units: Units, separator: str = " / ", locale: str | None = None) -> str:
    """Several figures side by side, sharing one unit when they can: "380 / 650 / 680 ms".

    Values that read best in different units keep their own ("20 ms / 2.3 sec"). ``None`` reads "—".
    """
    items = list(values)
    present = [float(v) for v in items if v is not None]
    if not present:
        return DASH
    locale = locale or locale_name()
    picked = {pick_unit(v, units) for v in present}
    if len(picked) > 1:
        return separator.join(quantity(v, units, locale) for v in items)
    name, size = picked.pop()
    bare = [DASH if v is None else number(float(v) / size, decimals_for(float(v) / size), locale) for v in items[:-1]]
    last = items[-1]
    tail = DASH if last is None else quantity(last, [(name, size)], locale)
    return separator.join([*bare, tail])
