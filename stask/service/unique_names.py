"""Names unique in their table (rules, triggers, presets per worker): a check before writing for a
clear refusal, and the unique constraint deciding a race the check could not see."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from ..exceptions import StaskError


def refuse_taken(
    session: Session | scoped_session[Any], id_column: Any, where: list[Any], own_id: int | None, taken: StaskError
) -> None:
    """Raise ``taken`` (after a rollback) when another row than ``own_id`` matches ``where``."""
    query = sa.select(id_column).where(*where)
    if own_id is not None:
        query = query.where(id_column != own_id)
    if session.scalar(query.limit(1)) is not None:
        session.rollback()
        raise taken


def commit_unique(session: Session | scoped_session[Any], taken: StaskError) -> None:
    """Commit; a unique-constraint violation (a concurrent writer won) becomes ``taken``."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise taken from None
