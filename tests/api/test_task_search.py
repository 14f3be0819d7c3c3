"""The task list's search and filters at scale keep their meaning on every database (issue 14).

The search goes through a different index on each database (trigrams, FTS5, FULLTEXT) and, on
SQLite and MariaDB, first through the newest rows (``store.SEARCH_WINDOW``, made tiny here so
that both paths run); every answer must be the rows the plain condition gives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask

from stask import search_index
from stask.enums import Status
from stask.models import Base, Task, utcnow
from stask.service import search as task_search
from stask.service import store
from tests.support.api import ADMIN, AUTH_CONFIG, READONLY, create, set_row
from tests.support.queries import Statements


def listing(app: Flask, query: str) -> dict[str, Any]:
    response = app.test_client().get(f"/stask/api/tasks?{query}", headers=READONLY)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def ids(app: Flask, query: str) -> list[int]:
    return [item["id"] for item in listing(app, query)["items"]]


def search(app: Flask, text: str) -> set[int]:
    return set(ids(app, f"q={quote(text)}&per_page=200"))


@pytest.mark.parametrize("window", [0, 1000], ids=["through-the-index", "newest-rows-first"])
def test_search_matches_substrings_case_insensitively_and_escapes_wildcards(
    api_app_any: Flask, backend: str, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """The same answers through the search index (window 0) as row by row through the newest
    rows (SQLite and MariaDB; on MariaDB its words as its FULLTEXT index splits them)."""
    monkeypatch.setattr(store, "SEARCH_WINDOW", window)
    app = api_app_any
    quota = create(app)
    disk = create(app)
    other = create(app)
    city = create(app, data={"city": "Lviv", "note": "50%_off"})
    quoted = create(app, data={"name": 'O\'Brien "the" quoted'})
    kyiv = create(app, data={"city": "Київ"})
    plain = create(app, data={"note": "5000 off"})
    set_row(app, quota, status=int(Status.FAILED), message="RuntimeError: quota exceeded")
    set_row(app, disk, status=int(Status.FAILED), message="OSError: disk FULL")
    set_row(app, other, status=int(Status.FAILED), message="full of disk images")  # the words, not the text
    assert search(app, "quota") == {quota}
    assert search(app, "QUOTA Exceeded") == {quota}
    assert search(app, "disk full") == {disk}
    assert search(app, "full") == {disk, other}
    assert search(app, "lviv") == {city}
    assert search(app, "Київ") == {kyiv}
    assert search(app, "O'Brien") == {quoted}
    assert search(app, '"the" quoted') == {quoted}
    assert search(app, "50%_") == {city}
    assert search(app, "%") == {city}
    assert search(app, "%_o") == {city}
    assert search(app, "0_o") == set()
    assert search(app, "nowhere-to-be-found") == set()
    assert plain not in search(app, "50%")
    # Inside a word: a substring everywhere but on MariaDB, whose FULLTEXT index knows words.
    assert search(app, "uota") == (set() if backend == "mariadb" else {quota})
    assert search(app, "rror: quota") == (set() if backend == "mariadb" else {quota})
    # The other filters apply to the matches.
    assert search(app, "quota") & set(ids(app, "status=failed&q=quota")) == {quota}
    assert ids(app, "status=queued&q=quota") == []
    word_joined = create(app, data={"note": "over_quota"})  # "_" joins words for InnoDB
    capitals = create(app, data={"note": "qUOTA"})  # data's index is case-sensitive on MariaDB
    expected = {quota} if backend == "mariadb" else {quota, word_joined, capitals}
    assert search(app, "quota") == expected
    assert search(app, "Quota exc") == {quota}


@pytest.mark.parametrize("window", [1, 3, 100])
def test_a_search_lists_its_first_matches_on_every_page_and_counts_them_exactly(
    backend: str, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """A search lists its first SEARCH_COUNT_CAP matches (the window), newest first or oldest
    first, through the newest rows first (SQLite) or not; the pages past them are empty."""
    monkeypatch.setattr(store, "SEARCH_WINDOW", window)
    monkeypatch.setattr(store, "SEARCH_COUNT_CAP", 4)
    app = make_app(backend, discover=True, **AUTH_CONFIG)
    made = [create(app, data={"word": "needle" if k % 3 else "hay"}) for k in range(11)]
    needles = [task_id for k, task_id in enumerate(made) if k % 3]
    for order, expected in (("desc", needles[::-1]), ("asc", needles)):
        pages = []
        for page in range(1, 5):
            body = listing(app, f"q=needle&order={order}&per_page=3&page={page}")
            pages.append([item["id"] for item in body["items"]])
            assert (body["total"], body["total_capped"], body["pages"]) == (4, True, 2), (order, page)
        assert pages == [expected[:3], expected[3:4], [], []], order
    small = listing(app, "q=hay&per_page=2&page=2")
    assert [item["id"] for item in small["items"]] == [made[3], made[0]]
    assert (small["total"], small["total_capped"]) == (4, False)
    sorted_page = listing(app, "q=needle&sort=created_at&order=asc&per_page=3&page=2")
    assert [item["id"] for item in sorted_page["items"]] == needles[3:4]


def test_a_search_page_costs_two_statements_and_none_past_the_window(
    api_app_any: Flask, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of a search is its rows and the count (the rows alone when they are all there); a
    page past the window reads no row, only the count. SQLite and MariaDB first try their newest
    rows; MariaDB asks its FULLTEXT index once (the window's ids, then their rows)."""
    monkeypatch.setattr(store, "SEARCH_WINDOW", 0)
    monkeypatch.setattr(store, "SEARCH_COUNT_CAP", 5)
    app = api_app_any
    for _ in range(8):
        create(app, data={"word": "needle"})
    for page, expected in ((1, 2), (3, 1), (4, 0)):
        with Statements(app) as counted:
            body = listing(app, f"q=needle&per_page=2&page={page}")
        assert len(body["items"]) == expected and (body["total"], body["total_capped"]) == (5, True)
        selects = [s for s in counted.statements if "s_tasks" in s and s.lstrip().upper().startswith("SELECT")]
        newest_first = backend in ("sqlite", "mariadb") and page < 4  # the first page past the window reads no rows
        assert len(selects) == (2 if expected else 1) + newest_first, selects
        assert sum("MATCH (" in s for s in selects) == (backend == "mariadb"), selects


def test_filters_combined_return_exactly_the_matching_rows(api_app_any: Flask) -> None:
    app = api_app_any
    now = utcnow()
    rows: list[tuple[int, dict[str, Any]]] = []
    for k in range(24):
        identifier, action = ("flaky", "run") if k % 2 else ("echo", "say")
        priority = ("high", "normal", "low")[k % 3]
        task_id = create(app, identifier, action, priority=priority)
        status = (Status.FAILED, Status.FINISHED)[k % 4 // 2]
        created = now - timedelta(days=k % 6)
        set_row(app, task_id, status=int(status), created_at=created, message=f"row {k}")
        rows.append((task_id, {"k": k, "identifier": identifier, "priority": priority, "status": status, "c": created}))
    day_from = (now - timedelta(days=4)).date()
    day_to = (now - timedelta(days=1)).date()
    expected = [
        task_id
        for task_id, row in reversed(rows)
        if row["status"] == Status.FAILED
        and row["identifier"] == "flaky"
        and row["priority"] == "normal"
        and day_from <= row["c"].date() <= day_to
    ]
    query = f"status=failed&identifier=flaky&action=run&priority=normal&created_from={day_from}&created_to={day_to}"
    assert expected and ids(app, query) == expected
    assert ids(app, query + "&q=row") == expected
    assert ids(app, query.replace("action=run", "action=say")) == []
    by_priority = ids(app, "status=failed&sort=priority&order=asc&per_page=200")
    ranks = {task_id: row["priority"] for task_id, row in rows}
    assert [ranks[i] for i in by_priority] == sorted(ranks[i] for i in by_priority)


def test_the_panels_retry_button_counts_failed_tasks_up_to_the_cap(make_app: Callable[..., Flask]) -> None:
    app = make_app("sqlite", discover=True, **{**AUTH_CONFIG, "STASK_LIST_COUNT_CAP": 3})
    for _ in range(5):
        set_row(app, create(app), status=int(Status.FAILED))
    page = app.test_client().get("/stask/tasks", headers=ADMIN).get_data(as_text=True)
    assert "Retry all failed (3+)" in page
    filtered = app.test_client().get("/stask/tasks?status=failed&per_page=2", headers=ADMIN).get_data(as_text=True)
    assert "more than 3 tasks" in filtered


def test_create_tables_builds_the_search_index_too(tmp_path: Path) -> None:
    """Host apps without Alembic (``create_tables``) search through the same FTS5 table."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        names = set(connection.scalars(sa.text("SELECT name FROM sqlite_master")))
        assert {search_index.SQLITE_TABLE, *search_index.SQLITE_TRIGGERS} <= names
        connection.execute(sa.insert(Task).values(identifier="echo", action="say", message="quota exceeded"))
        found = connection.scalars(sa.select(Task.id).where(task_search.condition("QUOTA", "sqlite"))).all()
    engine.dispose()
    assert found == [1]


@pytest.mark.parametrize("first", [2, 5, 1000])
def test_a_search_with_filters_gives_the_same_pages_from_their_first_rows_or_the_whole_table(
    backend: str, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, first: int
) -> None:
    """PostgreSQL looks for a filtered search's window among the filters' first rows
    (``store.FILTERED_FIRST``) and falls back to the whole table when they do not hold it:
    either way every page and count is the one the plain condition gives."""
    monkeypatch.setattr(store, "FILTERED_FIRST", first)
    monkeypatch.setattr(store, "SEARCH_COUNT_CAP", 3)
    app = make_app(backend, discover=True, **AUTH_CONFIG)
    made = [create(app) for _ in range(12)]
    for k, task_id in enumerate(made):
        failed = k % 2 == 0
        set_row(
            app,
            task_id,
            status=int(Status.FAILED if failed else Status.FINISHED),
            message="OSError: disk full" if k % 4 == 0 or not failed else "ValueError: other",
        )
    disk_failed = [task_id for k, task_id in enumerate(made) if k % 4 == 0]  # 3 rows: 0, 4, 8
    for order, expected in (("desc", disk_failed[::-1]), ("asc", disk_failed)):
        pages = [ids(app, f"status=failed&q=disk%20full&order={order}&per_page=2&page={page}") for page in (1, 2, 3)]
        assert pages == [expected[:2], expected[2:3], []], (order, first)
        body = listing(app, f"status=failed&q=disk%20full&order={order}&per_page=2")
        assert (body["total"], body["total_capped"]) == (3, False)
    sorted_by_created = ids(app, "status=failed&q=disk&sort=created_at&order=asc&per_page=2&page=2")
    assert sorted_by_created == disk_failed[2:3]
    more = listing(app, "status=failed,finished&q=disk&per_page=2&page=2")  # 9 matches: the window is 3
    assert [item["id"] for item in more["items"]] == [made[8]]  # 11, 9 | 8 | (7, 5, ... past the window)
    assert (more["total"], more["total_capped"]) == (3, True)


@pytest.mark.parametrize(
    ("probe", "span", "common", "answered_by"),
    [
        (20, 0, 0.5, "probe"),  # the newest 20 rows hold 5 matches: more than the window
        (8, 20, 0.5, "trigrams"),  # 2 in the probe, so about 5 in the newest 20 ids: asked of the index
        (8, 8, 0.5, "whole table"),  # the newest 8 ids hold only 2: the planner's plan
        (8, 20, 0.1, "whole table"),  # 2 of 8 is common: the planner's plan reads few rows
    ],
    ids=["probe", "trigrams", "too-few-newest", "common"],
)
def test_a_later_search_page_gives_the_same_answers_from_the_trigram_window_or_the_whole_table(
    backend: str,
    make_app: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
    probe: int,
    span: int,
    common: float,
    answered_by: str,
) -> None:
    """PostgreSQL answers a later page of a search from a probe of the newest rows, from the
    trigram index over the newest ids (``store.SEARCH_SPAN``), or from the whole table: every
    page and count is the one the plain condition gives, whichever answered."""
    monkeypatch.setattr(store, "SEARCH_PROBE", probe)
    monkeypatch.setattr(store, "SEARCH_SPAN", span)
    monkeypatch.setattr(store, "COMMON_SHARE", common)
    monkeypatch.setattr(store, "SEARCH_COUNT_CAP", 3)
    answers: list[list[int] | None] = []
    trigram_window = store._trigram_window
    monkeypatch.setattr(store, "_trigram_window", lambda *a: answers.append(trigram_window(*a)) or answers[-1])
    app = make_app(backend, discover=True, **AUTH_CONFIG)
    made = [create(app, data={"word": "needle" if k % 4 == 0 else "hay"}) for k in range(40)]
    needles = made[::4]
    for order, expected in (("desc", needles[::-1]), ("asc", needles)):
        answers.clear()
        pages = [listing(app, f"q=needle&order={order}&per_page=2&page={page}") for page in (2, 3)]
        assert [[item["id"] for item in body["items"]] for body in pages] == [expected[2:3], []], order
        assert all((body["total"], body["total_capped"]) == (3, True) for body in pages)
        if backend == "postgresql":
            window = None if answered_by == "whole table" else expected[:4]
            assert answers == [window], order  # page 3 is past the window: no row is read
    assert ids(app, "q=needle&per_page=2") == needles[::-1][:2]  # the first page: the planner's plan


def test_the_openapi_document_declares_the_search_window(make_app: Callable[..., Flask]) -> None:
    """The window the server enforces is the one the document states, with the count's cap."""
    app = make_app("sqlite", **{**AUTH_CONFIG, "STASK_LIST_COUNT_CAP": 300})
    document = app.test_client().get("/stask/api/openapi.json", headers=READONLY).get_json()
    (q,) = [p for p in document["paths"]["/stask/api/tasks"]["get"]["parameters"] if p["name"] == "q"]
    assert "lists its first 300 matches" in q["description"] and "has no items" in q["description"]
