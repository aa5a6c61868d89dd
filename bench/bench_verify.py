"""Throughput of offline verification, one core, one run (issue: Verifier SDK §5).

Measures, on the same distinct cards in the same process:

* bare ES256 signature verification with ``cryptography`` (DER signature, no parsing at all);
* :meth:`Verifier.verify` from QR text with every check (bundle freshness, parse, issuer and
  key lookup, signature, strict claims, key window, scope, time, card and entitlement status);
* :meth:`Verifier.verify_image` from a PNG (zxing-cpp decode + the above).

Bare and full verification alternate pass by pass and the ratio is the median of the per-pass
ratios (``paired_rates``), so host noise on a shared VM hits both alike.
Targets: >= 12,000 cards/s from text and full/bare >= 0.65; >= 1,000 cards/s from PNG.
Run: ``.venv/bin/python bench/bench_verify.py [--cards N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from asxh_card import card as _card
from asxh_card._core.b64 import b64url_decode
from asxh_card._core.keys import PrivateKey
from asxh_card._core.statuslist import StatusList, StatusRef, sign_status_list
from asxh_card.ids import damm_check_digit
from asxh_card.programmes import Entitlement
from asxh_card.trust import build_bundle
from asxh_card.verifier import Verifier

T0 = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
URI = "https://asxh.example.vn/v1/status/vn-79/000001"
NAMES = ["Nguyễn Thị Minh Khai", "Trần Văn Bình", "Lê Hoàng Phúc", "Phạm Thị Thu Hà", "Võ Văn Kiệt"]


def _asxh(rng: random.Random) -> str:
    prefix = "79" + f"{rng.randrange(10**8):08d}"
    return prefix + str(damm_check_digit(prefix))


def make_cards(n: int, key: PrivateKey, seed: int = 7) -> list[str]:
    """``n`` distinct realistic cards: own holder, serial, status indices, amounts."""
    rng = random.Random(seed)
    cards = []
    for i in range(n):
        idx = rng.randrange(131_072 - 8)  # room for the card's block of 1 + 3 entries
        claims = _card.CardClaims(
            issuer="vn-79",
            province="79",
            serial=f"C{i:08d}",
            issued_at=T0 - 30 * 86_400,
            not_before=T0 - 30 * 86_400,
            expires_at=T0 + 335 * 86_400,
            holder=_card.Holder(
                _asxh(rng),
                rng.choice(NAMES),
                date(1940 + rng.randrange(70), 1 + rng.randrange(12), 1 + rng.randrange(28)),
                rng.choice(["M", "F"]),
            ),
            entitlements=(
                Entitlement(
                    "BHYT",
                    date(2026, 1, 1),
                    date(2026, 12, 31),
                    {"level": 2, "coverage": 100, "facility": f"79-{rng.randrange(1000):03d}"},
                ),
                Entitlement(
                    "TGXH",
                    date(2026, 1, 1),
                    None,
                    {"amount": 500_000 * rng.choice([1, 2, 3])},
                ),
                Entitlement("BHXH", date(2025, 6, 1), None, {"kind": "pensioner"}),
            ),
            status=StatusRef(idx, URI),
        )
        cards.append(_card.qr_text(_card.sign_card(claims, key)))
    return cards


def rate(fn: Callable[[], object], items: int, seconds: float) -> float:
    """Median items/s over repeated passes lasting ``seconds`` in total."""
    fn()  # warm up
    results = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(results) < 3:
        start = time.perf_counter()
        fn()
        results.append(items / (time.perf_counter() - start))
    return statistics.median(results)


def paired_rates(
    base: Callable[[], object], other: Callable[[], object], items: int, seconds: float
) -> tuple[float, float, float]:
    """Median items/s of ``base`` and ``other`` and the median of their per-round ratio.

    The two alternate pass by pass, so a noisy neighbour on a shared VM slows both alike;
    measuring one for ``seconds`` and then the other let the ratio swing by 0.1 between runs.
    """
    base()
    other()  # warm up both
    base_rates, other_rates, ratios = [], [], []
    deadline = time.perf_counter() + 2 * seconds
    while time.perf_counter() < deadline or len(ratios) < 5:
        start = time.perf_counter()
        base()
        middle = time.perf_counter()
        other()
        end = time.perf_counter()
        base_rates.append(items / (middle - start))
        other_rates.append(items / (end - middle))
        ratios.append(other_rates[-1] / base_rates[-1])
    return statistics.median(base_rates), statistics.median(other_rates), statistics.median(ratios)


def render_png(text: str) -> bytes:
    """The card QR as the issuer renders it: byte segment prefix + numeric digits, ECC M."""
    import qrcode
    from qrcode.util import QRData

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=2, border=4)
    qr.add_data(QRData(b"asxh:/", mode=qrcode.util.MODE_8BIT_BYTE))
    qr.add_data(QRData(text[6:].encode("ascii"), mode=qrcode.util.MODE_NUMBER))
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image().save(buf, format="PNG")
    return buf.getvalue()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2_000)
    parser.add_argument("--pngs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core

    root, key = PrivateKey.generate(), PrivateKey.generate()
    status = sign_status_list(StatusList.empty(131_072), key, uri=URI, issued_at=T0, ttl=86_400)
    issuers = [
        {
            "id": "vn-79",
            "name": "BHXH Thành phố Hồ Chí Minh",
            "province": "79",
            "programmes": ["BHYT", "TGXH", "BHXH"],
            "status_base": URI.rsplit("/", 1)[0] + "/",
            "keys": [{"jwk": key.public_key.to_jwk(), "not_before": T0 - 86_400 * 365}],
        }
    ]
    token, _ = build_bundle(
        root=root,
        issuers=issuers,
        version=1,
        issued_at=T0,
        expires_at=T0 + 30 * 86_400,
    )
    at = datetime.fromtimestamp(T0 + 3600, UTC)
    verifier = Verifier.from_tokens(
        token, roots=[root.public_key], status_tokens=[status], clock=lambda: at
    )
    cards = make_cards(args.cards, key)

    # Bare: the signature primitive alone on the same cards (signing input and DER prepared).
    raw_key = key.public_key.raw
    assert isinstance(raw_key, ec.EllipticCurvePublicKey)
    prepared = []
    for text in cards:
        jws = _card.token_from_qr_text(text)
        head, _, sig = jws.rpartition(".")
        raw = b64url_decode(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        prepared.append((der, head.encode("ascii")))
    algorithm = ec.ECDSA(hashes.SHA256())

    def bare() -> None:
        for der, data in prepared:
            raw_key.verify(der, data, algorithm)

    def full() -> None:
        verify = verifier.verify
        for text in cards:
            verify(text)

    bare_rate, full_rate, ratio = paired_rates(bare, full, len(cards), args.seconds)
    print(f"cards: {len(cards)} distinct, QR text {len(cards[0])} characters")
    print(f"bare ES256 verify (cryptography): {bare_rate:>9,.0f} /s")
    print(f"full verify from QR text:         {full_rate:>9,.0f} /s   ratio {ratio:.2f}")
    if args.pngs <= 0:
        return
    try:
        pngs = [render_png(text) for text in cards[: args.pngs]]
    except ImportError:
        print("PNG: skipped (needs the render/scan extras)")
        return

    def from_png() -> None:
        for png in pngs:
            verifier.verify_image(png)

    png_rate = rate(from_png, len(pngs), args.seconds)
    print(f"full verify from PNG ({len(pngs[0]):,} B): {png_rate:>9,.0f} /s")


if __name__ == "__main__":
    main()
