"""Suite-wide settings. Area fixtures live in each sub-folder's conftest."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """In CI PostgreSQL is mandatory: refuse to run (rather than skip) without its URL."""
    if os.environ.get("ASXH_REQUIRE_POSTGRES") and not os.environ.get("ASXH_TEST_POSTGRES_URL"):
        raise pytest.UsageError("ASXH_REQUIRE_POSTGRES is set but ASXH_TEST_POSTGRES_URL is not")


@pytest.fixture(scope="session")
def child_benefit_registry() -> object:
    """The bundled registry plus a seventh programme, TE, added by data only (issue 2 §3).

    ``TE`` carries one required integer attribute ``amount`` (1 to 10**8).
    """
    import json
    from importlib import resources

    from asxh_card.programmes import ProgrammeRegistry

    data = json.loads(resources.files("asxh_card.data").joinpath("programmes.json").read_text())
    data["programmes"].append(
        {
            "code": "TE",
            "name_vi": "Trợ cấp trẻ em",
            "name_en": "Child benefit",
            "owner": "MOH",
            "legal_basis": "test",
            "attributes": {"amount": {"type": "int", "required": True, "min": 1, "max": 10**8}},
        }
    )
    return ProgrammeRegistry.from_mapping(data)
