"""Issue 9 §3 on the service: /v1/verify reports three outcomes, and never blames the client
(422) for the server's own trust data (status-list URIs under another public URL)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi.testclient import TestClient

from asxh_card.service.app import create_app
from asxh_card.service.context import ServiceContext


def _verify(client: TestClient, headers: dict[str, str], qr_text: str) -> Any:
    return client.post("/v1/verify", json={"qr_text": qr_text}, headers=headers)


def test_verify_outcomes_and_the_servers_own_list_url(service: Any) -> None:
    """A valid card says outcome "valid"; an invalid one "invalid" with the headline; and when
    the service's ASXH_PUBLIC_URL no longer matches the list URI its own card carries (the card
    is signed by its issuer, but its list is not under the issuer's status base any more), the
    answer is 503 not-ready naming ASXH_PUBLIC_URL: the server's configuration, neither an
    invalid card nor the client's error (it was a 422 validation error before)."""
    number = service.register()
    service.grant("off79", number, service.BHYT)
    card = service.issue("off79", number)
    headers = service.auth("off79")

    valid = _verify(service.client, headers, card["qr_text"])
    assert valid.status_code == 200, valid.text
    assert (valid.json()["valid"], valid.json()["outcome"]) == (True, "valid")

    forged = card["qr_text"][:-4] + ("0000" if not card["qr_text"].endswith("0000") else "1111")
    invalid = _verify(service.client, headers, forged).json()
    assert (invalid["valid"], invalid["outcome"]) == (False, "invalid")
    assert invalid["headline_vi"] == "THẺ KHÔNG HỢP LỆ"

    # The same database served under another public URL (e.g. `asxh serve --port 9000` with
    # ASXH_PUBLIC_URL still naming port 8000): the bundle's list URIs are not the server's.
    moved = dataclasses.replace(service.ctx.settings, public_url="http://127.0.0.1:9999")
    ctx = ServiceContext.build(moved)
    with TestClient(create_app(moved, context=ctx), client=("10.0.0.1", 5000)) as client:
        response = _verify(client, headers, card["qr_text"])
    assert response.status_code == 503, response.text
    problem = response.json()
    assert problem["type"].endswith("not-ready")
    assert "ASXH_PUBLIC_URL" in problem["detail"]
    assert "ASXH_PUBLIC_URL" in problem["detail_vi"]
