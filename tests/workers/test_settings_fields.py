"""Typed fields: one declaration checks settings (API, service, panel) and run forms alike."""

from __future__ import annotations

from typing import Any

import pytest

from stask import BaseWorker
from stask.workers.base import ICON_RE, IDENTIFIER_RE
from stask.workers.builtin.csv_export import CsvExportWorker
from stask.workers.builtin.maintenance import MaintenanceWorker
from stask.workers.discovery import validate_worker_class
from stask.workers.fields import INT_LIMIT, Field, FieldError, effective, field_from_default
from stask.workers.registry import WorkerDefinition


def code_of(spec: Field, value: Any) -> str:
    with pytest.raises(FieldError) as caught:
        spec.validate(value)
    return caught.value.code


@pytest.mark.parametrize("value", [True, 1.0, "5", None, [1]])
def test_int_fields_take_json_integers_only(value: Any) -> None:
    assert code_of(Field(type="int", default=1), value) == "integer"


def test_int_fields_are_always_bounded() -> None:
    derived = Field(type="int", default=1)
    assert derived.validate(INT_LIMIT) == INT_LIMIT
    assert code_of(derived, INT_LIMIT + 1) == "max"
    assert code_of(derived, -INT_LIMIT - 1) == "min"
    declared = Field(type="int", default=5, min=1, max=10)
    assert declared.validate(10) == 10 and declared.validate(1) == 1
    assert code_of(declared, 11) == "max" and code_of(declared, 0) == "min"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 10**400, "0.5", False])
def test_float_fields_take_finite_numbers_only(value: Any) -> None:
    assert code_of(Field(type="float", default=0.5), value) == "number"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("a\ud800b", "surrogate"),
        ("\udfff", "surrogate"),
        ("a\x00", "control"),
        ("a\nb", "control"),
        ("\x85", "control"),
    ],
)
def test_strings_refuse_lone_surrogates_and_control_characters(value: str, code: str) -> None:
    assert code_of(Field(type="str", default=""), value) == code


def test_text_keeps_tabs_and_line_ends_and_lengths_are_bounded() -> None:
    text = Field(type="text", default="")
    assert text.validate("a\tb\r\nc") == "a\tb\r\nc"
    assert code_of(text, "a\x07") == "control"
    assert code_of(Field(type="str", default=""), "x" * 10_001) == "max_length"
    assert code_of(Field(type="str", default="", max_length=3), "abcd") == "max_length"
    assert "😀" == Field(type="str", default="").validate("😀")  # a real astral character is no surrogate


@pytest.mark.parametrize("raw", ["1_000", "١٢", "1e3", "12.0", " ", "0x10"])
def test_form_text_for_integers_is_ascii_digits(raw: str) -> None:
    with pytest.raises(FieldError):
        Field(type="int", default=1).parse(raw)


def test_form_text_is_converted_then_checked() -> None:
    assert Field(type="int", default=1).parse(" 42 ") == 42
    assert Field(type="float", default=1.0).parse("2.5") == 2.5
    assert Field(type="json", default=[]).parse('["x"]') == ["x"]
    with pytest.raises(FieldError, match="must be at most 100000"):
        Field(type="int", default=1, max=100_000).parse("100001")
    with pytest.raises(FieldError) as caught:
        Field(type="json", default=[]).parse('{"a": 1}')
    assert caught.value.code == "json_kind"


def test_declarations_as_dicts_and_their_mistakes() -> None:
    class Declared(BaseWorker):
        identifier = "declared"
        settings_fields = {"size": {"type": "int", "default": 3, "min": 1, "max": 9, "label": "Size"}}

        def task_go(self, task: Any, options: dict[str, Any]) -> None: ...

    assert Declared.default_settings == {"size": 3}  # derived from settings_fields
    assert Declared.setting_fields()["size"] == Field(type="int", default=3, min=1, max=9, label="Size")
    assert validate_worker_class(Declared) is None
    for bad in (
        {"size": {"type": "int", "default": 30, "max": 9}},  # a default its own field refuses
        {"size": {"type": "number", "default": 3}},
        {"size": {"type": "int", "default": 3, "colour": "red"}},
        {"size": {"type": "file"}},
        {"size": {"type": "int", "default": 3, "min": 5, "max": 1}},
    ):
        broken = type("Broken", (Declared,), {"settings_fields": bad})
        assert "invalid field declaration" in (validate_worker_class(broken) or ""), bad
    action = type("BadAction", (Declared,), {"action_fields": {"go": {"n": {"type": "choice"}}}})
    assert "invalid field declaration" in (validate_worker_class(action) or "")


def test_default_settings_alone_give_typed_fields() -> None:
    assert field_from_default(True).type == "bool"
    assert field_from_default(3).type == "int" and field_from_default(3).bounds == (-INT_LIMIT, INT_LIMIT)
    assert field_from_default(0.5).type == "float"
    assert field_from_default(["a"]).type == "json" and field_from_default("x").type == "str"


def test_builtin_workers_declare_bounded_settings() -> None:
    fields = CsvExportWorker.setting_fields()
    assert fields["batch_size"].validate(100_000) == 100_000
    for value in (0, -3, 100_001, 3_000_000_000):
        with pytest.raises(FieldError):
            fields["batch_size"].validate(value)
    assert fields["delimiter"].validate(";") == ";" and fields["delimiter"].validate("\t") == "\t"
    for value in ("", ",,", '"', "\n", "\x00"):
        with pytest.raises(FieldError):
            fields["delimiter"].validate(value)
    assert fields["batch_size"].label and fields["batch_size"].help
    assert CsvExportWorker.default_settings == {"batch_size": 500, "delimiter": ","}
    days = MaintenanceWorker.setting_fields()["days"]
    assert days.validate(0) == 0
    with pytest.raises(FieldError):
        days.validate(-1)
    with pytest.raises(FieldError):
        days.validate(10**9)


def test_stale_stored_values_give_the_default_to_task_code() -> None:
    stored = {"batch_size": 3_000_000_000, "delimiter": "", "removed": 1}
    values, invalid = effective(CsvExportWorker.setting_fields(), stored)
    assert values == {"batch_size": 500, "delimiter": ","}
    assert set(invalid) == {"batch_size", "delimiter", "removed"}
    definition = WorkerDefinition("csv_export", CsvExportWorker.class_path(), True, stored)
    assert definition.settings() == {"batch_size": 500, "delimiter": ","}
    fine = WorkerDefinition("csv_export", CsvExportWorker.class_path(), True, {"batch_size": 7})
    assert fine.settings() == {"batch_size": 7, "delimiter": ","}


@pytest.mark.parametrize("name", ["echo\n", "echo\r\n", "Echo", "", "a" * 65])
def test_identifiers_are_matched_in_full(name: str) -> None:
    assert IDENTIFIER_RE.fullmatch(name) is None and IDENTIFIER_RE.match(name) is None
    worker = type("Named", (BaseWorker,), {"identifier": name, "task_go": lambda self, task, options: None})
    assert validate_worker_class(worker) is not None


def test_icons_are_matched_in_full() -> None:
    assert ICON_RE.match("gear\n") is None
    worker = type("Iconic", (BaseWorker,), {"identifier": "iconic", "icon": "gear\n", "task_go": lambda s, t, o: None})
    assert "icon" in (validate_worker_class(worker) or "")
