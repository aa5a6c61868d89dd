"""Issuing throughput on one core: signed tokens per second and QR PNGs per second.

Run: ``.venv/bin/python bench/bench_issuing.py [--seconds 2]``. Targets (issue "Issuing"):
at least 25,000 signed tokens/s and 400 QR PNGs/s per core. Figures are medians of 5 runs.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from asxh_card._core.keys import PrivateKey
from asxh_card._core.statuslist import StatusRef
from asxh_card.card import Guardian, Holder, qr_text, sign_card
from asxh_card.ids import generate_asxh_number
from asxh_card.issuing.issuer import Issuer
from asxh_card.programmes import Entitlement

URI = "https://status.asxh.gov.vn/lists/79/1"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn``: median of 5 runs of ``seconds / 5`` each, after a warm-up.

    The warm-up runs for a quarter of a second: the first figure of a cold process (caches,
    CPU frequency of the virtual machine) used to come out a third lower.
    """
    warm_until = time.perf_counter() + 0.25
    while time.perf_counter() < warm_until:
        fn()
    runs = []
    for _ in range(5):
        n, start = 0, time.perf_counter()
        deadline = start + seconds / 5
        while time.perf_counter() < deadline:
            for _ in range(20):
                fn()
            n += 20
        runs.append(n / (time.perf_counter() - start))
    return statistics.median(runs)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.5)
    seconds = parser.parse_args().seconds

    from asxh_card.issuing import render
    from asxh_card.issuing.render import qr as render_qr

    holder = Holder("79159880008", "Nguyễn Thị Ngọc Hường", date(1958, 3, 2), "F")
    ents = (
        Entitlement(
            "BHYT",
            date(2026, 1, 1),
            date(2027, 12, 31),
            {"level": 2, "coverage": 100, "facility": "79-123"},
        ),
        Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750_000}),
        Entitlement("GN", date(2026, 1, 1), date(2027, 12, 31), {"kind": "near_poor"}),
    )
    guardian = Guardian("79428804839", "Đặng Quốc Bảo", "authorised")
    print("asxh-card issuing benchmark (one core, medians of 5 runs)")
    for alg in ("ES256", "EdDSA"):
        key = PrivateKey.generate(alg)  # type: ignore[arg-type]
        issuer = Issuer(issuer_id="vn-79", province="79", signer=key, clock=lambda: NOW)

        def issue(issuer: Issuer = issuer) -> object:
            return issuer.issue(
                holder,
                ents,
                guardian=guardian,
                status=StatusRef(90121, URI),
                not_before=date(2026, 1, 1),
                expires=date(2030, 12, 31),
            )

        claims = issuer.build_claims(
            holder, ents, guardian=guardian, status=StatusRef(90121, URI), expires=date(2030, 1, 1)
        )

        def sign_only(claims: object = claims, key: PrivateKey = key) -> object:
            return sign_card(claims, key)  # type: ignore[arg-type]

        def token_and_text(claims: object = claims, key: PrivateKey = key) -> object:
            return qr_text(sign_card(claims, key))  # type: ignore[arg-type]

        def checks_only(issuer: Issuer = issuer) -> object:
            return issuer.build_claims(
                holder,
                ents,
                guardian=guardian,
                status=StatusRef(90121, URI),
                not_before=date(2026, 1, 1),
                expires=date(2030, 12, 31),
            )

        print(f"{alg}: sign only (claims -> token)          {rate(sign_only, seconds):>9,.0f} /s")
        print(
            f"{alg}: claims -> token -> QR text           {rate(token_and_text, seconds):>9,.0f} /s"
        )
        print(f"{alg}: Issuer.issue (all checks + budget)  {rate(issue, seconds):>9,.0f} /s")
        print(f"{alg}: Issuer.build_claims (checks only)   {rate(checks_only, seconds):>9,.0f} /s")

    card = issue()
    text = card.qr_text  # type: ignore[attr-defined]
    claims = card.claims  # type: ignore[attr-defined]
    print(f"QR version of the benchmark card: {card.qr_version}")  # type: ignore[attr-defined]
    matrix = render.qr_matrix(text)
    number = claims.holder.asxh_number
    # Distinct cards (own holder number, name and serial), so the face's memoised text masks
    # help only with what really repeats from card to card (labels, programmes, dates).
    given = ["Hường", "Hùng", "Lan", "Tuấn", "Hà", "Bảo", "Minh", "Thảo"]
    fresh = []
    for i in range(2_000):
        person = Holder(
            str(generate_asxh_number("79")),
            f"{given[i % 7]} Văn {given[i % 8]}",
            date(1970, 1, 2),
            "M",
        )
        issued = issuer.build_claims(
            person, ents, status=StatusRef(20 * i, URI), expires=date(2030, 1, 1)
        )
        fresh.append(issued)
    fresh_iter = itertools.cycle(fresh)
    rows: list[tuple[str, Callable[[], object], float]] = [
        ("QR matrix (zxing-cpp/libzint)", lambda: render.qr_matrix(text), seconds),
        ("QR PNG, 300 dpi (matrix + PNG)", lambda: render.qr_png(text), seconds),
        ("QR matrix via qrcode, explicit segments", lambda: render_qr._qr_matrix_qrcode(text), 1.0),
        ("QR SVG from the matrix", lambda: render.qr_svg(matrix), seconds),
        ("Code 128 PNG", lambda: render.barcode_png(number), seconds),
        ("Card PNG (layout, text, QR, barcode)", lambda: render.card_png(claims, matrix), seconds),
        (
            "Card PNG, a new card each time",
            lambda: render.card_png(next(fresh_iter), matrix),
            seconds,
        ),
        (
            "All files of one card (render_card)",
            lambda: render.render_card(card, print_sheet=False),  # type: ignore[arg-type]
            seconds,
        ),
    ]
    for label, fn, budget in rows:
        print(f"{label:<42} {rate(fn, budget):>9,.1f} /s")


if __name__ == "__main__":
    main()
