"""Fixtures for the signed-card codec tests (``asxh_card._core`` and ``asxh_card.card``).

Tests here use a fixed clock (``NOW``) and fixed mã số ASXH numbers so every run signs the same
claims; keys are fresh per session (ES256 signatures are randomised anyway).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from asxh_card import card as _card
from asxh_card._core.b64 import b64url_encode
from asxh_card._core.deflate import deflate_raw
from asxh_card._core.keys import PrivateKey, PublicKey
from asxh_card._core.statuslist import StatusRef
from asxh_card.ids import generate_asxh_number
from asxh_card.programmes import Entitlement

#: 2026-05-28T20:26:40Z: inside the entitlements' 2026 validity window.
NOW = 1_780_000_000
DAY = 86_400
ISSUER = "vn-79"
STATUS_URI = "https://asxh.example.vn/v1/status-lists/1"

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The shared external test vectors (``../shared/vectors``); skip when absent."""
    if not VECTORS.is_dir():
        pytest.skip(f"external test vectors not found at {VECTORS} (CI has ../shared/vectors)")
    return VECTORS


@pytest.fixture(scope="session")
def load_vector(vectors_dir: Path) -> Callable[[str], Any]:
    """Read one JSON vector file in place (never copied into the repository)."""

    def load(relative: str) -> Any:
        path = vectors_dir / relative
        if not path.is_file():
            pytest.skip(f"vector file {relative} not found under {vectors_dir}")
        return json.loads(path.read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="session")
def es256_key() -> PrivateKey:
    """A throw-away ES256 (P-256) issuer key."""
    return PrivateKey.generate("ES256")


@pytest.fixture(scope="session")
def eddsa_key() -> PrivateKey:
    """A throw-away EdDSA (Ed25519) issuer key."""
    return PrivateKey.generate("EdDSA")


@pytest.fixture(params=["ES256", "EdDSA"])
def any_key(
    request: pytest.FixtureRequest, es256_key: PrivateKey, eddsa_key: PrivateKey
) -> PrivateKey:
    """Each supported issuer key type in turn."""
    return es256_key if request.param == "ES256" else eddsa_key


def _number(serial: int) -> str:
    return str(generate_asxh_number("79", randbelow=lambda _n: serial))


class Kit:
    """Constants and builders shared by the codec tests (use through the ``kit`` fixture)."""

    now = NOW
    day = DAY
    issuer = ISSUER
    status_uri = STATUS_URI
    holder_number = _number(12_345_678)
    guardian_number = _number(87_654_321)

    def claims(self, **changes: Any) -> _card.CardClaims:
        """A valid card (two entitlements, status, guardian) with ``changes`` applied."""
        fields: dict[str, Any] = {
            "issuer": ISSUER,
            "province": "79",
            "serial": "TEST0001",
            "issued_at": NOW - DAY,
            "not_before": NOW - DAY,
            "expires_at": NOW + 365 * DAY,
            "holder": _card.Holder(
                asxh_number=self.holder_number,
                name=_card.normalise_name("Nguyễn Thị Minh Khai"),
                date_of_birth=date(1990, 3, 15),
                sex="F",
            ),
            "entitlements": (
                Entitlement(
                    programme="BHYT",
                    valid_from=date(2026, 1, 1),
                    valid_to=date(2026, 12, 31),
                    attributes={"level": 2, "coverage": 100, "facility": "79-001"},
                ),
                Entitlement(
                    programme="TGXH",
                    valid_from=date(2026, 1, 1),
                    attributes={"amount": 750_000},
                ),
            ),
            "status": StatusRef(idx=31_337, uri=STATUS_URI),
            "guardian": _card.Guardian(asxh_number=self.guardian_number, name="Trần Văn Bình"),
        }
        fields.update(changes)
        return _card.CardClaims(**fields)

    def claim_set(self, **changes: Any) -> dict[str, Any]:
        """The JSON claim set of a valid card with members replaced (None removes one)."""
        claim_set = self.claims().to_claims()
        for name, value in changes.items():
            if value is None:
                claim_set.pop(name, None)
            else:
                claim_set[name] = value
        return claim_set

    @staticmethod
    def lookup(*keys: PrivateKey | PublicKey, issuer: str = ISSUER) -> _card.KeyLookup:
        """A key lookup that knows ``keys`` for ``issuer`` only, by exact (issuer, kid)."""
        table = {(issuer, k.kid): (k.public_key if isinstance(k, PrivateKey) else k) for k in keys}

        def lookup(iss: str, kid: str) -> PublicKey | None:
            return table.get((iss, kid))

        return lookup

    def card_token(self, signer: PrivateKey, **changes: Any) -> str:
        """A card signed by the codec itself (``changes`` go to :meth:`claims`)."""
        return _card.sign_card(self.claims(**changes), signer)

    @staticmethod
    def token(
        header: dict[str, Any] | bytes,
        payload: dict[str, Any] | bytes,
        signer: PrivateKey,
        *,
        compress: bool = True,
    ) -> str:
        """A compact JWS over exactly these header and payload bytes, validly signed.

        This builds tokens the codec would never emit, so that each check is reached with a
        good signature and the test shows the check itself refuses the token.
        """
        header_bytes = header if isinstance(header, bytes) else _dumps(header)
        body = payload if isinstance(payload, bytes) else _dumps(payload)
        if compress:
            body = deflate_raw(body)
        signing_input = f"{b64url_encode(header_bytes)}.{b64url_encode(body)}"
        return f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode('ascii')))}"

    @staticmethod
    def card_header(signer: PrivateKey, **changes: Any) -> dict[str, Any]:
        """The card header of ``signer`` with ``changes`` (a value of None removes a member)."""
        header: dict[str, Any] = {
            "alg": signer.alg,
            "kid": signer.kid,
            "typ": _card.CARD_TYP,
            "zip": "DEF",
        }
        for name, value in changes.items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        return header


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.fixture(scope="session")
def kit() -> Kit:
    """Constants and builders for the codec tests."""
    return Kit()
