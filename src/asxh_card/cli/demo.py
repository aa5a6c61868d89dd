"""``asxh demo``: sign a sample card with a throw-away key, print its QR text, verify it."""

from __future__ import annotations

import json
import time
from datetime import date

from asxh_card import card as _card
from asxh_card._core.keys import PrivateKey, PublicKey
from asxh_card._core.statuslist import StatusRef
from asxh_card._core.timeutil import utc_now, vn_date
from asxh_card.cli._app import app, console
from asxh_card.ids import generate_asxh_number
from asxh_card.programmes import Entitlement


@app.command()
def demo() -> None:
    """Sign a sample card with a throw-away key, print its QR text and verify it."""
    console.print("[bold yellow]DEMO[/]: a throw-away ES256 key signs a synthetic card.")
    key = PrivateKey.generate("ES256")
    now = int(time.time())
    # This year's entitlements (Vietnamese calendar), so the demo card is current in any year.
    year = vn_date(utc_now()).year
    status_uri = "https://asxh.example.vn/v1/status-lists/1"
    claims = _card.CardClaims(
        issuer="vn-79",
        province="79",
        serial="DEMO0001",
        issued_at=now,
        not_before=now,
        expires_at=now + 365 * 86400,
        holder=_card.Holder(
            asxh_number=str(generate_asxh_number("79")),
            name=_card.normalise_name("Nguyễn Thị Minh Khai"),
            date_of_birth=date(1990, 3, 15),
            sex="F",
        ),
        entitlements=(
            Entitlement(
                programme="BHYT",
                valid_from=date(year, 1, 1),
                valid_to=date(year, 12, 31),
                attributes={"level": 2, "coverage": 100, "facility": "79-001"},
            ),
            Entitlement(
                programme="TGXH",
                valid_from=date(year, 1, 1),
                valid_to=None,
                attributes={"amount": 750_000},
            ),
        ),
        status=StatusRef(idx=31337, uri=status_uri),
    )
    for entitlement in claims.entitlements:
        entitlement.validate()
    token = _card.sign_card(claims, key)
    text = _card.qr_text(token)
    console.print(f"Issuer key kid: {key.kid}")
    console.print(f"Token: {len(token)} characters; QR text: {len(text)} characters")
    console.print(text, soft_wrap=True, highlight=False)

    def lookup(issuer: str, kid: str) -> PublicKey | None:
        return key.public_key if (issuer, kid) == ("vn-79", key.kid) else None

    verified = _card.verify_card(text, keys=lookup)
    console.print("[bold green]Verified[/]:", highlight=False)
    console.print_json(json.dumps(verified.to_claims(), ensure_ascii=False))
