"""Suite-wide settings. Area fixtures live in each sub-folder's conftest."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """In CI PostgreSQL is mandatory: refuse to run (rather than skip) without its URL."""
    if os.environ.get("ASXH_REQUIRE_POSTGRES") and not os.environ.get("ASXH_TEST_POSTGRES_URL"):
        raise pytest.UsageError("ASXH_REQUIRE_POSTGRES is set but ASXH_TEST_POSTGRES_URL is not")
