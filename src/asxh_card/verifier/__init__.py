"""Offline verification of ASXH cards against a signed trust bundle (DESIGN.md §4).

A few lines::

    from asxh_card.keystore import load_public_key
    from asxh_card.verifier import Verifier

    verifier = Verifier.from_directory("/var/lib/asxh", roots=[load_public_key("root.jwk")])
    result = verifier.verify(qr_text)          # or verifier.verify_image("photo.jpg")
    print(result.holder.name, [(e.programme, e.state) for e in result.entitlements])

A card that does not pass raises :class:`~asxh_card.errors.VerificationError` with a stable
``reason`` and an ``outcome``: ``invalid`` (refuse the card) or ``cannot_check`` (the bundle or
a status list is out of date or missing, or the clock is wrong: update the data, check again).
This package imports only the core and the standard library (``pip install asxh-card`` without
extras verifies from text); Pillow and zxing-cpp are imported by :meth:`Verifier.verify_image`.
"""

from __future__ import annotations

from asxh_card.bundle import (
    BUNDLE_TYP,
    IssuerEntry,
    KeyEntry,
    LoadedStatusList,
    TrustBundle,
    load_status_list,
    parse_bundle,
    token_sha256,
)
from asxh_card.errors import Outcome, Reason, VerificationError
from asxh_card.verifier.result import (
    BhytCoverage,
    CardValidity,
    EntitlementResult,
    IssuerInfo,
    VerificationResult,
    VerificationWarning,
)
from asxh_card.verifier.store import BUNDLE_FILE, STATE_FILE, STATUS_DIR, BundleStore
from asxh_card.verifier.verifier import DEFAULT_MAX_CARD_LIFETIME, Verifier, VerifierPolicy

__all__ = [
    "BUNDLE_FILE",
    "BUNDLE_TYP",
    "DEFAULT_MAX_CARD_LIFETIME",
    "STATE_FILE",
    "STATUS_DIR",
    "BhytCoverage",
    "BundleStore",
    "CardValidity",
    "EntitlementResult",
    "IssuerEntry",
    "IssuerInfo",
    "KeyEntry",
    "LoadedStatusList",
    "Outcome",
    "Reason",
    "TrustBundle",
    "VerificationError",
    "VerificationResult",
    "VerificationWarning",
    "Verifier",
    "VerifierPolicy",
    "load_status_list",
    "parse_bundle",
    "token_sha256",
]
