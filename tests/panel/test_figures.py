"""Figures with units that scale (ms → sec → min → hr, B → KB → MB → GB), in the reader's language."""

from __future__ import annotations

import pytest

from stask.web.figures import (
    DURATION_MS,
    NBSP,
    SIZE_BYTES,
    _quantity,
    number,
    percent,
    pick_unit,
    quantities,
    quantity,
    unit_symbol,
)
from stask.web.panel_format import fmt_kb

MB = 1024**2


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0.22, "0.2 ms"),
        (650, "650 ms"),
        (5575, "5.6 sec"),  # "5575 ms" on the old page
        (59_990, "1 min"),  # rounded first: never "60 sec"
        (90_000, "1.5 min"),
        (5.2 * 3_600_000, "5.2 hr"),
        (None, "—"),
    ],
)
def test_durations_scale_from_milliseconds(ms: float | None, text: str) -> None:
    assert quantity(ms, DURATION_MS, locale="en") == text.replace(" ", NBSP)


@pytest.mark.parametrize(
    ("size", "text"),
    [(512, "512 byte"), (312 * MB, "312 MB"), (78289 * MB, "76.5 GB"), (1023.96 * 1024, "1 MB"), (3 * 1024**4, "3 TB")],
)
def test_sizes_scale_from_bytes(size: float, text: str) -> None:
    assert quantity(size, SIZE_BYTES, locale="en") == text.replace(" ", NBSP)


def test_memory_in_kilobytes_reads_in_the_unit_that_fits() -> None:
    assert fmt_kb(80_000) == f"78.1{NBSP}MB" and fmt_kb(None) == "—"


def test_every_language_spells_its_units_and_a_figure_never_breaks() -> None:
    assert quantity(5575, DURATION_MS, locale="uk") == f"5,6{NBSP}с"
    assert quantity(78289 * MB, SIZE_BYTES, locale="uk") == f"76,5{NBSP}ГБ"
    for locale in ("en", "uk", "fr", "de", "pl", "ru"):
        for value, units in ((5575, DURATION_MS), (78289 * MB, SIZE_BYTES), (1_234_567, DURATION_MS)):
            assert " " not in quantity(value, units, locale=locale), locale  # only no-break spaces


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (998, "duration-millisecond"),
        (999.6, "duration-second"),
        (1000, "duration-second"),
        (59_940, "duration-second"),
        (3_600_000, "duration-hour"),
    ],
)
def test_the_unit_is_the_largest_one_the_rounded_figure_fills(value: float, unit: str) -> None:
    assert pick_unit(value, DURATION_MS)[0] == unit


def test_figures_side_by_side_share_a_unit_when_they_can() -> None:
    assert quantities([380, 650, 680], DURATION_MS, locale="en") == f"380 / 650 / 680{NBSP}ms"
    assert quantities([2700, 6600, 8900], DURATION_MS, locale="en") == f"2.7 / 6.6 / 8.9{NBSP}sec"
    assert quantities([20, 2300], DURATION_MS, locale="en") == f"20{NBSP}ms / 2.3{NBSP}sec"
    assert quantities([None, None], DURATION_MS, locale="en") == "—"


def test_percentages_and_unit_names_follow_the_locale() -> None:
    assert percent(0.0623, locale="en") == "6.2%" and percent(0.0623, locale="uk") == "6,2%"
    assert percent(0.0623, locale="fr") == f"6,2{NBSP}%" and percent(None) == "—"
    assert unit_symbol("duration-second", "en") == "sec" and unit_symbol("digital-megabyte", "uk") == "МБ"


def test_kept_figures_stay_per_value_unit_and_language() -> None:
    """Formatted figures are kept (Babel parses its patterns at every call), each under its own
    value, units and language."""
    assert quantity(5575, DURATION_MS, locale="en") == f"5.6{NBSP}sec"
    assert quantity(5575, DURATION_MS, locale="uk") == f"5,6{NBSP}с"
    assert quantity(5575, SIZE_BYTES, locale="en") == f"5.4{NBSP}kB"
    assert quantity(5574, DURATION_MS, locale="en") == f"5.6{NBSP}sec"
    assert quantity(4000, DURATION_MS, locale="en") == f"4{NBSP}sec"
    assert number(0.5, 1, locale="en") == "0.5" and number(0.5, 1, locale="uk") == "0,5"
    assert number(0.5, 0, locale="en") == "0"
    hits = _quantity.cache_info().hits
    assert quantity(5575, DURATION_MS, locale="uk") == f"5,6{NBSP}с"
    assert _quantity.cache_info().hits == hits + 1
