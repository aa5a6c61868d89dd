"""asxh-card: Vietnam's electronic social-security (ASXH) card.

The curated public API of the core (no web, database or image dependencies)::

    from asxh_card import parse_pin, generate_asxh_number, parse_asxh_number
    from asxh_card import CardClaims, Holder, Entitlement, PrivateKey, sign_card, qr_text

Issuing and rendering live in :mod:`asxh_card.issuing` (extra ``render``), offline
verification in :mod:`asxh_card.verifier`, the HTTP service in :mod:`asxh_card.service`
(extra ``service``). Everything raised on purpose derives from :class:`AsxhError`; verification
failures from :class:`VerificationError`, each with a stable :class:`Reason` code.
"""

from __future__ import annotations

from asxh_card._core.keys import PrivateKey, PublicKey, Signer
from asxh_card._core.statuslist import Status, StatusList, StatusRef
from asxh_card.card import (
    CardClaims,
    Guardian,
    Holder,
    normalise_name,
    qr_text,
    sign_card,
    verify_card,
)
from asxh_card.errors import (
    AsxhError,
    EntitlementError,
    IdentifierError,
    InvalidInputError,
    Reason,
    VerificationError,
)
from asxh_card.ids import (
    AsxhNumber,
    PersonalId,
    generate_asxh_number,
    mask_identifier,
    parse_asxh_number,
    parse_bhyt_code,
    parse_cccd_qr,
    parse_pin,
)
from asxh_card.programmes import Entitlement, ProgrammeRegistry

__version__ = "0.1.0"

__all__ = [
    "AsxhError",
    "AsxhNumber",
    "CardClaims",
    "Entitlement",
    "EntitlementError",
    "Guardian",
    "Holder",
    "IdentifierError",
    "InvalidInputError",
    "PersonalId",
    "PrivateKey",
    "ProgrammeRegistry",
    "PublicKey",
    "Reason",
    "Signer",
    "Status",
    "StatusList",
    "StatusRef",
    "VerificationError",
    "__version__",
    "generate_asxh_number",
    "mask_identifier",
    "normalise_name",
    "parse_asxh_number",
    "parse_bhyt_code",
    "parse_cccd_qr",
    "parse_pin",
    "qr_text",
    "sign_card",
    "verify_card",
]
