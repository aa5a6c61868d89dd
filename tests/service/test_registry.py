"""The registry: PIN → mã số ASXH, reconciliation, provisional persons, aliases, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asxh_card.errors import InvalidInputError
from asxh_card.ids import parse_asxh_number
from asxh_card.service import registry

FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


def test_same_pin_same_number(service: Any) -> None:
    body = service.person()
    first = service.call("off79", "POST", "/v1/persons", json=body)
    assert first.status_code == 201, first.text
    number = first.json()["asxh_number"]
    assert parse_asxh_number(number).province_code == "79"
    assert first.json()["pin_masked"] == "*********" + body["pin"][-3:]
    again = service.call("off79", "POST", "/v1/persons", json=body)
    assert again.status_code == 200
    assert again.json()["asxh_number"] == number
    # Whitespace-only differences do not count as differences.
    spaced = {**body, "full_name": "  " + body["full_name"].replace(" ", "  ") + " "}
    assert service.call("off79", "POST", "/v1/persons", json=spaced).json()["asxh_number"] == number


def test_pin_checked_against_dob_and_sex(service: Any) -> None:
    body = service.person(sex="M")
    wrong_sex = {**body, "sex": "F"}
    response = service.call("off79", "POST", "/v1/persons", json=wrong_sex)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "https://asxh.gov.vn/problems/invalid-identifier"
    assert body["pin"] not in response.text
    assert body["pin"][3:] not in response.text
    wrong_year = {**body, "date_of_birth": "1899-01-01"}
    assert service.call("off79", "POST", "/v1/persons", json=wrong_year).status_code == 422
    for pin in ("12345", "0791900012345", "abcdefghijkl", "979190001234".translate(FULLWIDTH)):
        response = service.call("off79", "POST", "/v1/persons", json={**body, "pin": pin})
        assert response.status_code == 422, pin


def test_differing_fields_open_a_reconciliation(service: Any) -> None:
    body = service.person()
    number = service.call("off79", "POST", "/v1/persons", json=body).json()["asxh_number"]
    changed = {**body, "full_name": "Lê Thị Hoa", "permanent_address": "99 Hai Bà Trưng"}
    response = service.call("off79", "POST", "/v1/persons", json=changed)
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"].endswith("/reconciliation-required")
    assert problem["asxh_number"] == number
    assert sorted(problem["differing_fields"]) == ["full_name", "permanent_address"]
    rec_id = problem["reconciliation_id"]
    # Nothing was overwritten.
    person = service.call("off79", "GET", f"/v1/persons/{number}").json()
    assert person["full_name"] == body["full_name"]
    # The same submission again reuses the open reconciliation.
    again = service.call("off79", "POST", "/v1/persons", json=changed).json()
    assert again["reconciliation_id"] == rec_id
    listed = service.call("auditor79", "GET", "/v1/reconciliations").json()
    assert rec_id in [r["id"] for r in listed]
    rec = service.call("off79", "GET", f"/v1/reconciliations/{rec_id}").json()
    assert rec["current"]["full_name"] == body["full_name"]
    assert rec["submitted"]["full_name"] == "Lê Thị Hoa"
    # Accept only the address.
    resolved = service.call(
        "off79",
        "POST",
        f"/v1/reconciliations/{rec_id}/resolve",
        json={"action": "accept", "fields": ["permanent_address"], "note": "moved"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    person = service.call("off79", "GET", f"/v1/persons/{number}").json()
    assert person["permanent_address"] == "99 Hai Bà Trưng"
    assert person["full_name"] == body["full_name"]
    twice = service.call(
        "off79", "POST", f"/v1/reconciliations/{rec_id}/resolve", json={"action": "reject"}
    )
    assert twice.status_code == 409


def test_reject_keeps_registry_data(service: Any) -> None:
    body = service.person()
    number = service.call("off79", "POST", "/v1/persons", json=body).json()["asxh_number"]
    response = service.call("off79", "POST", "/v1/persons", json={**body, "hometown": "Huế"})
    rec_id = response.json()["reconciliation_id"]
    resolved = service.call(
        "off79", "POST", f"/v1/reconciliations/{rec_id}/resolve", json={"action": "reject"}
    )
    assert resolved.json()["resolution"] == "reject"
    assert (
        service.call("off79", "GET", f"/v1/persons/{number}").json()["hometown"] == body["hometown"]
    )


def test_provisional_then_link_pin_keeps_number(service: Any) -> None:
    body = service.person(sex="F")
    provisional = {
        "full_name": body["full_name"],
        "date_of_birth": body["date_of_birth"],
        "sex": "F",
        "commune": "Xã Cần Giờ",
    }
    response = service.call("off79", "POST", "/v1/persons/provisional", json=provisional)
    assert response.status_code == 201, response.text
    person = response.json()
    assert person["provisional"] is True
    assert person["pin_masked"] is None
    number = person["asxh_number"]
    # A PIN that disagrees with the date of birth is refused.
    male_pin = service.person(sex="M", date_of_birth=body["date_of_birth"])["pin"]
    bad = service.call("off79", "POST", f"/v1/persons/{number}/pin", json={"pin": male_pin})
    assert bad.status_code == 422
    linked = service.call("off79", "POST", f"/v1/persons/{number}/pin", json={"pin": body["pin"]})
    assert linked.status_code == 200, linked.text
    assert linked.json()["asxh_number"] == number
    assert linked.json()["provisional"] is False
    # Registering by that PIN now finds the same person.
    found = service.call("off79", "POST", "/v1/persons/lookup", json={"pin": body["pin"]})
    assert found.json()["asxh_number"] == number
    # The PIN cannot be linked to another provisional person.
    other = service.call("off79", "POST", "/v1/persons/provisional", json=provisional).json()
    clash = service.call(
        "off79", "POST", f"/v1/persons/{other['asxh_number']}/pin", json={"pin": body["pin"]}
    )
    assert clash.status_code == 409
    missing = {k: v for k, v in provisional.items() if k != "commune"}
    assert service.call("off79", "POST", "/v1/persons/provisional", json=missing).status_code == 422


def test_aliases_resolve_to_the_person(service: Any) -> None:
    number = service.register()
    for kind, value in (("cmnd", "123456789"), ("bhyt", "HN4790123456789")):
        response = service.call(
            "off79", "POST", f"/v1/persons/{number}/aliases", json={"kind": kind, "value": value}
        )
        assert response.status_code == 200, response.text
    person = service.call("off79", "GET", f"/v1/persons/{number}").json()
    assert {a["kind"] for a in person["aliases"]} == {"cmnd", "bhyt", "bhxh"}
    assert all(a["masked"].startswith("*") for a in person["aliases"])
    for query in (
        {"cmnd": "123456789"},
        {"bhyt_code": "hn 4 79 0123456789"},
        {"bhxh_number": "0123456789"},
        {"bhyt_code": "DN2790123456789"},  # another card code with the same BHXH number
    ):
        found = service.call("off79", "POST", "/v1/persons/lookup", json=query)
        assert found.status_code == 200, (query, found.text)
        assert found.json()["asxh_number"] == number
    other = service.register()
    taken = service.call(
        "off79", "POST", f"/v1/persons/{other}/aliases", json={"kind": "cmnd", "value": "123456789"}
    )
    assert taken.status_code == 409
    assert (
        service.call("off79", "POST", "/v1/persons/lookup", json={"cmnd": "999999999"}).status_code
        == 404
    )
    two = service.call("off79", "POST", "/v1/persons/lookup", json={"cmnd": "1", "pin": "2"})
    assert two.status_code == 422
    bad = service.call(
        "off79", "POST", f"/v1/persons/{number}/aliases", json={"kind": "cmnd", "value": "12"}
    )
    assert bad.status_code == 422


def test_concurrent_registration_of_one_pin(service: Any) -> None:
    body = service.person()
    headers = service.auth("off79")

    def register(_: int) -> tuple[int, str]:
        response = service.client.post("/v1/persons", json=body, headers=headers)
        return response.status_code, response.json().get("asxh_number", response.text)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(register, range(16)))
    statuses = sorted(code for code, _ in results)
    assert statuses.count(201) == 1, results
    assert set(statuses) <= {200, 201}, results
    assert len({number for _, number in results}) == 1


def test_concurrent_registration_at_the_service_layer(service: Any) -> None:
    """Separate sessions racing on one PIN, without HTTP in between."""
    from datetime import date

    from asxh_card.service import registry
    from asxh_card.service.audit import Actor
    from asxh_card.service.db import session_scope
    from asxh_card.service.registry import PersonData
    from asxh_card.service.security import Principal

    body = service.person()
    data = PersonData(
        full_name=body["full_name"],
        date_of_birth=date.fromisoformat(body["date_of_birth"]),
        sex=body["sex"],
        hometown=body["hometown"],
        permanent_address=body["permanent_address"],
    )
    who = Actor(Principal("off79", "issuer_officer", "79", ("BHYT",)))
    ctx = service.ctx

    def register(_: int) -> str:
        with session_scope(ctx.sessions) as session:
            outcome = registry.register(
                session, ctx.protector, who, province="79", pin=body["pin"], data=data
            )
            return outcome.person.asxh_number

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = set(pool.map(register, range(12)))
    assert len(numbers) == 1


def test_national_admin_chooses_the_province(service: Any) -> None:
    body = service.person(province="01")
    missing = service.call("admin", "POST", "/v1/persons", json=body)
    assert missing.status_code == 422
    response = service.call("admin", "POST", "/v1/persons", json={**body, "province": "01"})
    assert response.status_code == 201
    assert response.json()["province"] == "01"
    closed = service.call(
        "admin", "POST", "/v1/persons", json={**service.person(), "province": "02"}
    )
    assert closed.status_code == 422


def test_pin_registered_in_another_province(service: Any) -> None:
    body = service.person()
    service.call("off79", "POST", "/v1/persons", json=body)
    response = service.call("off01", "POST", "/v1/persons", json=body)
    assert response.status_code == 409
    assert "asxh_number" not in response.json()
    assert (
        service.call("off01", "POST", "/v1/persons/lookup", json={"pin": body["pin"]}).status_code
        == 404
    )


def test_reconciling_the_date_of_birth_keeps_the_pin_consistent(service: Any) -> None:
    body = service.person(date_of_birth="1980-03-04")
    number = service.call("off79", "POST", "/v1/persons", json=body).json()["asxh_number"]
    same_year = service.call(
        "off79", "POST", "/v1/persons", json=body | {"date_of_birth": "1980-11-30"}
    )
    rec = same_year.json()["reconciliation_id"]
    accepted = service.call(
        "off79", "POST", f"/v1/reconciliations/{rec}/resolve", json={"action": "accept"}
    )
    assert accepted.status_code == 200, accepted.text
    person = service.call("off79", "GET", f"/v1/persons/{number}").json()
    assert person["date_of_birth"] == "1980-11-30"
    unknown = service.call(
        "off79", "POST", f"/v1/reconciliations/{rec}/resolve", json={"action": "maybe"}
    )
    assert unknown.status_code == 422


def test_bhyt_code_embedding_another_persons_bhxh_number_is_refused(service: Any) -> None:
    """Attack: attach person A's BHXH number to person B through a BHYT card code.

    The code's BHXH number used to be skipped silently when it was another person's alias, so
    the code resolved to B while its BHXH number (and any other code with it) resolved to A.
    """
    owner = service.register()
    response = service.call(
        "off79",
        "POST",
        f"/v1/persons/{owner}/aliases",
        json={"kind": "bhxh", "value": "0987654321"},
    )
    assert response.status_code == 200, response.text
    other = service.register()
    clash = service.call(
        "off79",
        "POST",
        f"/v1/persons/{other}/aliases",
        json={"kind": "bhyt", "value": "HN4790987654321"},
    )
    assert clash.status_code == 409, clash.text
    assert "bhxh" in clash.json()["detail"]
    aliases = service.call("off79", "GET", f"/v1/persons/{other}").json()["aliases"]
    assert aliases == []
    found = service.call(
        "off79", "POST", "/v1/persons/lookup", json={"bhyt_code": "HN4790987654321"}
    )
    assert found.json()["asxh_number"] == owner
    # The owner may add the code: its BHXH number is already theirs.
    mine = service.call(
        "off79",
        "POST",
        f"/v1/persons/{owner}/aliases",
        json={"kind": "bhyt", "value": "HN4790987654321"},
    )
    assert mine.status_code == 200, mine.text
    kinds = sorted(
        a["kind"] for a in service.call("off79", "GET", f"/v1/persons/{owner}").json()["aliases"]
    )
    assert kinds == ["bhxh", "bhyt"]


def _person_data(body: dict[str, Any], **changes: Any) -> Any:
    from datetime import date

    from asxh_card.service.registry import PersonData

    fields = {
        "full_name": body["full_name"],
        "date_of_birth": date.fromisoformat(body["date_of_birth"]),
        "sex": body["sex"],
        "hometown": body["hometown"],
        "permanent_address": body["permanent_address"],
    }
    return PersonData(**(fields | changes))


def test_refused_reconciliation_changes_no_field(service: Any) -> None:
    """Accepting a name and a birth year the PIN contradicts changes neither, not the name only.

    The name used to be set on the person before the birth date was found to contradict the
    PIN, so a caller that caught the error and committed kept half the reconciliation.
    """
    from datetime import date

    import pytest

    from asxh_card.errors import IdentifierError
    from asxh_card.service import registry
    from asxh_card.service.audit import Actor
    from asxh_card.service.db import session_scope
    from asxh_card.service.security import Principal

    who = Actor(Principal("off79", "issuer_officer", "79", ("BHYT",)))
    ctx = service.ctx
    body = service.person(date_of_birth="1970-05-06")
    with session_scope(ctx.sessions) as session:
        person = registry.register(
            session, ctx.protector, who, province="79", pin=body["pin"], data=_person_data(body)
        ).person
        changed = _person_data(body, full_name="Lê Văn Tám", date_of_birth=date(1970, 7, 8))
        reconciliation = registry.register(
            session, ctx.protector, who, province="79", pin=body["pin"], data=changed
        ).reconciliation
        assert reconciliation is not None
        # Another birth year: only possible by editing the stored submission (it cannot be
        # submitted with this PIN), as a tampered or stale reconciliation row would be.
        reconciliation.submitted = reconciliation.submitted | {"date_of_birth": "1971-07-08"}
        with pytest.raises(IdentifierError):
            registry.resolve_reconciliation(
                session, ctx.protector, who, reconciliation, action="accept", fields=None, note=None
            )
        assert person.full_name == body["full_name"]
        assert person.date_of_birth == date(1970, 5, 6)
        assert reconciliation.state == "open"


def test_born_today_in_vietnam_before_utc_midnight(service: Any, monkeypatch: Any) -> None:
    """A child born today in Vietnam registers during the 7 hours its UTC date is yesterday."""
    import random
    from datetime import UTC, date, datetime

    import pytest

    from asxh_card.errors import InvalidInputError
    from asxh_card.service import registry
    from asxh_card.service.audit import Actor
    from asxh_card.service.db import session_scope
    from asxh_card.service.demo import synthetic_pin
    from asxh_card.service.security import Principal

    # 01:30 on 2 March in Vietnam is 18:30 on 1 March in UTC.
    monkeypatch.setattr(registry, "utc_now", lambda: datetime(2026, 3, 1, 18, 30, tzinfo=UTC))
    who = Actor(Principal("off79", "issuer_officer", "79", ("BHYT",)))
    ctx = service.ctx
    rng = random.Random()
    for born, ok in ((date(2026, 3, 2), True), (date(2026, 3, 3), False)):
        body = service.person(date_of_birth=born.isoformat(), sex="F")
        body["pin"] = synthetic_pin(rng, "079", born, "F")
        with session_scope(ctx.sessions) as session:
            if ok:
                registry.register(
                    session,
                    ctx.protector,
                    who,
                    province="79",
                    pin=body["pin"],
                    data=_person_data(body),
                )
            else:
                with pytest.raises(InvalidInputError, match="today"):
                    registry.register(
                        session,
                        ctx.protector,
                        who,
                        province="79",
                        pin=body["pin"],
                        data=_person_data(body),
                    )


def test_provincial_operator_without_a_province_sees_no_other_province(service: Any) -> None:
    """Scope escape through a missing province: only national roles see every province.

    An officer principal whose token carries no province (a misconfigured account) used to pass
    the registry's own copy of the rule ("no province = everywhere") and could reconcile a
    person of province 79 from anywhere; the one rule (Principal.sees) refuses it.
    """
    from datetime import date

    import pytest

    from asxh_card.service import registry
    from asxh_card.service.audit import Actor
    from asxh_card.service.db import session_scope
    from asxh_card.service.errors import ConflictError
    from asxh_card.service.registry import PersonData
    from asxh_card.service.security import Principal

    body = service.person()
    assert service.call("off79", "POST", "/v1/persons", json=body).status_code == 201
    data = PersonData(
        full_name=body["full_name"] + " Khác",
        date_of_birth=date.fromisoformat(body["date_of_birth"]),
        sex=body["sex"],
        hometown=body["hometown"],
        permanent_address=body["permanent_address"],
    )
    nowhere = Actor(Principal("ghost", "issuer_officer", None, ("BHYT",)))
    assert not nowhere.principal.sees("79")
    assert Principal("admin", "national_admin", None, ()).sees("79")
    with session_scope(service.ctx.sessions) as session, pytest.raises(ConflictError) as info:
        registry.register(
            session, service.ctx.protector, nowhere, province="01", pin=body["pin"], data=data
        )
    assert "national administrator" in str(info.value)


@pytest.mark.parametrize("bad", ["a\x07b", "Phường\u200bSài Gòn", "12 Lê Lợi\u202e", "x\ue000y"])
def test_text_fields_refuse_control_format_and_private_characters(bad: str) -> None:
    """Spoofing attack: invisible or reordering characters (bell, zero-width space, right-to-
    left override, private use) in an address are refused, never stored."""
    with pytest.raises(InvalidInputError, match="control characters"):
        registry.clean_text(bad, "permanent_address")


def test_text_fields_keep_vietnamese_text_and_fold_spaces() -> None:
    """Vietnamese letters and punctuation pass; runs of spaces (also no-break) become one."""
    assert (
        registry.clean_text(" 12  Lê Lợi,\u00a0Phường Sài Gòn ", "permanent_address")
        == "12 Lê Lợi, Phường Sài Gòn"
    )
