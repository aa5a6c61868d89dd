"""The whole flow over HTTP: register → grant → issue → verify → revoke → verify."""

from __future__ import annotations

import time
from typing import Any

import pytest

from asxh_card._core.keys import PublicKey
from asxh_card._core.statuslist import Status, verify_status_list_token
from asxh_card.card import CardClaims, parse_card_jws


def _verify(service: Any, qr_text: str) -> dict[str, Any]:
    response = service.call("off79", "POST", "/v1/verify", json={"qr_text": qr_text})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _states(result: dict[str, Any]) -> dict[str, str]:
    return {e["programme"]: e["state"] for e in result["entitlements"]}


def _status_of(service: Any, uri: str, idx: int) -> int:
    path = uri.removeprefix("http://testserver")
    response = service.client.get(path)
    assert response.status_code == 200
    jwks = service.client.get("/.well-known/jwks.json").json()["keys"]
    token = response.text
    for jwk in jwks:
        key = PublicKey.from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk})
        if key.kid == jwk["kid"]:
            try:
                parsed = verify_status_list_token(token, key, uri=uri, now=int(time.time()))
            except Exception:  # noqa: S112 - try the next key
                continue
            return parsed.status_list[idx]
    raise AssertionError("no JWKS key verifies the status list")


def test_register_grant_issue_verify_revoke(service: Any) -> None:
    number = service.register()
    bhyt = service.grant("off79", number, service.BHYT)
    tgxh = service.grant("off79", number, service.TGXH)
    card = service.issue("off79", number)
    assert card["state"] == "active"
    assert sorted(card["entitlement_ids"]) == sorted([bhyt["id"], tgxh["id"]])

    result = _verify(service, card["qr_text"])
    assert result["valid"] is True
    assert result["holder"]["asxh_number"] == number
    assert _states(result) == {"BHYT": "active", "TGXH": "active"}

    # Revoke one entitlement: the card stays valid, that programme shows revoked.
    response = service.call(
        "off79",
        "POST",
        f"/v1/entitlements/{tgxh['id']}/revoke",
        json={"reason_code": "eligibility_ended", "note": "moved to another province"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "revoked"
    entry = next(e for e in card["entitlements"] if e["id"] == tgxh["id"])
    assert entry["status"]["idx"] == card["status"]["idx"] + 1 + entry["position"]
    assert _status_of(service, entry["status"]["uri"], entry["status"]["idx"]) == Status.REVOKED
    assert _status_of(service, card["status"]["uri"], card["status"]["idx"]) == Status.VALID
    result = _verify(service, card["qr_text"])
    assert result["valid"] is True
    assert _states(result) == {"BHYT": "active", "TGXH": "revoked"}

    # Suspend, reinstate, then revoke the whole card.
    serial = card["serial"]
    for action, valid in (("suspend", False), ("reinstate", True)):
        response = service.call(
            "off79", "POST", f"/v1/cards/{serial}/{action}", json={"reason_code": "under_review"}
        )
        assert response.status_code == 200, response.text
        result = _verify(service, card["qr_text"])
        assert result["valid"] is valid
        if not valid:
            assert result["reason"] == "suspended"
    response = service.call(
        "off79", "POST", f"/v1/cards/{serial}/revoke", json={"reason_code": "lost", "note": "x"}
    )
    assert response.status_code == 200
    assert response.json()["state"] == "revoked"
    assert _status_of(service, card["status"]["uri"], card["status"]["idx"]) == Status.REVOKED
    result = _verify(service, card["qr_text"])
    assert result == result | {"valid": False, "reason": "revoked"}
    assert result["message_vi"] == "Thẻ đã bị thu hồi."

    # A revoked card cannot be revoked again or reinstated.
    response = service.call(
        "off79", "POST", f"/v1/cards/{serial}/reinstate", json={"reason_code": "other"}
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


def test_card_carries_no_sensitive_data(service: Any) -> None:
    body = service.person()
    number = service.call("off79", "POST", "/v1/persons", json=body).json()["asxh_number"]
    service.grant("off79", number, service.TGXH)
    card = service.issue("off79", number)
    _header, claims = parse_card_jws(card["token"])
    text = str(claims)
    assert "Art. 5" not in text
    assert "category" not in text
    assert body["pin"] not in text
    assert body["pin"] not in card["qr_text"]
    assert claims["sub"] == number


def test_idempotent_issuance(service: Any) -> None:
    number = service.register()
    service.grant("off79", number, service.BHYT)
    key = {"Idempotency-Key": "retry-abc-123"}
    first = service.call("off79", "POST", "/v1/cards", json={"asxh_number": number}, headers=key)
    assert first.status_code == 201, first.text
    second = service.call("off79", "POST", "/v1/cards", json={"asxh_number": number}, headers=key)
    assert second.status_code == 200
    assert second.json()["serial"] == first.json()["serial"]
    assert second.json()["token"] == first.json()["token"]
    # Without the key, a new card; with the key for another person, a conflict.
    third = service.call("off79", "POST", "/v1/cards", json={"asxh_number": number})
    assert third.status_code == 201
    assert third.json()["serial"] != first.json()["serial"]
    other = service.register()
    service.grant("off79", other, service.BHYT)
    clash = service.call("off79", "POST", "/v1/cards", json={"asxh_number": other}, headers=key)
    assert clash.status_code == 409
    assert clash.json()["type"].endswith("/idempotency-key-reused")
    # Keys are per operator: another officer may use the same key.
    mine = service.call("admin", "POST", "/v1/cards", json={"asxh_number": other}, headers=key)
    assert mine.status_code == 201


def test_replace_lost_card(service: Any) -> None:
    number = service.register()
    service.grant("off79", number, service.BHYT)
    old = service.issue("off79", number)
    response = service.call(
        "off79",
        "POST",
        f"/v1/cards/{old['serial']}/replace",
        json={"reason_code": "lost", "note": "lost at the market"},
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["serial"] != old["serial"]
    assert new["replaces_serial"] == old["serial"]
    old_now = service.call("off79", "GET", f"/v1/cards/{old['serial']}").json()
    assert old_now["state"] == "revoked"
    assert old_now["replaced_by_serial"] == new["serial"]
    assert _verify(service, old["qr_text"])["reason"] == "revoked"
    assert _verify(service, new["qr_text"])["valid"] is True
    cards = service.call("off79", "GET", f"/v1/persons/{number}/cards").json()
    assert [c["serial"] for c in cards] == [new["serial"], old["serial"]]


def test_issue_needs_current_entitlements(service: Any) -> None:
    number = service.register()
    response = service.call("off79", "POST", "/v1/cards", json={"asxh_number": number})
    assert response.status_code == 409
    assert "no current entitlement" in response.json()["detail"]


def test_entitlement_update_and_end(service: Any) -> None:
    number = service.register()
    ent = service.grant("off79", number, service.TGXH)
    response = service.call(
        "off79", "PATCH", f"/v1/entitlements/{ent['id']}", json={"attributes": {"amount": 900000}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["attributes"] == {"amount": 900000}
    bad = service.call(
        "off79", "PATCH", f"/v1/entitlements/{ent['id']}", json={"attributes": {"amount": -1}}
    )
    assert bad.status_code == 422
    assert bad.json()["type"].endswith("/invalid-entitlement")
    card = service.issue("off79", number)
    claims = CardClaims.from_claims(parse_card_jws(card["token"])[1])
    assert dict(claims.entitlements[0].attributes) == {"amount": 900000}
    twice = service.call("off79", "POST", f"/v1/persons/{number}/entitlements", json=service.TGXH)
    assert twice.status_code == 409
    end = service.call(
        "off79",
        "POST",
        f"/v1/entitlements/{ent['id']}/end",
        json={"end_date": "2026-01-31", "reason_code": "eligibility_ended"},
    )
    assert end.status_code == 200, end.text
    assert end.json()["state"] == "ended"
    result = _verify(service, card["qr_text"])
    assert _states(result) == {"TGXH": "revoked"}
    # Ended: a new TGXH entitlement may be granted again.
    service.grant("off79", number, service.TGXH)


def test_ending_never_lengthens_the_window(service: Any) -> None:
    """``/end`` with a date after ``valid_to`` is refused, not an unvalidated extension.

    It used to set ``valid_to`` to the later date, bypassing the programme's checks that an
    update makes, while the docstring promised that ending only shortens the window.
    """
    number = service.register()
    ent = service.grant("off79", number, service.BHYT)
    late = service.call(
        "off79",
        "POST",
        f"/v1/entitlements/{ent['id']}/end",
        json={"end_date": "2027-06-30", "reason_code": "eligibility_ended"},
    )
    assert late.status_code == 422, late.text
    assert "valid_to" in late.json()["detail"]
    current = service.call("off79", "GET", f"/v1/entitlements/{ent['id']}").json()
    assert current["valid_to"] == service.BHYT["valid_to"]
    assert current["state"] == "active"
    same = service.call(
        "off79",
        "POST",
        f"/v1/entitlements/{ent['id']}/end",
        json={"end_date": service.BHYT["valid_to"], "reason_code": "eligibility_ended"},
    )
    assert same.status_code == 200, same.text


def test_renderings(service: Any) -> None:
    number = service.register()
    service.grant("off79", number, service.BHYT)
    serial = service.issue("off79", number)["serial"]
    expected = {
        "qr.png": ("image/png", b"\x89PNG"),
        "qr.svg": ("image/svg+xml", b"<"),
        "card.png": ("image/png", b"\x89PNG"),
        "print.pdf": ("application/pdf", b"%PDF"),
    }
    for name, (media, magic) in expected.items():
        response = service.call("auditor", "GET", f"/v1/cards/{serial}/{name}")
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].startswith(media)
        assert response.content.lstrip().startswith(magic) or (
            name == "qr.svg" and b"<svg" in response.content
        )

    from asxh_card.errors import InvalidInputError
    from asxh_card.service.rendering import render

    # An unknown kind is named as such, not reported as a broken token (it used to be parsed
    # first) nor a bare ValueError.
    with pytest.raises(InvalidInputError, match="unknown rendering"):
        render("card.jpg", token="not a token", qr_text="", registry=service.ctx.programmes)
    assert service.call("off79", "GET", f"/v1/cards/{serial}/qr.gif").status_code == 422


def test_verify_photo_upload(service: Any) -> None:
    number = service.register()
    service.grant("off79", number, service.BHYT)
    card = service.issue("off79", number)
    png = service.call("off79", "GET", f"/v1/cards/{card['serial']}/card.png").content
    response = service.call(
        "sp", "POST", "/v1/verify", files={"photo": ("card.png", png, "image/png")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    assert response.json()["serial"] == card["serial"]
    junk = service.call(
        "sp", "POST", "/v1/verify", files={"photo": ("x.png", b"not an image", "image/png")}
    )
    assert junk.status_code == 200
    assert junk.json()["valid"] is False
    assert junk.json()["reason"] == "malformed"


def test_verify_rejects_garbage_without_500(service: Any) -> None:
    for body in ({"qr_text": "asxh:/123"}, {"qr_text": "eyJ.x.y"}, {"qr_text": "hello"}):
        response = service.call("sp", "POST", "/v1/verify", json=body)
        assert response.status_code == 200
        assert response.json()["valid"] is False
    for raw, ctype in ((b"{", "application/json"), (b"qr", "text/plain")):
        response = service.call(
            "sp", "POST", "/v1/verify", content=raw, headers={"Content-Type": ctype}
        )
        assert response.status_code in (415, 422)
        assert response.headers["content-type"] == "application/problem+json"


def test_entitlement_revocation_reaches_every_card(service: Any) -> None:
    """An entitlement's status entry is flipped on every card that carries it.

    Two cards carry it at once only when issued by different issuers (one current card per
    person and issuer), so the older card here is checked in its status list directly.
    """
    number = service.register()
    service.grant("off79", number, service.BHYT)
    tgxh = service.grant("off79", number, service.TGXH)
    first = service.issue("off79", number)
    second = service.issue("off79", number)
    assert first["status"]["idx"] != second["status"]["idx"]
    for card in (first, second):
        assert [e["programme"] for e in card["entitlements"]] == ["BHYT", "TGXH"]
        assert [e["status"]["idx"] for e in card["entitlements"]] == [
            card["status"]["idx"] + 1,
            card["status"]["idx"] + 2,
        ]
    response = service.call(
        "off79", "POST", f"/v1/entitlements/{tgxh['id']}/suspend", json={"reason_code": "other"}
    )
    assert response.status_code == 200
    assert _states(_verify(service, second["qr_text"])) == {"BHYT": "active", "TGXH": "suspended"}
    for card in (first, second):
        tgxh_ref = card["entitlements"][1]["status"]
        assert _status_of(service, tgxh_ref["uri"], tgxh_ref["idx"]) == 2  # suspended
    # A card issued now leaves the suspended entitlement out.
    third = service.issue("off79", number)
    assert [e["programme"] for e in third["entitlements"]] == ["BHYT"]
    service.call(
        "off79", "POST", f"/v1/entitlements/{tgxh['id']}/reinstate", json={"reason_code": "other"}
    )
    for card in (first, second):
        tgxh_ref = card["entitlements"][1]["status"]
        assert _status_of(service, tgxh_ref["uri"], tgxh_ref["idx"]) == 0


def test_guardian_on_the_card(service: Any) -> None:
    child = service.register(full_name="Nguyễn Thị Mai", sex="F")
    parent = service.register(sex="M", date_of_birth="1980-02-03")  # registered as named below
    service.grant("off79", child, service.TGXH)
    guardian = {"asxh_number": parent, "name": "Trần Văn Hùng", "relation": "guardian"}
    response = service.call(
        "off79", "POST", "/v1/cards", json={"asxh_number": child, "guardian": guardian}
    )
    assert response.status_code == 201, response.text
    result = _verify(service, response.json()["qr_text"])
    assert result["guardian"]["asxh_number"] == parent
    itself = service.call(
        "off79",
        "POST",
        "/v1/cards",
        json={"asxh_number": child, "guardian": guardian | {"asxh_number": child}},
    )
    assert itself.status_code == 422
    bad_number = service.call(
        "off79",
        "POST",
        "/v1/cards",
        json={"asxh_number": child, "guardian": guardian | {"asxh_number": "79000000000"}},
    )
    assert bad_number.status_code == 422


def test_bhyt_facility_typed_as_printed_is_stored_normalised(service: Any) -> None:
    """Issue 13.7: "79 - 024", as printed on a BHYT card (domain-vn §2.4), is stored as 79-024."""
    number = service.register()
    body = dict(service.BHYT, attributes={"level": 2, "coverage": 100, "facility": "79 - 024"})
    granted = service.grant("off79", number, body)
    assert granted["attributes"]["facility"] == "79-024"
    _header, claims = parse_card_jws(service.issue("off79", number)["token"])
    assert "79-024" in str(claims)


def test_tgxh_amount_typed_in_thousands_is_refused(service: Any) -> None:
    """Issue 13.6: 750 for 750,000 đ is refused (422) with a message about the unit."""
    number = service.register()
    body = dict(service.TGXH, attributes={"amount": 750})
    response = service.call("off79", "POST", f"/v1/persons/{number}/entitlements", json=body)
    assert response.status_code == 422, response.text
    assert "not thousands" in response.json()["detail"]


def test_api_example_cites_the_right_clause_of_decree_20_2021(service: Any) -> None:
    """Issue 13.9: disability is Art. 5(6) of Decree 20/2021 (domain-vn Table F), not 5(5).

    Clause 5 is the elderly; clause 6 persons with disabilities, severe at coefficient 1.5,
    which with the 500,000 base is the example's 750,000.
    """
    spec = service.client.get("/openapi.json").json()
    text = str(spec)
    assert "severe disability" in text
    assert "Art. 5(5): person with a severe disability" not in text
    assert "Art. 5(6): person with a severe disability" in text


def test_invalid_input_problems_carry_vietnamese_detail(service: Any) -> None:
    """Issue 13.2: an officer reads why in Vietnamese (detail_vi), with diacritics, no PIN."""
    number = service.register()
    body = dict(service.TGXH, attributes={"amount": 750})
    response = service.call("off79", "POST", f"/v1/persons/{number}/entitlements", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert "không phải nghìn đồng" in problem["detail_vi"]
    assert "500.000 đ/tháng" in problem["detail_vi"]
    person = service.person(full_name="Nguyễn <b>")
    response = service.call("off79", "POST", "/v1/persons", json=person)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["detail_vi"] == "Họ tên chỉ được có chữ cái, dấu cách và các dấu ' - ."
    assert person["pin"] not in response.text
