"""The task list's text search (``q``): what it matches, and the index that finds it on each database.

The meaning, on every database: the text occurs, case-insensitively, in the task's message or
in its data as JSON text (JSON keeps non-ASCII escaped, ``\\u0443``, so that spelling is looked
for too). That condition is always part of the statement, so a row is returned only if it holds.

In front of it, the search index of :mod:`stask.search_index` narrows the rows to look at:

* PostgreSQL: the trigram indexes serve the ``ILIKE`` itself; nothing is added.
* SQLite: the FTS5 trigram table gives the rows containing the text (3 characters or more:
  shorter texts have no trigram and are looked for row by row).
* MariaDB: its FULLTEXT indexes know words, not substrings, so there a search finds the rows in
  which each of its words (3 characters or more, not a stopword) begins a word, and that also
  contain the whole text: ``quota`` finds "quota exceeded", ``exceed`` too, ``uota`` does not.
  A text with no such word is looked for row by row.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa

from ..models import Task
from ..search_index import SQLITE_TABLE

#: Shorter texts have no trigram (SQLite) or are not indexed as words (MariaDB's default
#: ``innodb_ft_min_token_size``).
MIN_INDEXED = 3
#: InnoDB's default full-text stopwords: a required stopword would match nothing.
MARIADB_STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this to was what when"
    " where who will with und www".split()
)
#: A word as InnoDB's full-text parser splits text: letters and digits.
_WORD = re.compile(r"[^\W_]+")
#: Where InnoDB's full-text parser starts a word: not after a letter, a digit or "_".
_WORD_START = "(?<![[:alnum:]_])"
_FTS_TABLE = sa.table(SQLITE_TABLE, sa.column("rowid"))


def candidates(text: str) -> list[str]:
    """The spellings looked for: the text, and the text as JSON escapes it (when different)."""
    escaped = json.dumps(text)[1:-1]
    return [text] if escaped == text else [text, escaped]


def substring(text: str, message: Any = Task.message, data: Any = Task.data) -> Any:
    """The search's meaning: a case-insensitive LIKE on the message and on the data as text
    (``message`` and ``data``: those columns, or the same columns of a subquery)."""
    data_text = sa.cast(data, sa.Text)
    clauses = []
    for candidate in candidates(text):
        clauses.append(message.icontains(candidate, autoescape=True))
        clauses.append(data_text.icontains(candidate, autoescape=True))
    return sa.or_(*clauses)


def sqlite_match(text: str) -> str | None:
    """An FTS5 query: each spelling as a quoted phrase (substrings, with the trigram tokenizer)."""
    if len(text) < MIN_INDEXED:
        return None
    return " OR ".join('"' + candidate.replace('"', '""') + '"' for candidate in candidates(text))


def _word_spellings(text: str) -> list[tuple[str, ...]] | None:
    """Each indexed word of ``text`` (3 characters or more, not a stopword) with the spellings
    asked for, or None (no such word).

    ``data`` is JSON, which MariaDB collates as binary: its index is case-sensitive, so each
    word is asked for as typed, in lower case, upper case and capitalised.
    """
    words = [w for w in _WORD.findall(text) if len(w) >= MIN_INDEXED and w.lower() not in MARIADB_STOPWORDS]
    spelled = [tuple(dict.fromkeys((w, w.lower(), w.upper(), w.capitalize()))) for w in dict.fromkeys(words)]
    return spelled or None


def mariadb_words(text: str, cased: bool = True) -> str | None:
    """A boolean-mode query requiring each indexed word as a word prefix, or None (no such word).

    ``cased``: each word in its spellings, for ``data``'s case-sensitive index; the message's
    index folds case itself, and every spelling more costs it a lookup (50 -> 83 ms for a word
    in 6,000 of a million rows).
    """
    spelled = _word_spellings(text)
    if spelled is None:
        return None
    return " ".join(
        "+(" + " ".join(f"{spelling}*" for spelling in (spellings if cased else spellings[:1])) + ")"
        for spellings in spelled
    )


def _mariadb_word_starts(text: str, column: Any) -> Any | None:
    """Row by row, what ``MATCH (column) AGAINST (mariadb_words(text))`` finds: each word begins
    a word of the column (not after a letter, a digit or ``_``, as InnoDB's parser splits words).
    The column's collation decides the case, as it does for its index (``data``: binary)."""
    spelled = _word_spellings(text)
    if spelled is None:
        return None
    text_column = sa.type_coerce(column, sa.Text)  # no CAST: it would change the collation
    return sa.and_(*(text_column.regexp_match(_WORD_START + "(?:" + "|".join(s) + ")") for s in spelled))


def condition(text: str, dialect: str) -> Any:
    """The WHERE clause of a search for ``text`` on ``dialect`` (see the module's docstring)."""
    meaning = substring(text)
    if dialect == "sqlite":
        match = sqlite_match(text)
        if match is None:
            return meaning
        matching = sa.select(_FTS_TABLE.c.rowid).where(sa.text(f"{SQLITE_TABLE} MATCH :fts").bindparams(fts=match))
        return sa.and_(Task.id.in_(matching), meaning)
    if dialect in ("mysql", "mariadb"):
        spellings = candidates(text)
        if any(_word_spellings(spelling) is None for spelling in spellings):
            return meaning
        found: list[sa.Select[Any]] = []
        asked = dict.fromkeys(
            (column, mariadb_words(spelling, cased=column == "data"))
            for spelling in spellings
            for column in ("message", "data")
        )
        for number, (column, words) in enumerate(asked):
            name = f"ft_{number}"
            against = sa.text(f"MATCH ({column}) AGAINST (:{name} IN BOOLEAN MODE)").bindparams(**{name: words})
            found.append(sa.select(Task.id).where(against))
        ids = sa.union(*found).subquery("search_ids")
        return sa.and_(Task.id.in_(sa.select(ids.c.id)), meaning)
    return meaning


def row_condition(text: str, dialect: str) -> Any:
    """The search checked in each row, without its index: for reading a few rows in order
    (the newest first). Finds what :func:`condition` finds: on MariaDB the words its FULLTEXT
    index knows are required too, as regular expressions."""
    meaning = substring(text)
    if dialect not in ("mysql", "mariadb"):
        return meaning
    found = []
    for spelling in candidates(text):
        for column in (Task.message, Task.data):
            starts = _mariadb_word_starts(spelling, column)
            if starts is None:
                return meaning
            found.append(starts)
    return sa.and_(meaning, sa.or_(*found))
