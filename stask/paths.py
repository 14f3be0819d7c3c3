"""Locations inside the source tree."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: Alembic scripts ship inside the package (the top-level ``migrations`` is a link here).
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
