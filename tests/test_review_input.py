"""Bad input reaching the engine ends as a StaskError on every database, never a driver error.

Each case here used to escape as a ValueError, OverflowError or a database error (HTTP 500
behind the API): Unicode digits that ``str.isdigit`` accepts but ``int()`` refuses, numbers
past what a column holds, a NUL byte PostgreSQL refuses, a lone surrogate MariaDB refuses.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from stask.exceptions import InvalidInput, TaskNotFound, UnknownWorker
from stask.models import Task


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, " 12x"])
def test_max_attempts_written_oddly_is_invalid_input(stask: Any, value: str) -> None:
    with pytest.raises(InvalidInput):
        stask.create("echo", "say", max_attempts=value)
    assert stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_max_attempts_as_digits_still_works(stask: Any) -> None:
    assert stask.create("echo", "say", max_attempts=" 7 ").max_attempts == 7


@pytest.mark.parametrize("task_id", [2**63, 10**30, 0, -1, "0"])
def test_task_ids_no_row_can_have_are_not_found(stask: Any, task_id: Any) -> None:
    with pytest.raises(TaskNotFound):
        stask.get_task(task_id)


@pytest.mark.parametrize("task_id", ["²", "1.5", "", "9" * 5000, "99999999999999999999999"])
def test_task_ids_that_are_no_number_are_invalid(stask: Any, task_id: Any) -> None:
    with pytest.raises(InvalidInput):
        stask.get_task(task_id)


def test_task_id_as_a_digit_string_is_found(stask: Any) -> None:
    task = stask.create("echo", "say")
    assert stask.get_task(str(task.id)).id == task.id


@pytest.mark.parametrize("identifier", ["ec\x00ho", "\x00", "Echo", "echo\n"])
def test_worker_names_no_worker_can_have_are_unknown(stask: Any, identifier: str) -> None:
    with pytest.raises(UnknownWorker):
        stask.get_worker(identifier)
    with pytest.raises(UnknownWorker):
        stask.activate_worker(identifier)
    with pytest.raises(UnknownWorker):
        stask.create(identifier, "say")
    assert stask.resolve_worker(identifier) is None


def test_user_id_beyond_the_column_is_invalid_input(stask: Any) -> None:
    with pytest.raises(InvalidInput):
        stask.create("echo", "say", user_id=2**31)
    assert stask.create("echo", "say", user_id=2**31 - 1).user_id == 2**31 - 1


@pytest.mark.parametrize("data", [{"text": "\ud800"}, {"\udfff": 1}, {"a": ["ok", "x\udc00y"]}])
def test_lone_surrogates_in_data_are_invalid_input(stask: Any, data: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        stask.create("echo", "say", data=data)
    assert stask.db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_astral_characters_in_data_are_kept(stask: Any) -> None:
    task = stask.create("echo", "say", data={"text": "😀 ok"})
    stask.db.session.expire_all()
    assert stask.get_task(task.id).data == {"text": "😀 ok"}
