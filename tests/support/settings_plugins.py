"""A worker with one typed setting of each kind, a secret among them (settings tests only)."""

from __future__ import annotations

from typing import Any

from stask import BaseWorker
from stask.workers.fields import Field
from tests.support.apps import TEST_WORKERS

SECRET = "s3cret-Pa55word-xyzzy"


class VaultWorker(BaseWorker):
    identifier = "vault"
    title = "Vault"
    settings_fields = {
        "password": Field(type="str", secret=True, label="Password", help="Used to open the vault."),
        "mode": Field(type="choice", choices=("fast", "safe"), default="safe", label="Mode"),
        "ratio": Field(type="float", default=0.5, min=0.0, max=1.0, label="Ratio"),
        "notes": Field(type="text", default="", max_length=200, label="Notes"),
        "enabled": Field(type="bool", default=True, label="Enabled"),
        "tags": {"type": "json", "default": ["a"], "label": "Tags"},
    }

    def task_open(self, task: Any, options: dict[str, Any]) -> None:
        self.mark_finished(f"password set: {self.settings['password'] is not None}, mode {self.settings['mode']}")


VAULT_WORKERS = TEST_WORKERS + f",{__name__}:VaultWorker"
