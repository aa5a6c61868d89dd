"""Low-level card primitives that skip the trust model: use them only if you know why.

Like ``cryptography.hazmat``, this module is for callers that bring their own trust decisions.
:func:`verify_card` checks a card's structure, signature, claims and times with a key *you* look
up; it does **not** check the trust bundle, the issuer's scope (province, programmes), the key's
signing window or the status lists. An offline service point uses
:class:`asxh_card.verifier.Verifier` (also ``asxh_card.Verifier``), which does.

The key lookup must be by (issuer, kid) among that issuer's keys: a lookup by ``kid`` alone
accepts a card that claims to come from another issuer::

    from asxh_card.hazmat import verify_card

    keys = {("vn-79", key.kid): key.public_key}
    claims = verify_card(text, keys=lambda iss, kid: keys.get((iss, kid)))

:func:`sign_card` signs claims with a key or signer; :class:`asxh_card.issuing.Issuer` is the
issuing API (serials, status entries, size check, renderings). :class:`UncheckedCard` is a card
read from text that exposes only its ``issuer`` and ``kid`` until :meth:`UncheckedCard.verify`
has checked its signature.
"""

from __future__ import annotations

from asxh_card.card import (
    KeyLookup,
    UncheckedCard,
    VerifiedClaims,
    parse_card_jws,
    sign_card,
    token_from_qr_text,
    verify_card,
)

__all__ = [
    "KeyLookup",
    "UncheckedCard",
    "VerifiedClaims",
    "parse_card_jws",
    "sign_card",
    "token_from_qr_text",
    "verify_card",
]
