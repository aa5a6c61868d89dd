"""Suite-wide settings. Area fixtures live in each sub-folder's conftest."""

from __future__ import annotations

import os
import random

import pytest

from asxh_card._core.keys import Signer
from asxh_card._core.statuslist import StatusList, StatusRef, sign_status_list


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


class StatusSlots:
    """A status list of a test issuer and free blocks in it.

    Every card needs a status reference (issue 9 §2, DESIGN.md §4), so tests that issue cards
    take one from here instead of inventing an index each time. :meth:`ref` gives the card's
    entry of a free block of ``1 + entitlements`` entries (the card's, then one per
    entitlement: ``card.status_block``) at a random place, as the service allocates them;
    :meth:`token` signs the list for a verifier.
    """

    def __init__(
        self, uri: str = "https://status.asxh.gov.vn/lists/79/1", size: int = 131_072
    ) -> None:
        self.uri = uri
        self.list = StatusList.empty(size)
        self._used: set[int] = set()
        self._random = random.Random(size)  # reproducible runs

    def ref(self, entitlements: int = 16) -> StatusRef:
        """The card's entry of a block of ``1 + entitlements`` entries nobody else uses."""
        span = 1 + entitlements
        while True:
            idx = self._random.randrange(self.list.size - span)
            block = set(range(idx, idx + span))
            if not block & self._used:
                self._used |= block
                return StatusRef(idx, self.uri)

    def token(self, signer: Signer, *, issued_at: int, ttl: int = 86_400) -> str:
        """The list signed as a ``statuslist+jwt`` token by ``signer`` (an issuer key)."""
        return sign_status_list(self.list, signer, uri=self.uri, issued_at=issued_at, ttl=ttl)


@pytest.fixture
def statuses() -> StatusSlots:
    """A fresh status list with free blocks (:class:`StatusSlots`) for one test."""
    return StatusSlots()
