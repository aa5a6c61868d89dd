from __future__ import annotations

from typing import Any


def test_flow(service: Any) -> None:
    r = service.call("off79", "POST", "/v1/persons", json=service.person())
    assert r.status_code == 201, r.text
    number = r.json()["asxh_number"]
    r = service.call("off79", "POST", f"/v1/persons/{number}/entitlements", json=service.BHYT)
    assert r.status_code == 201, r.text
    r = service.call("off79", "POST", f"/v1/persons/{number}/entitlements", json=service.TGXH)
    assert r.status_code == 201, r.text
    r = service.call("off79", "POST", "/v1/cards", json={"asxh_number": number})
    assert r.status_code == 201, r.text
    card = r.json()
    r = service.call("off79", "POST", "/v1/verify", json={"qr_text": card["qr_text"]})
    assert r.status_code == 200, r.text
    print(r.json())
    assert r.json()["valid"] is True
    r = service.call(
        "off79", "POST", f"/v1/cards/{card['serial']}/revoke", json={"reason_code": "lost"}
    )
    assert r.status_code == 200, r.text
    r = service.call("off79", "POST", "/v1/verify", json={"qr_text": card["qr_text"]})
    print(r.json())
    assert r.json()["valid"] is False
