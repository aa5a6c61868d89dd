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
    StatusListEntry,
    TrustBundle,
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
from asxh_card.verifier.store import BundleStore
from asxh_card.verifier.verifier import BUNDLE_FILE, STATUS_DIR, Verifier, VerifierPolicy

__all__ = [
    "BUNDLE_FILE",
    "BUNDLE_TYP",
    "STATUS_DIR",
    "BhytCoverage",
    "BundleStore",
    "CardValidity",
    "EntitlementResult",
    "IssuerEntry",
    "IssuerInfo",
    "KeyEntry",
    "Outcome",
    "Reason",
    "StatusListEntry",
    "TrustBundle",
    "VerificationError",
    "VerificationResult",
    "VerificationWarning",
    "Verifier",
    "VerifierPolicy",
    "parse_bundle",
    "token_sha256",
]
