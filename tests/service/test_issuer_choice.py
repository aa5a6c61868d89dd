"""Which issuer signs a card, and which current card a new one replaces (issue 10 §3)."""

from __future__ import annotations

from typing import Any

from asxh_card.service.db import session_scope
from asxh_card.service.demo import ensure_issuer


def test_a_new_card_replaces_only_the_current_card_of_its_own_issuer(service: Any) -> None:
    """Two issuers in a province: the first by id that may sign every programme signs.

    A BHYT-only issuer (first by id) signs the BHYT card; once the person also has TGXH, the
    issuer of all programmes signs, and issuing again revokes its own previous card only: the
    other issuer's card stays current. On PostgreSQL issuance reads the entitlements, the
    current cards and the signers in one statement; this holds it to the same rules.
    """
    with session_scope(service.ctx.sessions) as session:
        ensure_issuer(
            session, service.ctx, "vn-0-bhyt", name="BHYT only", province="01", programmes=("BHYT",)
        )
    number = service.register("off01", province="01")
    service.grant("off01", number, service.BHYT)
    bhyt_card = service.issue("off01", number)
    service.grant("off01", number, service.TGXH)
    both = service.issue("off01", number)
    again = service.issue("off01", number)
    listed = service.call("off01", "GET", f"/v1/persons/{number}/cards").json()
    states = {card["serial"]: (card["issuer"], card["state"]) for card in listed}
    assert states == {
        bhyt_card["serial"]: ("vn-0-bhyt", "active"),
        both["serial"]: ("vn-01", "revoked"),
        again["serial"]: ("vn-01", "active"),
    }
    assert [e["programme"] for e in again["entitlements"]] == ["BHYT", "TGXH"]
