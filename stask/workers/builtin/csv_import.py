"""Import an uploaded CSV file: check every row, report every bad cell, keep the good rows.

stask cannot know the host's tables, so the built-in importer validates: each row is checked
against the declared columns (:mod:`.csv_columns`); a valid row goes to :meth:`import_row`
(which does nothing here) and then, normalised, to a second result file; each refused cell
becomes a line of the error report (line, column, value, reason), the task's result file. A
plugin stores the rows by subclassing it::

    class CustomerImport(CsvImportWorker):
        identifier = "customer_import"
        title = "Customer import"

        def import_row(self, row):               # typed values: int, float, date, str or None
            db.session.add(Customer(**row))      # raise RowRejected("why") to report the row

        def finish_import(self, rows, invalid):  # every row read (not when the file broke off)
            db.session.commit()

The file is read as a stream (one row in memory), as UTF-8 with or without a byte order mark;
bytes that are not UTF-8 make their row invalid, not the task. Progress counts rows against the
file's line count (one pass over the bytes first, about a second per gigabyte), so it only
rises and ends at 100.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any, ClassVar

from ...exceptions import StaskError
from ...service import current_stask
from ...storage import resolve_inside
from ..base import BaseWorker
from ..fields import Field, FieldError
from . import csv_columns
from .csv_import_texts import TRANSLATIONS

#: The delimiter setting's choices: a character, or "auto" (sniffed from the file's start).
DELIMITERS = {"auto": None, ",": ",", ";": ";", "tab": "\t", "|": "|"}
#: Bytes of the file's start the delimiter is sniffed from.
SNIFF_BYTES = 64 * 1024
#: Longest value the report repeats (a huge cell is cut, marked with an ellipsis).
REPORT_VALUE_CHARS = 200
REPORT_COLUMNS = ["line", "column", "value", "reason"]
#: Task messages, formatted with ``str.format`` (the keys of their translations).
SUMMARY = "{rows} rows: {valid} valid, {invalid} invalid"
PROGRESS = "{invalid} invalid so far"
EMPTY = "the file is empty: it needs a header line with the column names"


class RowRejected(ValueError):
    """Raised by :meth:`CsvImportWorker.import_row` to report a row instead of importing it."""


class CsvImportWorker(BaseWorker):
    identifier = "csv_import"
    scope = "data"
    icon = "upload"
    title = "CSV import"
    description = "Check an uploaded CSV file row by row: download the rows that passed and a report of every error."
    accepts_upload = True
    max_attempts = 1
    settings_fields = {
        "required_columns": Field(
            type="str",
            default="",
            max_length=2000,
            label="Required columns",
            help="Comma-separated names the header must have and every row must fill, such as id, email.",
        ),
        "column_types": Field(
            type="str",
            default="",
            max_length=2000,
            pattern=csv_columns.TYPES_PATTERN,
            label="Column types",
            help="Comma-separated column:type pairs, such as age:int, born:date. "
            "Types: str, int, float, date (YYYY-MM-DD), email. Other columns are text.",
        ),
        "delimiter": Field(
            type="choice",
            choices=(("auto", "Detect"), (",", "Comma"), (";", "Semicolon"), ("tab", "Tab"), ("|", "Vertical bar")),
            default="auto",
            label="Delimiter",
        ),
        "upload_max_mb": Field(
            type="float",
            default=512.0,
            min=0.001,
            max=100_000.0,
            label="Largest upload (MB)",
            help="Larger files than one request may carry are sent in chunks.",
        ),
        "upload_extensions": Field(
            type="str",
            default="csv, txt",
            max_length=200,
            pattern="[a-z0-9]{1,10}(?:, ?[a-z0-9]{1,10})*",
            label="File extensions",
            help="Comma-separated, such as csv, txt.",
        ),
    }
    action_fields = {
        "import": {
            "file": Field(
                type="file",
                required=True,
                label="CSV file",
                help="Choose a file to upload it (a large one goes in pieces), or pick one uploaded before.",
            ),
            "required_columns": Field(
                type="str",
                default="",
                max_length=2000,
                label="Required columns",
                help="Blank: the worker's setting.",
            ),
            "column_types": Field(
                type="str",
                default="",
                max_length=2000,
                pattern=csv_columns.TYPES_PATTERN,
                label="Column types",
                help="Blank: the worker's setting.",
            ),
        }
    }
    translations = TRANSLATIONS
    #: Rows between two progress reports.
    progress_every: ClassVar[int] = 1000

    def import_row(self, row: dict[str, Any]) -> None:
        """Store one valid row (column -> typed value); raise :class:`RowRejected` to report it instead.

        The built-in stores nothing: the normalised file of valid rows is its import.
        """

    def finish_import(self, rows: int, invalid: int) -> None:
        """Called once every row has been read, never when the file broke off: commit here."""

    def task_import(self, task: Any, options: dict[str, Any]) -> None:
        try:
            path = self.uploaded_file(options.get("file"), task.id)
            required = csv_columns.names(self._option(options, "required_columns"))
            typed = csv_columns.types(self._option(options, "column_types"))
        except (ValueError, StaskError) as exc:
            self.mark_failed(str(exc))
            return
        delimiter = DELIMITERS.get(self.settings["delimiter"]) or sniff(path)
        expected = max(0, count_lines(path) - 1)  # rows, at most: a quoted cell may span lines
        report_path = self.result_path(f"errors-{task.id}.csv")
        valid_path = self.result_path(f"valid-{task.id}.csv")
        with (
            path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as source,
            report_path.open("w", encoding="utf-8", errors="backslashreplace", newline="") as report_file,
            valid_path.open("w", encoding="utf-8", newline="") as valid_file,
        ):
            report = csv.writer(report_file)
            report.writerow(REPORT_COLUMNS)
            outcome = self._read(source, delimiter, required, typed, expected, report, csv.writer(valid_file))
        if isinstance(outcome, str):
            self.mark_failed(outcome)
            return
        rows, invalid = outcome
        self.finish_import(rows, invalid)
        summary = SUMMARY.format(rows=f"{rows:,}", valid=f"{rows - invalid:,}", invalid=f"{invalid:,}")
        self.push_progress(100, summary, processed=rows, total=rows)
        self.mark_finished(summary, result=report_path)

    def _read(
        self,
        source: IO[str],
        delimiter: str,
        required: list[str],
        typed: dict[str, str],
        expected: int,
        report: Any,
        valid: Any,
    ) -> tuple[int, int] | str:
        """``(rows, invalid rows)``, or why the file cannot be imported at all."""
        reader = csv.reader(source, delimiter=delimiter)
        try:
            header = next(reader, None)
            if header is None:
                return EMPTY
            columns = csv_columns.columns([name.strip() for name in header], required, typed)
        except (ValueError, csv.Error) as exc:  # csv.Error is no ValueError
            return f"line 1: {exc}"
        valid.writerow([column.name for column in columns])
        rows = invalid = 0
        line = reader.line_num
        self.push_progress(0, None, processed=0, total=expected)
        while True:
            start = line + 1
            try:
                record = next(reader, None)
            except csv.Error as exc:  # a cell past csv.field_size_limit(), a NUL byte: no row can follow
                return f"line {start}: {exc}"
            if record is None:
                return rows, invalid
            line = reader.line_num
            if not record:  # a blank line
                continue
            rows += 1
            problems = self._check(record, columns, valid)
            if problems:
                invalid += 1
                report.writerows([start, name, shown(value), reason] for name, value, reason in problems)
            if rows % self.progress_every == 0:
                message = PROGRESS.format(invalid=f"{invalid:,}")
                self.push_progress(None, message, processed=rows, total=max(expected, rows))

    def _check(self, record: list[str], columns: list[csv_columns.Column], valid: Any) -> list[tuple[str, str, str]]:
        """The row's problems as (column, value, reason); a valid row is imported and written."""
        if len(record) != len(columns):
            return [("", "", f"has {len(record)} values, the header has {len(columns)} columns")]
        row: dict[str, Any] = {}
        problems = []
        for column, raw in zip(columns, record, strict=True):  # same length: checked above
            try:
                row[column.name] = column.check(raw)
            except csv_columns.CellError as exc:
                problems.append((column.name, raw, str(exc)))
        if problems:
            return problems
        try:
            self.import_row(row)
        except RowRejected as exc:
            return [("", "", str(exc))]
        valid.writerow([csv_columns.normalised(value) for value in row.values()])
        return []

    def _option(self, options: dict[str, Any], name: str) -> str:
        """A run option, or the setting when the option is blank; it must pass the setting's field."""
        value = options.get(name)
        if value is None or value == "":
            return str(self.settings[name])
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text")
        try:
            return str(self.setting_fields()[name].validate(value))
        except FieldError as exc:
            raise ValueError(f"{name} {exc}") from None

    def uploaded_file(self, name: Any, task_id: int) -> Path:
        """The file named ``name`` uploaded for this worker, else for this task; never outside them."""
        if not isinstance(name, str) or not name:
            raise ValueError("data must name the uploaded file: {'file': '<name>'}")
        storage = current_stask().runtime.storage
        for folder in (storage.worker_upload_dir(self.identifier), storage.task_upload_dir(task_id)):
            path = resolve_inside(folder, name)
            if path.is_file():
                return path
        raise ValueError(f"no uploaded file {name!r}: upload it again")


def count_lines(path: Path) -> int:
    """Lines in the file (a last line without a line break counts), read in 1 MiB blocks."""
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def sniff(path: Path) -> str:
    """The delimiter the file's start suggests (comma, semicolon, tab or bar); comma when unsure."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        sample = handle.read(SNIFF_BYTES)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def shown(value: str) -> str:
    """A value as the report repeats it: at most :data:`REPORT_VALUE_CHARS` characters."""
    return value if len(value) <= REPORT_VALUE_CHARS else value[:REPORT_VALUE_CHARS] + "…"
