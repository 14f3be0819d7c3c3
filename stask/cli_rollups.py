"""``flask stask rollups rebuild``: recount tasks per status and roll every closed hour again.

For operators upgrading a database whose rows were written before migration 0011, or changed
behind stask's back (a TRUNCATE fires no trigger). Registered on ``flask stask`` by :mod:`stask.cli`.
"""

from __future__ import annotations

from typing import Any

import click

from .cli import clean_errors, stask_cli
from .monitoring.rolling import rebuild
from .service import current_stask


@stask_cli.group("rollups")
@clean_errors
def rollups_group() -> None:
    """Figures kept beside the tasks: tasks per status and hourly performance rollups."""


@rollups_group.command("rebuild")
@clean_errors
def rebuild_command() -> None:
    """Recount tasks per worker and status, and roll up every closed hour that still has tasks
    (hours whose tasks cleanup deleted keep their rollups). Reads the whole task table once.
    Not audited: it changes no task, only figures derived from them."""
    session: Any = current_stask().db.session
    done = rebuild(session)
    click.echo(f"{done['counters']} counter row(s) written, {done['hours']} hour(s) rolled up")
