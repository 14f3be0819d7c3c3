"""Settings: every key read in code is declared, the README lists every declared key, and
resolution (config, then environment, then default) refuses bad values without leaking secrets.

No Redis and no database: these tests only read source files and build :class:`Settings`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from stask.exceptions import InvalidSetting
from stask.settings import P95_PREFIX, Declared, Settings, _coerce, declared

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "stask"
README = ROOT / "README.md"
#: A configuration key as a whole string literal in code.
KEY = re.compile(r"STASK_[A-Z0-9_]+|REDIS_URL|DATABASE_URL")
#: A ``STASK_*`` name inside a backticked README table cell (``STASK_ALERT_P95_MS_<IDENTIFIER>`` gives the prefix).
README_KEY = re.compile(r"STASK_[A-Z0-9_]+")

DECLARED = {spec.key for spec in declared()}


def keys_in_code() -> dict[str, list[str]]:
    """Every string literal in ``stask/**/*.py`` that is exactly a key name -> where it appears."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY.fullmatch(node.value):
                found.setdefault(node.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def readme_table_cells() -> list[str]:
    """The backticked parts of README table rows (``| … |`` lines)."""
    cells = []
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("|"):
            cells += re.findall(r"`([^`]+)`", line)
    return cells


# -- (a) declared in stask/settings.py --------------------------------------------------------
def test_the_scan_finds_keys() -> None:
    """Guards the scan itself: settings.py spells every key as a literal."""
    assert DECLARED <= set(keys_in_code())


def test_every_key_read_in_code_is_declared() -> None:
    undeclared = {
        key: places for key, places in keys_in_code().items() if key not in DECLARED and not key.startswith(P95_PREFIX)
    }
    assert not undeclared, f"declare these keys in stask/settings.py (Settings): {undeclared}"


# -- (b) listed in the README ---------------------------------------------------------------------
def test_every_declared_key_is_in_the_readme_tables() -> None:
    named = {name for cell in readme_table_cells() for name in re.findall(r"[A-Z][A-Z0-9_]+", cell)}
    missing = sorted(DECLARED - named)
    assert not missing, f"add a row for these keys to README.md's configuration tables: {missing}"


def test_every_key_in_the_readme_tables_is_declared() -> None:
    listed = {name for cell in readme_table_cells() for name in README_KEY.findall(cell)}
    unknown = sorted(name for name in listed - DECLARED if name != P95_PREFIX)
    assert not unknown, f"README.md lists keys stask does not read (or stask/settings.py lacks them): {unknown}"


# -- (c) precedence ---------------------------------------------------------------------------------
def test_config_beats_environment_beats_default() -> None:
    environ = {"STASK_TIMEOUT": "20", "STASK_REDIS_PREFIX": "from-env", "STASK_WEB": "false"}
    both = Settings.from_config({"STASK_TIMEOUT": 10, "STASK_REDIS_PREFIX": "from-config"}, environ=environ)
    assert (both.timeout, both.redis_prefix, both.web) == (10, "from-config", False)
    env_only = Settings.from_config({}, environ=environ)
    assert (env_only.timeout, env_only.redis_prefix) == (20, "from-env")
    defaults = Settings.from_config({}, environ={})
    assert (defaults.timeout, defaults.redis_prefix, defaults.web) == (1800, "stask", True)
    assert defaults == Settings()


def test_an_empty_config_value_falls_through_to_the_environment() -> None:
    settings = Settings.from_config(
        {"STASK_TIMEOUT": "", "STASK_ALERT_WEBHOOK_URL": None}, environ={"STASK_TIMEOUT": "7"}
    )
    assert (settings.timeout, settings.alert_webhook_url) == (7, "")


def test_values_are_typed() -> None:
    settings = Settings.from_config(
        {"STASK_API_TOKEN": "a, b,,", "STASK_ALERT_FAILURE_RATE": "0.5", "STASK_HEALTH_REQUIRE_WORKERS": "yes"},
        environ={"STASK_ALERT_P95_MS_WORKERS": '{"slow": "800"}', "STASK_ALERT_EMAIL_TO": "ops@example.com"},
    )
    assert settings.api_tokens == ["a", "b"]
    assert settings.alert_failure_rate == 0.5 and settings.health_require_workers is True
    assert settings.alert_p95_ms_workers == {"slow": 800}
    assert settings.alert_email_to == ["ops@example.com"]


def test_per_worker_p95_limits() -> None:
    settings = Settings.from_config(
        {"STASK_ALERT_P95_MS_CSV_EXPORT": 50, "STASK_ALERT_P95_MS_WORKERS": {"slow": 1000}},
        environ={"STASK_ALERT_P95_MS_CSV_EXPORT": "70", "STASK_ALERT_P95_MS_ECHO": "30", "STASK_ALERT_P95_MS": "900"},
    )
    assert settings.p95_limit("csv-export") == 50  # the config beats the environment here too
    assert settings.p95_limit("echo") == 30
    assert settings.p95_limit("slow") == 1000
    assert settings.p95_limit("other") == 900


# -- (d) bad values ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "environ", "key"),
    [
        ({}, {"STASK_TIMEOUT": "abc"}, "STASK_TIMEOUT"),
        ({"STASK_TIMEOUT": "abc"}, {}, "STASK_TIMEOUT"),
        ({}, {"STASK_BACKOFF_BASE": "fast"}, "STASK_BACKOFF_BASE"),
        ({}, {"STASK_WEB": "maybe"}, "STASK_WEB"),
        ({}, {"STASK_ALERT_P95_MS_WORKERS": "{not json"}, "STASK_ALERT_P95_MS_WORKERS"),
        ({}, {"STASK_ALERT_P95_MS_ECHO": "slow"}, "STASK_ALERT_P95_MS_ECHO"),
    ],
)
def test_a_bad_value_names_its_key(config: dict[str, object], environ: dict[str, str], key: str) -> None:
    with pytest.raises(InvalidSetting, match=key):
        Settings.from_config(config, environ=environ)


def test_a_bad_secret_value_is_not_echoed() -> None:
    with pytest.raises(InvalidSetting) as refused:
        Settings.from_config({"STASK_ADMIN_PASSWORD": 987654321}, environ={})
    assert "STASK_ADMIN_PASSWORD" in str(refused.value) and "987654321" not in str(refused.value)
    # A secret of a typed kind (an integer here) is refused without showing what was given.
    secret_number = Declared("pin", "STASK_PIN", "a secret number", 0, "int", True, "access")
    with pytest.raises(InvalidSetting) as typed:
        _coerce(secret_number, "hunter2")
    assert "STASK_PIN" in str(typed.value) and "hunter2" not in str(typed.value)


@pytest.mark.parametrize("key", sorted(spec.key for spec in declared() if spec.secret))
def test_every_secret_refuses_a_wrong_type_without_echoing_it(key: str) -> None:
    """A secret set to a value of the wrong type in the config: refused (or accepted), never shown."""
    try:
        Settings.from_config({key: 987654321}, environ={})
    except InvalidSetting as exc:
        assert key in str(exc) and "987654321" not in str(exc)
