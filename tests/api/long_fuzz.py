"""``make fuzz``: the long schemathesis run (not part of ``make test``; pytest does not collect this
file unless it is named on the command line).

Every check, every documented operation, on PostgreSQL by default, as admin then read-only,
for several seeds with many examples each. Prints one summary per run and fails on any failure.
Settings (environment): ``FUZZ_SEEDS`` (space-separated, default "1 2 3"), ``FUZZ_EXAMPLES``
(per operation and phase, default 150), ``FUZZ_BACKEND`` (``postgresql``, ``sqlite`` or ``mariadb``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from flask import Flask

from tests.support import fuzzing
from tests.support.api import ADMIN_TOKEN, READONLY_TOKEN

SEEDS = [int(seed) for seed in os.environ.get("FUZZ_SEEDS", "1 2 3").split()]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
BACKEND = os.environ.get("FUZZ_BACKEND", "postgresql")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("role", ["admin", "readonly"])
def test_long_schemathesis_run(make_app: Callable[..., Flask], seed: int, role: str) -> None:
    app = make_app(BACKEND, discover=True, **fuzzing.FUZZ_CONFIG)
    fuzzing.seed(app)
    token = ADMIN_TOKEN if role == "admin" else READONLY_TOKEN
    report = fuzzing.run(app, seed=seed, examples=EXAMPLES, token=token, reset=lambda: fuzzing.restore(app))
    print(f"\n== {BACKEND}, {role}, seed {seed}, {EXAMPLES} examples: {report.summary()}")
    assert not report.failures and not report.errors, report.summary()
