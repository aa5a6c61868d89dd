"""Codec speed on one core: bare ES256 vs our card signing and core verification.

Run: ``.venv/bin/python bench/bench_codec.py``. Figures move ±15 % between runs on this class of
machine; the ratios printed (ours / bare, measured in the same run) are the stable numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from asxh_card import CardClaims, Entitlement, Holder, PrivateKey, StatusRef, generate_asxh_number
from asxh_card import card as _card
from asxh_card._core import strictjson
from asxh_card._core.deflate import inflate_raw
from asxh_card.card import parse_card_jws, qr_text, sign_card, verify_card


def rate(fn: Callable[[], object], seconds: float = 1.5) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (best of three runs)."""
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            for _ in range(50):
                fn()
            n += 50
        best = max(best, n / elapsed)
    return best


def sample_claims() -> CardClaims:
    uri = "https://asxh.example.vn/v1/status-lists/79-0001"
    now = int(time.time())
    return CardClaims(
        issuer="vn-79",
        province="79",
        serial="K7Q2M9X4P1ZA",
        issued_at=now,
        not_before=now,
        expires_at=now + 365 * 86400,
        holder=Holder(
            str(generate_asxh_number("79")), "Nguyễn Thị Minh Khai", date(1990, 3, 15), "F"
        ),
        entitlements=(
            Entitlement(
                "BHYT",
                date(2026, 1, 1),
                date(2026, 12, 31),
                {"level": 2, "coverage": 100, "facility": "79-001"},
                StatusRef(11, uri),
            ),
            Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750_000}, StatusRef(12, uri)),
            Entitlement(
                "GN",
                date(2026, 1, 1),
                date(2026, 12, 31),
                {"kind": "near_poor"},
                StatusRef(13, uri),
            ),
        ),
        status=StatusRef(10, uri),
    )


def main() -> None:
    key = PrivateKey.generate("ES256")
    raw = ec.generate_private_key(ec.SECP256R1())
    msg = b"x" * 600
    der = raw.sign(msg, ec.ECDSA(hashes.SHA256()))
    claims = sample_claims()
    token = sign_card(claims, key)
    text = qr_text(token)
    public = key.public_key
    parsed, _ = parse_card_jws(token)

    def lookup(_iss: str, _kid: str) -> object:
        return public

    bare_sign = rate(lambda: raw.sign(msg, ec.ECDSA(hashes.SHA256())))
    bare_verify = rate(lambda: raw.public_key().verify(der, msg, ec.ECDSA(hashes.SHA256())))
    ours_sign = rate(lambda: sign_card(claims, key))
    ours_qr = rate(lambda: qr_text(sign_card(claims, key)))
    ours_verify = rate(lambda: verify_card(text, keys=lookup))  # type: ignore[arg-type]
    payload = parsed.payload_segment
    from asxh_card._core.b64 import b64url_decode

    deflated = b64url_decode(payload)
    inflated = inflate_raw(deflated, limit=16384)
    inflate = rate(lambda: inflate_raw(deflated, limit=16384))
    # The claims of a card our issuers sign take the typed fast path (docs/wire-format.md);
    # the strict JSON parser serves only non-canonical payloads.
    assert _card._fast_claim_set(inflated) is not None, "the sample card missed the fast path"
    fast = rate(lambda: _card._fast_claim_set(inflated))
    parse = rate(lambda: strictjson.loads(inflated, max_size=16384))

    print(f"token {len(token)} chars, QR text {len(text)} chars")
    print(f"bare ES256 sign (cryptography)      {bare_sign:10,.0f} /s")
    sign_ratio = ours_sign / bare_sign
    print(f"sign_card (claims -> token)         {ours_sign:10,.0f} /s  ratio {sign_ratio:.2f}")
    print(f"sign_card + QR text                 {ours_qr:10,.0f} /s")
    print(f"bare ES256 verify (cryptography)    {bare_verify:10,.0f} /s")
    verify_ratio = ours_verify / bare_verify
    print(f"verify_card from QR text (core)     {ours_verify:10,.0f} /s  ratio {verify_ratio:.2f}")
    print(f"bounded inflate                     {inflate:10,.0f} /s")
    print(f"claims: typed fast path             {fast:10,.0f} /s")
    print(f"claims: strict JSON parse only      {parse:10,.0f} /s")


if __name__ == "__main__":
    main()
