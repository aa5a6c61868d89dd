"""Issue 13.4: the BHYT group is a structured field; outdated levels are listed and re-issued.

From reference/domain-vn.md §3.2-3.3: near-poor households (CN) were at level 3 (95 %) and
moved to level 2 (100 %) on 1 Jan 2026, as social-pension recipients aged 75+ (LH, 4 -> 2). A
card printed before that carries the old level; the province lists such holders and re-issues
their cards in bulk through the replace path (one current card per person).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from asxh_card.card import parse_card_jws
from asxh_card.cli import app as cli
from asxh_card.cli.ops import cli_actor
from asxh_card.service import bhyt
from asxh_card.service.db import session_scope
from asxh_card.service.models import EntitlementRow

from .conftest import cli_env

BHYT_CN = {
    "programme": "BHYT",
    "valid_from": "2025-07-01",
    "valid_to": "2027-12-31",
    "attributes": {"facility": "79 - 024"},
    "bhyt_group": "CN",
}


def _card_level(service: Any, serial: str) -> int:
    card = service.call("off79", "GET", f"/v1/cards/{serial}").json()
    _header, payload = parse_card_jws(card["token"]) if "token" in card else (None, None)
    if payload is None:  # the token is not in the response: read it from the database
        from asxh_card.service.models import CardRow

        with session_scope(service.ctx.sessions) as session:
            row = session.scalars(select(CardRow).where(CardRow.serial == serial)).one()
            _header, payload = parse_card_jws(row.token)
    bhyt = next(e for e in payload["ent"] if e[0] == "BHYT")
    return int(bhyt[3])


def _printed_in_2025(service: Any, number: str, group: str, level: int, coverage: int) -> str:
    """A holder whose BHYT record and card date from 2025: the old level, the group as data."""
    body = dict(BHYT_CN, bhyt_group=None)
    body["attributes"] = {"level": level, "coverage": coverage, "facility": "79-024"}
    entitlement = service.grant("off79", number, body)
    with session_scope(service.ctx.sessions) as session:
        row = session.get(EntitlementRow, entitlement["id"])
        assert row is not None
        row.bhyt_group = group  # the group recorded as data, level as printed in 2025
    return str(service.issue("off79", number)["serial"])


def test_group_is_a_structured_field_and_sets_the_level(service: Any) -> None:
    """Granting CN without a level gives level 2, coverage 100 (today is after 1 Jan 2026)."""
    number = service.register()
    out = service.grant("off79", number, BHYT_CN)
    assert out["bhyt_group"] == "CN"
    assert out["attributes"] == {"level": 2, "coverage": 100, "facility": "79-024"}
    card = service.issue("off79", number)
    assert _card_level(service, card["serial"]) == 2
    assert "CN" not in card["qr_text"] if "qr_text" in card else True
    # The group is sensitive: an auditor does not see it.
    seen = service.call("auditor79", "GET", f"/v1/entitlements/{out['id']}").json()
    assert seen["bhyt_group"] is None


def test_wrong_level_or_unknown_group_is_refused_in_vietnamese(service: Any) -> None:
    """CN at level 3 after 1 Jan 2026, an unknown group, a group on TGXH: 422 with detail_vi."""
    number = service.register()
    url = f"/v1/persons/{number}/entitlements"
    body = dict(BHYT_CN, attributes={"level": 3, "coverage": 95, "facility": "79-024"})
    response = service.call("off79", "POST", url, json=body)
    assert response.status_code == 422, response.text
    assert "nhóm đối tượng CN có mức hưởng 2" in response.json()["detail_vi"]
    response = service.call("off79", "POST", url, json=dict(BHYT_CN, bhyt_group="ZZ"))
    assert response.status_code == 422, response.text
    assert "mã đối tượng" in response.json()["detail_vi"]
    tgxh = dict(service.TGXH, bhyt_group="BT")
    response = service.call("off79", "POST", url, json=tgxh)
    assert response.status_code == 422, response.text
    response = service.call("off79", "POST", url, json=dict(BHYT_CN, bhyt_group="cn"))
    assert response.status_code == 422, response.text
    assert "detail_vi" in response.json()


def test_patch_leaves_level_and_coverage_to_the_group_unless_given(service: Any) -> None:
    """PATCH /v1/entitlements/{id}: what the caller does not give, the group settles.

    The same group re-derives a level that moved (CN 3 -> 2 on 1 Jan 2026) on any change; a new
    group gives its own level, or keeps a given one it allows (422 otherwise); a group whose
    level VSS gives (PV) keeps the stored level while the group stays, and needs one given
    when it is new (never the previous group's)."""
    number = service.register()
    ent_id = service.grant("off79", number, dict(BHYT_CN, attributes={"facility": "79-024"}))["id"]
    with session_scope(service.ctx.sessions) as session:
        row = session.get(EntitlementRow, ent_id)
        assert row is not None
        row.attributes = {"level": 3, "coverage": 95, "facility": "79-024"}  # as in 2025
    url = f"/v1/entitlements/{ent_id}"

    def patch(body: dict[str, Any]) -> Any:
        return service.call("off79", "PATCH", url, json=body)

    def level() -> tuple[str, int, int]:
        out = service.call("off79", "GET", url).json()
        return out["bhyt_group"], out["attributes"]["level"], out["attributes"]["coverage"]

    assert patch({"valid_to": "2027-06-30"}).status_code == 200
    assert level() == ("CN", 2, 100)
    assert patch({"bhyt_group": "HT"}).status_code == 200
    assert level() == ("HT", 3, 95)
    moved = patch({"bhyt_group": "TE", "attributes": {"facility": "79-024", "level": 1}})
    assert moved.status_code == 200, moved.text
    assert level() == ("TE", 1, 100)
    wrong = patch({"bhyt_group": "CN", "attributes": {"facility": "79-024", "level": 1}})
    assert wrong.status_code == 422
    assert "nhóm đối tượng CN có mức hưởng 2" in wrong.json()["detail_vi"]
    unsettled = patch({"bhyt_group": "PV"})
    assert unsettled.status_code == 422
    assert "hãy nhập mức hưởng" in unsettled.json()["detail_vi"]
    assert level() == ("TE", 1, 100)
    given = patch({"bhyt_group": "PV", "attributes": {"facility": "79-024", "level": 4}})
    assert given.status_code == 200, given.text
    assert level() == ("PV", 4, 80)
    kept = patch({"attributes": {"facility": "79-001"}})
    assert kept.status_code == 200, kept.text
    assert level() == ("PV", 4, 80)
    assert service.call("off79", "GET", url).json()["attributes"]["facility"] == "79-001"


def test_outdated_levels_are_listed_and_reissued(service: Any) -> None:
    """A CN card at level 3 and an LH card at level 4 are listed, re-issued, then gone."""
    cn, lh, ok = service.register(), service.register(), service.register()
    old_cn = _printed_in_2025(service, cn, "CN", 3, 95)
    old_lh = _printed_in_2025(service, lh, "LH", 4, 80)
    service.grant("off79", ok, BHYT_CN)
    fine = service.issue("off79", ok)["serial"]
    listed = service.call("off79", "GET", "/v1/bhyt/outdated-levels").json()
    rows = {r["serial"]: r for r in listed}
    assert rows[old_cn]["card_level"] == 3
    assert rows[old_cn]["expected_level"] == 2
    assert rows[old_lh]["card_level"] == 4
    assert rows[old_lh]["bhyt_group"] == "LH"
    assert fine not in rows
    first = service.call("off79", "GET", "/v1/bhyt/outdated-levels?limit=1").json()
    assert first == listed[:1]
    # On 31 Dec 2025 the CN card was right and the new one would have been wrong.
    before = service.call("off79", "GET", "/v1/bhyt/outdated-levels?on=2025-12-31").json()
    assert old_cn not in {r["serial"] for r in before}
    assert fine in {r["serial"] for r in before}

    url = "/v1/bhyt/outdated-levels/reissue"
    response = service.call("off79", "POST", url, json={"serials": [old_cn, old_lh]})
    assert response.status_code == 200, response.text
    report = response.json()
    assert set(report["reissued"]) == {old_cn, old_lh}
    assert report["failed"] == {}
    for number, old in ((cn, old_cn), (lh, old_lh)):
        new = report["reissued"][old]
        assert _card_level(service, new) == 2
        cards = service.call("off79", "GET", f"/v1/persons/{number}/cards").json()
        current = [c for c in cards if c["state"] in ("active", "suspended")]
        assert [c["serial"] for c in current] == [new]  # one current card per person
        old_card = next(c for c in cards if c["serial"] == old)
        assert old_card["state"] == "revoked"
    ents = service.call("off79", "GET", f"/v1/persons/{cn}/entitlements").json()
    assert ents[0]["attributes"]["level"] == 2
    assert ents[0]["attributes"]["coverage"] == 100
    after = service.call("off79", "GET", "/v1/bhyt/outdated-levels").json()
    assert not {old_cn, old_lh, *report["reissued"].values()} & {r["serial"] for r in after}
    again = service.call("off79", "POST", url, json={"serials": [old_cn]}).json()
    assert again == {"reissued": {}, "failed": {}, "failed_vi": {}}


def test_only_who_manages_bhyt_in_the_province_sees_the_list(service: Any) -> None:
    """Another province's officer, an auditor, a service point: 403 (the group is sensitive)."""
    assert service.call("off01", "GET", "/v1/bhyt/outdated-levels?province=79").status_code == 403
    assert service.call("auditor79", "GET", "/v1/bhyt/outdated-levels").status_code == 403
    assert service.call("sp", "GET", "/v1/bhyt/outdated-levels").status_code == 403
    response = service.call("off01", "GET", "/v1/bhyt/outdated-levels?province=99")
    assert response.status_code == 403  # permission before the province code is judged
    response = service.call("admin", "GET", "/v1/bhyt/outdated-levels")
    assert response.status_code == 422
    assert response.json()["detail_vi"] == "Hãy ghi rõ tỉnh (?province=NN)."
    assert service.call("admin", "GET", "/v1/bhyt/outdated-levels?province=79").status_code == 200


def test_cli_lists_and_reissues(service: Any) -> None:
    """``asxh bhyt-levels --province 79``: exit 1 while cards are outdated, 0 after --reissue."""
    import json

    number = service.register()
    old = _printed_in_2025(service, number, "CN", 3, 95)
    root_jwk = service.ctx.settings.var_dir / "root-public.jwk"
    root_jwk.write_text(json.dumps(service.ctx.keyring.root_signer().public_key.to_jwk()))
    # Production shape: the command holds no root key, it checks bundles against the pin.
    env = cli_env(service.ctx) | {"ASXH_ROOT_PUBLIC_KEY_FILE": str(root_jwk)}
    listed = CliRunner().invoke(cli, ["bhyt-levels", "--province", "79"], env=env)
    assert listed.exit_code == 1, listed.output
    assert old in listed.output
    bad = CliRunner().invoke(cli, ["bhyt-levels", "--province", "02"], env=env)
    assert bad.exit_code == 2
    # The re-issue the command runs (in process: this test world signs its own bundles; a
    # production command needs a published bundle naming the issuer's key, as every status
    # change does under the fail-closed trust model).
    report = bhyt.reissue_outdated(service.ctx, cli_actor(), "79", date(2026, 1, 1))
    assert old in report.reissued, report
    clean = CliRunner().invoke(cli, ["bhyt-levels", "--province", "79"], env=env)
    assert clean.exit_code == 0, clean.output
    assert "0 thẻ / cards." in clean.output


def test_migration_turns_group_codes_in_category_into_the_group(tmp_path: Path) -> None:
    """Migration 0005: BHYT entitlements recorded with a group code as free-text category get it
    as their structured group (so the outdated-level list finds them); other rows stay."""
    from sqlalchemy import text

    from asxh_card.service.db import make_engine
    from asxh_card.service.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0004")
    engine = make_engine(url)
    now = "2025-06-01 00:00:00.000000"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO persons (id, asxh_number, province, full_name, date_of_birth, sex, "
                "provisional, created_at, updated_at) VALUES "
                "(1, '79123456785', '79', 'A', '1950-01-01', 'F', 0, :now, :now)"
            ),
            {"now": now},
        )
        for ent_id, programme, category in (
            (1, "BHYT", "CN"),
            (2, "BHYT", " lh "),
            (3, "BHYT", "near-poor household"),
            (4, "TGXH", "CN"),
        ):
            conn.execute(
                text(
                    "INSERT INTO entitlements (id, person_id, province, programme, valid_from, "
                    "attributes, category, state, created_by, created_at, updated_at) VALUES "
                    "(:id, 1, '79', :programme, '2025-07-01', '{}', :category, 'active', 't', "
                    ":now, :now)"
                ),
                {"id": ent_id, "programme": programme, "category": category, "now": now},
            )
    upgrade(url)
    with engine.connect() as conn:
        groups = dict(conn.execute(text("SELECT id, bhyt_group FROM entitlements")).all())
    engine.dispose()
    assert groups == {1: "CN", 2: "LH", 3: None, 4: None}


def _payload(service: Any, serial: str) -> dict[str, Any]:
    from asxh_card.service.models import CardRow

    with session_scope(service.ctx.sessions) as session:
        row = session.scalars(select(CardRow).where(CardRow.serial == serial)).one()
        return parse_card_jws(row.token)[1]


def test_reissue_and_replace_keep_the_guardian(service: Any) -> None:
    """A card with a guardian re-issued for its level (or replaced) keeps the guardian block."""
    child = service.register()
    # The guardian is a registered adult, named as registered (issue 10).
    parent = service.register(full_name="Nguyễn Văn Bố", sex="M", date_of_birth="1975-04-05")
    body = dict(BHYT_CN, bhyt_group=None)
    body["attributes"] = {"level": 3, "coverage": 95, "facility": "79-024"}
    entitlement = service.grant("off79", child, body)
    with session_scope(service.ctx.sessions) as session:
        row = session.get(EntitlementRow, entitlement["id"])
        assert row is not None
        row.bhyt_group = "CN"
    guardian = {"asxh_number": parent, "name": "Nguyễn Văn Bố", "relation": "guardian"}
    issued = service.call(
        "off79", "POST", "/v1/cards", json={"asxh_number": child, "guardian": guardian}
    )
    assert issued.status_code == 201, issued.text
    card = issued.json()
    assert _payload(service, card["serial"])["gdn"]["sub"] == parent
    url = "/v1/bhyt/outdated-levels/reissue"
    report = service.call("off79", "POST", url, json={"serials": [card["serial"]]}).json()
    new = report["reissued"][card["serial"]]
    assert _payload(service, new)["gdn"] == {
        "sub": parent,
        "name": "Nguyễn Văn Bố",
        "rel": "guardian",
    }
    replace = {"reason_code": "damaged", "note": "rách"}
    again = service.call("off79", "POST", f"/v1/cards/{new}/replace", json=replace)
    assert again.status_code == 201, again.text
    assert _payload(service, again.json()["serial"])["gdn"]["sub"] == parent


def test_an_officer_without_bhyt_is_refused_before_the_body_is_judged(service: Any) -> None:
    """A TGXH-only officer: 403 on the list and on a re-issue with a broken body (not 422)."""
    from .conftest import PASSWORD

    body = {
        "username": "tgxh.only",
        "password": PASSWORD,
        "role": "issuer_officer",
        "province": "79",
        "programmes": ["TGXH"],
    }
    created = service.call("admin", "POST", "/v1/admin/operators", json=body)
    assert created.status_code == 201, created.text
    listed = service.call("tgxh.only", "GET", "/v1/bhyt/outdated-levels?on=not-a-day")
    assert listed.status_code == 403, listed.text
    url = "/v1/bhyt/outdated-levels/reissue"
    response = service.call("tgxh.only", "POST", url, json={"limit": 0})
    assert response.status_code == 403, response.text
    assert response.json()["detail_vi"] == "Tài khoản của bạn không được quản lý chế độ BHYT."
