"""Locations inside the source tree."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: Alembic scripts live at the top of the repository (``migrations/``).
MIGRATIONS_DIR = PACKAGE_DIR.parent / "migrations"
