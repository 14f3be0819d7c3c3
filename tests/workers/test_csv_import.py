"""The built-in CSV importer, run by a real worker: row checks, the error report, the valid rows,
progress, and a plugin that stores rows by subclassing it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from stask import Status
from stask.exceptions import InvalidInput
from stask.workers.builtin import csv_columns
from stask.workers.builtin.csv_import import EMPTY, CsvImportWorker
from stask.workers.fields import FieldError
from tests.support.apps import TEST_WORKERS, redis_of, run_worker
from tests.support.import_plugins import FINISHED_KEY, PROGRESS_KEY, ROWS_KEY
from tests.support.tasks import fresh

pytestmark = pytest.mark.app_config(STASK_WORKERS=TEST_WORKERS + ",tests.support.import_plugins:StoringImport")

PEOPLE = (
    "id,name,email,born,score\n"
    "1,Ada,ada@example.org,1815-12-10,9.5\n"
    '2,"Grace ""Amazing"" Hopper",grace@example.org,1906-12-09,+10\n'
    "3, Linus ,linus@example.org,,007\n"
)


def put(stask: Any, content: bytes | str, name: str = "people.csv", identifier: str = "csv_import") -> str:
    """A file as an upload for the worker leaves it (the upload API has its own tests)."""
    folder = stask.runtime.storage.worker_upload_dir(identifier)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return name


def run_import(app: Flask, stask: Any, identifier: str = "csv_import", **data: Any) -> Any:
    task = stask.create(identifier, "import", data=data)
    run_worker(app)
    return fresh(stask, task.id)


def result_rows(stask: Any, row: Any, name: str | None = None) -> list[list[str]]:
    path = stask.runtime.storage.result_file(row.id, name or row.result)
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def declare(stask: Any, **settings: Any) -> None:
    stask.update_worker_settings("csv_import", settings)


def test_a_valid_file_gives_an_empty_report_and_normalised_rows(app: Flask, stask: Any) -> None:
    declare(stask, required_columns="id, email", column_types="id:int, email:email, born:date, score:float")
    row = run_import(app, stask, file=put(stask, PEOPLE))
    assert (row.status, row.message, row.progress) == (Status.FINISHED, "3 rows: 3 valid, 0 invalid", 100)
    assert row.result == f"errors-{row.id}.csv"
    assert result_rows(stask, row) == [["line", "column", "value", "reason"]]
    assert result_rows(stask, row, f"valid-{row.id}.csv") == [
        ["id", "name", "email", "born", "score"],
        ["1", "Ada", "ada@example.org", "1815-12-10", "9.5"],
        ["2", 'Grace "Amazing" Hopper', "grace@example.org", "1906-12-09", "10.0"],
        ["3", "Linus", "linus@example.org", "", "7.0"],
    ]


def test_each_bad_cell_is_a_report_line_with_its_line_number(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    declare(stask, required_columns="id, email", column_types="id:int, email:email, born:date, score:float")
    content = (
        "id,name,email,born,score\n"
        "1,Ada,ada@example.org,1815-12-10,9.5\n"
        'x,"two\nlines",not-an-email,2026-02-30,1\n'  # one record over lines 3 and 4
        "3,Bob,,1990-01-01,1e400\n"
        "\n"
        "4,Too,many,values,here,really\n"
        "5,Eve,eve@example.org,31.12.1990,2\n"
    )
    row = run_import(sqlite_app, stask, file=put(stask, content))
    assert (row.status, row.message) == (Status.FINISHED, "5 rows: 1 valid, 4 invalid")
    assert result_rows(stask, row)[1:] == [
        ["3", "id", "x", "must be a whole number"],
        ["3", "email", "not-an-email", "must be an e-mail address"],
        ["3", "born", "2026-02-30", "is not a date in the calendar"],
        ["5", "email", "", "is required"],
        ["5", "score", "1e400", "must be a finite number"],
        ["7", "", "", "has 6 values, the header has 5 columns"],
        ["8", "born", "31.12.1990", "must be a date such as 2026-01-31"],
    ]
    assert [r[0] for r in result_rows(stask, row, f"valid-{row.id}.csv")] == ["id", "1"]


def test_run_options_override_the_settings(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    declare(stask, required_columns="nickname")  # the file has no such column: the option replaces it
    row = run_import(sqlite_app, stask, file=put(stask, PEOPLE), required_columns="id", column_types="score:int")
    assert (row.status, row.message) == (Status.FINISHED, "3 rows: 2 valid, 1 invalid")
    assert result_rows(stask, row)[1:] == [["2", "score", "9.5", "must be a whole number"]]


def test_a_byte_order_mark_is_not_part_of_the_first_column(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    declare(stask, required_columns="id", column_types="id:int")
    row = run_import(sqlite_app, stask, file=put(stask, "\ufeffid;name\r\n1;Ada\r\n2;Bob\r\n".encode()))
    assert (row.status, row.message) == (Status.FINISHED, "2 rows: 2 valid, 0 invalid")
    assert result_rows(stask, row, f"valid-{row.id}.csv") == [["id", "name"], ["1", "Ada"], ["2", "Bob"]]


def test_bytes_that_are_not_utf8_make_their_row_invalid_not_the_task(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    row = run_import(sqlite_app, stask, file=put(stask, b"id,name\n1,Ada\n2,Bj\xf6rk\n3,Bob\n"))
    assert (row.status, row.message) == (Status.FINISHED, "3 rows: 2 valid, 1 invalid")
    assert result_rows(stask, row)[1:] == [["3", "name", "Bj\\udcf6rk", "is not valid UTF-8 text"]]


def test_the_delimiter_comes_from_the_setting_or_the_file(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    sniffed = run_import(sqlite_app, stask, file=put(stask, "a|b\n1|2\n3|4\n", "bars.csv"))
    assert result_rows(stask, sniffed, f"valid-{sniffed.id}.csv") == [["a", "b"], ["1", "2"], ["3", "4"]]
    declare(stask, delimiter="tab")
    tabbed = run_import(sqlite_app, stask, file=put(stask, "a\tb,c\n1\t2,3\n", "tabs.txt"))
    assert result_rows(stask, tabbed, f"valid-{tabbed.id}.csv") == [["a", "b,c"], ["1", "2,3"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", EMPTY),
        (b"\xef\xbb\xbf", EMPTY),
        (b"id,email\n1,a@b.c\n", "line 1: the header lacks the required column(s) name"),
        (b"id,name,id\n", "line 1: column 'id' appears twice in the header"),
        (b"id,,name\n", "line 1: column 2 of the header has no name"),
        (b'id,name\n1,"x' + b"y" * 140_000 + b'"\n', "field larger than field limit"),
    ],
)
def test_a_file_that_cannot_be_imported_fails_the_task(sqlite_app: Flask, content: bytes, message: str) -> None:
    stask = sqlite_app.extensions["stask"]
    declare(stask, required_columns="name")
    row = run_import(sqlite_app, stask, file=put(stask, content))
    assert row.status == Status.FAILED and message in row.message


def test_a_header_alone_is_an_import_of_nothing(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    row = run_import(sqlite_app, stask, file=put(stask, "id,name\n"))
    assert (row.status, row.message) == (Status.FINISHED, "0 rows: 0 valid, 0 invalid")
    assert result_rows(stask, row) == [["line", "column", "value", "reason"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "data must name the uploaded file"),
        ({"file": "absent.csv"}, "no uploaded file 'absent.csv'"),
        ({"file": "../../../../etc/passwd"}, "leaves its folder"),
        ({"file": "/etc/passwd"}, "invalid path"),
        ({"file": "people.csv", "column_types": "age:integer"}, "column_types does not have the expected form"),
        ({"file": "people.csv", "column_types": 5}, "column_types must be text"),
    ],
)
def test_bad_run_data_fails_with_a_reason(sqlite_app: Flask, data: dict[str, Any], message: str) -> None:
    stask = sqlite_app.extensions["stask"]
    put(stask, PEOPLE)
    row = run_import(sqlite_app, stask, **data)
    assert row.status == Status.FAILED and message in row.message, row.message
    assert row.attempts == 1


def test_a_file_uploaded_for_the_task_itself_is_found(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    task = stask.create("csv_import", "import", data={"file": "own.csv"})
    folder = stask.runtime.storage.task_upload_dir(task.id)
    folder.mkdir(parents=True)
    (folder / "own.csv").write_text("a\n1\n")
    run_worker(sqlite_app)
    assert fresh(stask, task.id).message == "1 rows: 1 valid, 0 invalid"


def test_settings_refuse_column_types_of_the_wrong_form(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    for bad in ("age", "age:integer", ":int", "a:int,,b:int", "a:int,"):
        with pytest.raises(InvalidInput):
            declare(stask, column_types=bad)
    declare(stask, column_types=" age : int, born:date ")
    assert csv_columns.types(" age : int, born:date ") == {"age": "int", "born": "date"}


def test_a_plugin_stores_typed_rows_and_may_reject_one(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    stask.update_worker_settings("customer_import", {"column_types": "id:int, born:date"})
    lines = ["id,name,born"] + [f"{n},person {n},2000-01-{n:02d}" for n in range(1, 8)] + ["8,reject me,2000-01-08"]
    row = run_import(
        sqlite_app, stask, "customer_import", file=put(stask, "\n".join(lines), identifier="customer_import")
    )
    assert (row.status, row.message) == (Status.FINISHED, "8 rows: 7 valid, 1 invalid")
    stored = [json.loads(item) for item in redis_of(sqlite_app).lrange(ROWS_KEY, 0, -1)]
    assert stored[0] == {"id": 1, "name": "person 1", "born": "2000-01-01"}
    assert len(stored) == 7
    assert result_rows(stask, row)[1:] == [["9", "", "", "the host refused this customer"]]
    assert len(result_rows(stask, row, f"valid-{row.id}.csv")) == 1 + 7
    assert [json.loads(item) for item in redis_of(sqlite_app).lrange(FINISHED_KEY, 0, -1)] == [[8, 1]]


def test_a_file_that_breaks_off_is_never_finished(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    content = 'id,name\n1,Ada\n2,"' + "y" * 140_000 + '"\n3,Bob\n'
    row = run_import(sqlite_app, stask, "customer_import", file=put(stask, content, identifier="customer_import"))
    assert row.status == Status.FAILED and row.message.startswith("line 3: field larger than field limit")
    assert redis_of(sqlite_app).llen(ROWS_KEY) == 1  # the row before the break went to import_row
    assert redis_of(sqlite_app).llen(FINISHED_KEY) == 0  # but the import was never finished


def test_progress_only_rises_and_ends_at_every_row(sqlite_app: Flask) -> None:
    stask = sqlite_app.extensions["stask"]
    body = "".join(f'{n},"multi\nline {n}"\n' if n % 3 == 0 else f"{n},plain\n" for n in range(1, 12))
    row = run_import(
        sqlite_app, stask, "customer_import", file=put(stask, "id,text\n" + body, identifier="customer_import")
    )
    assert row.message == "11 rows: 11 valid, 0 invalid"
    reports = [json.loads(item) for item in redis_of(sqlite_app).lrange(PROGRESS_KEY, 0, -1)]
    processed = [p for _percent, p, _total in reports]
    assert processed == [0, 2, 4, 6, 8, 10, 11]
    assert all(p <= total for _percent, p, total in reports)
    percents = [100 * p / total if total else 0 for _percent, p, total in reports]
    assert percents == sorted(percents) and reports[-1] == [100, 11, 11]
    assert row.progress == 100


def test_column_checks_use_the_field_rules() -> None:
    age = csv_columns.Column("age", "int", required=True)
    assert age.check(" 42 ") == 42
    for raw, reason in (("", "is required"), ("4.5", "must be a whole number"), ("1" * 41, "must be a whole number")):
        with pytest.raises(csv_columns.CellError, match=reason):
            age.check(raw)
    assert csv_columns.Column("note").check("line\nbreak") == "line\nbreak"
    with pytest.raises(csv_columns.CellError, match="control characters"):
        csv_columns.Column("note").check("nul\x00byte")
    assert csv_columns.TYPES["int"] is not None and isinstance(csv_columns.TYPES["email"].pattern, str)
    with pytest.raises(FieldError):
        csv_columns.TYPES["email"].validate("two@@example.org")


def test_the_worker_declares_translations_of_every_text() -> None:
    texts = {CsvImportWorker.title, CsvImportWorker.description}
    for spec in [*CsvImportWorker.setting_fields().values(), *CsvImportWorker.form_fields("import").values()]:
        texts |= {spec.label, spec.help, *(label for _value, label in spec.choices)} - {""}
    from stask.workers.builtin import csv_import

    texts |= {csv_import.SUMMARY, csv_import.PROGRESS, csv_import.EMPTY}
    assert set(CsvImportWorker.translations) == {"de", "fr", "pl", "ru", "uk"}
    for locale, table in CsvImportWorker.translations.items():
        assert texts <= set(table), (locale, texts - set(table))
        for english in (csv_import.SUMMARY, csv_import.PROGRESS):
            placeholders = {"{rows}", "{valid}", "{invalid}"} & set(english.replace("}", "} ").split())
            assert all(p in table[english] for p in placeholders), (locale, english)


def test_report_values_are_cut(tmp_path: Path) -> None:
    from stask.workers.builtin.csv_import import REPORT_VALUE_CHARS, count_lines, shown

    assert shown("x" * 500) == "x" * REPORT_VALUE_CHARS + "…"
    (tmp_path / "a").write_bytes(b"a\nb")
    (tmp_path / "b").write_bytes(b"a\nb\n")
    (tmp_path / "c").write_bytes(b"")
    assert [count_lines(tmp_path / n) for n in "abc"] == [2, 2, 0]
