"""Flask-Babel set-up (skeleton: to be completed by the panel work)."""

from __future__ import annotations

from flask import Flask


def init_i18n(app: Flask) -> None:
    pass
