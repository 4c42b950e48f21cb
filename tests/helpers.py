"""This suite's helpers: the test kit's (core/testing.py) and the settings every Hub of the suite
gets (the example plugin's greeting, rate limits the suite's many logins fit in)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.testing import (  # noqa: F401 - re-exported for the suite's modules
    PASSWORD,
    TEST_SECRET,
    Account,
    add_member,
    assert_error,
    create_key,
    login,
    register_and_login,
    reset_postgres,
    test_settings,
    unique_email,
)

DATABASE_URL = os.environ.get("HUB_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL")

SUITE_SETTINGS: dict[str, Any] = dict(
    plugins={"example": {"greeting": "hello from the tests"}},
    # The suite logs in (and runs agents) far more often than the seed limits allow.
    rate_limits={"rules": {pattern: {"requests_per_minute": 100_000, "burst_size": 100_000}
                           for pattern in ("/api/auth/*", "/api/v1/auth/*", "/api/agents/*/execute")}},
)


def make_settings(tmp_path: Path, **overrides: Any):
    return test_settings(tmp_path, **{**SUITE_SETTINGS, **overrides})
