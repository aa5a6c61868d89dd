"""Correctness gaps (issue 10 §3): one current card, no cross-province hints, whole-card rights."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asxh_card.ids import generate_asxh_number


def _cards(service: Any, number: str) -> list[dict[str, Any]]:
    response = service.call("off79", "GET", f"/v1/persons/{number}/cards")
    assert response.status_code == 200
    return list(response.json())


def test_issuing_again_leaves_one_current_card(service: Any) -> None:
    """Re-issuing without an Idempotency-Key used to pile up active cards (22 for one person).

    The new card supersedes the previous one: it is revoked and points to its successor.
    """
    number = service.register()
    service.grant("off79", number, service.BHYT)
    first = service.issue("off79", number)
    second = service.issue("off79", number)
    third = service.issue("off79", number)
    cards = {c["serial"]: c for c in _cards(service, number)}
    assert [c["state"] for c in cards.values()].count("active") == 1
    assert cards[third["serial"]]["state"] == "active"
    for old, new in ((first, second), (second, third)):
        assert cards[old["serial"]]["state"] == "revoked"
        assert cards[old["serial"]]["replaced_by_serial"] == new["serial"]
    result = service.call("off79", "POST", "/v1/verify", json={"qr_text": first["qr_text"]})
    assert result.json()["valid"] is False


def test_concurrent_issuance_leaves_one_current_card(service: Any) -> None:
    """Six issuances at once for one person end with exactly one current card."""
    number = service.register()
    service.grant("off79", number, service.BHYT)
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda _: service.issue("off79", number), range(6)))
    states = [c["state"] for c in _cards(service, number)]
    assert len(states) == 6
    assert states.count("active") == 1


def test_programme_limited_officer_cannot_revoke_a_whole_card(service: Any) -> None:
    """Attack: a BHYT-only officer revoking a card that also carries TGXH (a social allowance)."""
    number = service.register()
    service.grant("off79", number, service.BHYT)
    service.grant("off79", number, service.TGXH)
    card = service.issue("off79", number)
    for action in ("revoke", "suspend", "replace"):
        response = service.call(
            "off79bhyt",
            "POST",
            f"/v1/cards/{card['serial']}/{action}",
            json={"reason_code": "other"},
        )
        assert response.status_code == 403, (action, response.text)
        assert "TGXH" in response.json()["detail"]
    assert _cards(service, number)[0]["state"] == "active"
    # A card with BHYT only is theirs to suspend.
    other = service.register()
    service.grant("off79", other, service.BHYT)
    mine = service.issue("off79", other)
    response = service.call(
        "off79bhyt", "POST", f"/v1/cards/{mine['serial']}/suspend", json={"reason_code": "other"}
    )
    assert response.status_code == 200, response.text


def test_409_does_not_tell_another_province_that_a_pin_is_registered(service: Any) -> None:
    """Attack: an officer of province 01 probing PINs to learn they are registered in 79.

    The answer is the same as for an identifier held by another person of their own province,
    and names neither the province nor the person.
    """
    body = service.person("79")
    assert service.call("off79", "POST", "/v1/persons", json=body).status_code == 201
    elsewhere = service.call("off01", "POST", "/v1/persons", json=body)
    assert elsewhere.status_code == 409
    text = elsewhere.text.lower()
    assert "province" not in text
    assert "asxh_number" not in elsewhere.json()
    # The alias path: a BHXH number of a person of 79, and one of a person of 01 itself.
    theirs = service.register("off79", "79")
    mine, mine_too = service.register("off01", "01"), service.register("off01", "01")
    for owner_user, owner, value in (
        ("off79", theirs, "7912345678"),
        ("off01", mine, "0112345678"),
    ):
        alias = {"kind": "bhxh", "value": value}
        url = f"/v1/persons/{owner}/aliases"
        assert service.call(owner_user, "POST", url, json=alias).status_code in (200, 201)
    details = set()
    for value in ("7912345678", "0112345678"):
        response = service.call(
            "off01",
            "POST",
            f"/v1/persons/{mine_too}/aliases",
            json={"kind": "bhxh", "value": value},
        )
        assert response.status_code == 409, response.text
        details.add(response.json()["detail"])
    assert len(details) == 1  # the same answer whether the owner is in 79 or in 01


def test_guardian_must_be_a_registered_adult_the_officer_may_see(service: Any) -> None:
    """A card names as guardian whoever the officer typed: an unregistered number, someone of
    another province, a name that is not that person's, or a child.

    Before, the guardian's mã số ASXH was only checked for its shape and check digit, so a
    card could give a stranger (or nobody) the right to act for the holder.
    """
    child = service.register(date_of_birth="2019-03-04", sex="F")
    service.grant("off79", child, service.TGXH)
    parent = service.register(date_of_birth="1985-06-07", sex="M")  # "Trần Văn Hùng"
    elsewhere = service.register("off01", "01", date_of_birth="1980-01-02", sex="M")
    minor = service.register(date_of_birth="2015-01-01", sex="M")
    unknown = generate_asxh_number("79").value
    good = {"asxh_number": parent, "name": "Trần Văn Hùng", "relation": "guardian"}

    def issue(guardian: dict[str, Any]) -> Any:
        return service.call(
            "off79", "POST", "/v1/cards", json={"asxh_number": child, "guardian": guardian}
        )

    refused = {
        "unknown": issue(good | {"asxh_number": unknown}),
        "other province": issue(good | {"asxh_number": elsewhere}),
        "wrong name": issue(good | {"name": "Lê Văn Tám"}),
        "minor": issue(good | {"asxh_number": minor}),
        "the holder": issue(good | {"asxh_number": child}),
    }
    for case, response in refused.items():
        assert response.status_code == 422, (case, response.text)
        problem = response.json()
        assert problem["type"].endswith("validation-error"), (case, problem)
        assert "guardian" in problem["detail"], (case, problem)
        assert problem["detail_vi"], (case, problem)
    # The same answer for "not registered" and "registered in a province you may not see".
    assert refused["unknown"].json()["detail_vi"].replace(unknown, "N") == refused[
        "other province"
    ].json()["detail_vi"].replace(elsewhere, "N")
    assert "Hà Nội" not in refused["other province"].text
    accepted = issue(good | {"name": "TRẦN VĂN HÙNG"})  # case is not a different name
    assert accepted.status_code == 201, accepted.text
    verified = service.call(
        "sp", "POST", "/v1/verify", json={"qr_text": accepted.json()["qr_text"]}
    )
    assert verified.json()["guardian"]["asxh_number"] == parent
