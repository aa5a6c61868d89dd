"""Offline verification of ASXH cards against a signed trust bundle (DESIGN.md §4).

A few lines::

    from asxh_card.keystore import load_public_key
    from asxh_card.verifier import Verifier

    verifier = Verifier.from_directory("/var/lib/asxh", roots=[load_public_key(ROOT_JWK)])
    result = verifier.verify(qr_text)          # or verifier.verify_image("photo.jpg")
    print(result.holder.name, [(e.programme, e.state) for e in result.entitlements])

An invalid card raises :class:`~asxh_card.errors.VerificationError` with a stable ``reason``.
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
from asxh_card.errors import Reason, VerificationError
from asxh_card.verifier.result import (
    BhytCoverage,
    CardValidity,
    EntitlementResult,
    IssuerInfo,
    VerificationResult,
    VerificationWarning,
)
from asxh_card.verifier.store import BundleStore
from asxh_card.verifier.verifier import BUNDLE_FILE, STATUS_DIR, Verifier

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
    "Reason",
    "StatusListEntry",
    "TrustBundle",
    "VerificationError",
    "VerificationResult",
    "VerificationWarning",
    "Verifier",
    "parse_bundle",
    "token_sha256",
]
