"""asxh-card: Vietnam's electronic social-security (ASXH) card.

Safe by default: the top level leads with the offline :class:`Verifier`, which checks a card
against a signed trust bundle (issuer scope, key windows, status lists, freshness)::

    from asxh_card import Verifier, load_public_key

    verifier = Verifier.from_directory("/var/lib/asxh", roots=[load_public_key("root.jwk")])
    result = verifier.verify(qr_text)     # raises VerificationError: .reason, .outcome

Then the core (no web, database or image dependencies): personal ID numbers, mã số ASXH,
programmes and entitlements, the card's claims. Issuing and rendering live in
:mod:`asxh_card.issuing` (extra ``render``), the HTTP service in :mod:`asxh_card.service` (extra
``service``). :mod:`asxh_card.hazmat` holds the low-level ``sign_card`` / ``verify_card``, which
skip the trust bundle. Everything the package raises derives from :class:`AsxhError`;
verification failures from :class:`VerificationError`, each with a stable :class:`Reason` code
and an :class:`Outcome` (``invalid`` or ``cannot_check``).
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
)
from asxh_card.errors import (
    AsxhError,
    EntitlementError,
    IdentifierError,
    InvalidInputError,
    Outcome,
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
from asxh_card.keystore import load_public_key
from asxh_card.programmes import Entitlement, ProgrammeRegistry
from asxh_card.verifier import (
    TrustBundle,
    VerificationResult,
    VerificationWarning,
    Verifier,
    VerifierPolicy,
)

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
    "Outcome",
    "PersonalId",
    "PrivateKey",
    "ProgrammeRegistry",
    "PublicKey",
    "Reason",
    "Signer",
    "Status",
    "StatusList",
    "StatusRef",
    "TrustBundle",
    "VerificationError",
    "VerificationResult",
    "VerificationWarning",
    "Verifier",
    "VerifierPolicy",
    "__version__",
    "generate_asxh_number",
    "load_public_key",
    "mask_identifier",
    "normalise_name",
    "parse_asxh_number",
    "parse_bhyt_code",
    "parse_cccd_qr",
    "parse_pin",
    "qr_text",
]
