"""Schedules: when slots fall (:mod:`.slots`) and how code declares them (:mod:`.declared`)."""
