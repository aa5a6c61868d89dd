"""The officer's actions as the API and the web console both call them (service/usecases.py).

The rules live in these functions, not in the route dependencies: called directly, as a page
does, they refuse the same roles, provinces and programmes the API refuses.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from asxh_card.service import usecases
from asxh_card.service.audit import Actor
from asxh_card.service.db import read_scope
from asxh_card.service.errors import NotFoundError, NotPermittedError
from asxh_card.service.models import AuditEventRow
from asxh_card.service.problems import ProblemError
from asxh_card.service.schemas import EntitlementIn, RegisterIn, SearchIn, StatusChangeIn
from asxh_card.service.security import Principal

from .conftest import Service

OFFICER79 = Principal("off79", "issuer_officer", "79", ("BHYT", "TGXH", "GN", "NCC", "BHXH"))
OFFICER01 = Principal("off01", "issuer_officer", "01", ("BHYT", "TGXH", "GN", "NCC", "BHXH"))
BHYT_ONLY = Principal("off79bhyt", "issuer_officer", "79", ("BHYT",))
AUDITOR79 = Principal("auditor79", "auditor", "79", ())
ADMIN = Principal("admin", "national_admin", None, ())
SERVICE_POINT = Principal("sp", "service_point", None, ())

_rng = random.Random()


def _day() -> str:
    """A date of birth no other test of the module uses (searches must not see each other)."""
    return date(
        1931 + _rng.randrange(15), 1 + _rng.randrange(12), 1 + _rng.randrange(28)
    ).isoformat()


def _search(principal: Principal, service: Service, name: str, dob: str) -> list[str]:
    found = usecases.search_persons(
        service.ctx, Actor(principal), SearchIn(full_name=name, date_of_birth=dob)
    )
    return [p.asxh_number for p in found]


def test_search_by_name_and_birth_date_within_the_province(service: Service) -> None:
    """Name + date of birth finds the officer's own people; case and spacing do not matter."""
    dob = _day()
    mine = service.register(full_name="Nguyễn Thị Hồng Nhung", date_of_birth=dob, sex="F")
    other = service.register(
        "off01", "01", full_name="Nguyễn Thị Hồng Nhung", date_of_birth=dob, sex="F"
    )
    service.register(full_name="Nguyễn Thị Hồng Nhu", date_of_birth=dob, sex="F")
    assert _search(OFFICER79, service, "nguyễn  thị HỒNG nhung", dob) == [mine]
    # Another province's officer finds only their own person: never 79's.
    assert _search(OFFICER01, service, "Nguyễn Thị Hồng Nhung", dob) == [other]
    assert sorted(_search(ADMIN, service, "Nguyễn Thị Hồng Nhung", dob)) == sorted([mine, other])
    assert _search(OFFICER79, service, "Nguyễn Thị Hồng Nhung", "1990-01-01") == []


def test_search_without_diacritics_matches_every_spelling(service: Service) -> None:
    """Typed without diacritics a name matches them all; typed with them, only the same ones."""
    dob = _day()
    an = service.register(full_name="Đặng Văn An", date_of_birth=dob, sex="M")
    an2 = service.register(full_name="Đặng Văn Ân", date_of_birth=dob, sex="M")
    assert sorted(_search(OFFICER79, service, "dang van an", dob)) == sorted([an, an2])
    assert _search(OFFICER79, service, "Đặng Văn Ân", dob) == [an2]
    assert _search(OFFICER79, service, "ĐẶNG VĂN AN", dob) == [an]


def test_search_is_audited_without_the_name(service: Service) -> None:
    """A search leaves an audit entry with the number found, never the name or the date."""
    dob = _day()
    service.register(full_name="Lê Thị Thu Hà", date_of_birth=dob, sex="F")
    assert len(_search(OFFICER79, service, "Le Thi Thu Ha", dob)) == 1
    with read_scope(service.ctx.sessions) as session:
        entry = session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.action == "person.search")
            .order_by(AuditEventRow.id.desc())
        ).first()
        assert entry is not None
        assert entry.actor == "off79"
        assert entry.detail == {"kind": "name_dob", "found": 1}
        assert "Thu" not in str(entry.detail)
        assert dob not in str(entry.detail)


def test_search_api_route(service: Service) -> None:
    """POST /v1/persons/search: the name in the body; a service point may not search."""
    dob = _day()
    number = service.register(full_name="Phạm Minh Tuấn", date_of_birth=dob, sex="M")
    body = {"full_name": "Pham Minh Tuan", "date_of_birth": dob}
    response = service.call("off79", "POST", "/v1/persons/search", json=body)
    assert response.status_code == 200, response.text
    assert [p["asxh_number"] for p in response.json()] == [number]
    assert response.json()[0]["pin_masked"].startswith("*********")
    assert service.call("off01", "POST", "/v1/persons/search", json=body).json() == []
    assert service.call("sp", "POST", "/v1/persons/search", json=body).status_code == 403
    bad = service.call("off79", "POST", "/v1/persons/search", json={**body, "x": 1})
    assert bad.status_code == 422


def test_search_refuses_an_empty_name(service: Service) -> None:
    """A name of spaces only is a clear error, not a search for everybody born that day."""
    with pytest.raises(Exception, match="full_name") as caught:
        _search(OFFICER79, service, "   ", _day())
    assert getattr(caught.value, "message_vi", "")


def _register(service: Service, **overrides: Any) -> str:
    body = RegisterIn.model_validate(service.person(**overrides))
    outcome = usecases.register_person(service.ctx, Actor(OFFICER79), body)
    assert outcome.person is not None
    return outcome.asxh_number


def test_person_detail_lists_entitlements_cards_and_reconciliations(service: Service) -> None:
    """The person page's one read: entitlements, cards (newest first), open reconciliations."""
    body = service.person()
    number = _register(service, **body)
    service.grant("off79", number, service.BHYT)
    first = service.issue("off79", number)["serial"]
    second = service.call(
        "off79", "POST", f"/v1/cards/{first}/replace", json={"reason_code": "lost"}
    ).json()["serial"]
    again = usecases.register_person(
        service.ctx,
        Actor(OFFICER79),
        RegisterIn.model_validate(
            {**body, "permanent_address": "5 Hai Bà Trưng, Phường Bến Thành"}
        ),
    )
    assert again.person is None
    assert again.differing == ("permanent_address",)
    detail = usecases.person_detail(service.ctx, OFFICER79, number)
    assert detail.person.asxh_number == number
    assert [e.programme for e in detail.entitlements] == ["BHYT"]
    assert [c.serial for c in detail.cards] == [second, first]
    assert [c.state for c in detail.cards] == ["active", "revoked"]
    assert [r.id for r in detail.reconciliations] == [again.reconciliation_id]
    with pytest.raises(NotFoundError):
        usecases.person_detail(service.ctx, OFFICER01, number)
    with pytest.raises(ProblemError) as refused:
        usecases.person_detail(service.ctx, SERVICE_POINT, number)
    assert refused.value.status == 403


def test_rules_hold_without_the_route_dependencies(service: Service) -> None:
    """Called as a page calls them, the functions refuse what the API refuses.

    Attack: a page that forgot a role check would let an auditor grant or revoke; the check is
    in the function, so it cannot be forgotten.
    """
    number = _register(service)
    bhyt = EntitlementIn.model_validate(service.BHYT)
    with pytest.raises(ProblemError) as refused:
        usecases.grant_entitlement(service.ctx, Actor(AUDITOR79), number, bhyt)
    assert refused.value.status == 403
    with pytest.raises(NotFoundError):  # another province: not found, as over HTTP
        usecases.grant_entitlement(service.ctx, Actor(OFFICER01), number, bhyt)
    tgxh = EntitlementIn.model_validate(service.TGXH)
    with pytest.raises(NotPermittedError):  # programme limits
        usecases.grant_entitlement(service.ctx, Actor(BHYT_ONLY), number, tgxh)
    granted = usecases.grant_entitlement(service.ctx, Actor(OFFICER79), number, bhyt)
    assert granted.category == "HN"
    # Only who manages the programme sees the sensitive category.
    assert usecases.read_entitlement(service.ctx, AUDITOR79, granted.id).category is None
    card = service.issue("off79", number)["serial"]
    reason = StatusChangeIn(reason_code="lost")
    with pytest.raises(ProblemError):
        usecases.change_card(service.ctx, Actor(AUDITOR79), card, "revoke", reason)
    with pytest.raises(NotFoundError):
        usecases.change_card(service.ctx, Actor(OFFICER01), card, "revoke", reason)
    revoked = usecases.change_card(service.ctx, Actor(OFFICER79), card, "revoke", reason)
    assert revoked.state == "revoked"


def test_renderings_and_statistics_are_scoped(service: Service) -> None:
    """Card images are for readers of the card's province; statistics for its operators."""
    number = _register(service)
    service.grant("off79", number, service.BHYT)
    serial = service.issue("off79", number)["serial"]
    data, media = usecases.render_card(service.ctx, AUDITOR79, serial, "qr.png")
    assert media == "image/png"
    assert data.startswith(b"\x89PNG")
    with pytest.raises(NotFoundError):
        usecases.render_card(service.ctx, OFFICER01, serial, "card.png")
    with pytest.raises(Exception, match="unknown rendering"):
        usecases.render_card(service.ctx, OFFICER79, serial, "card.gif")
    own = usecases.stats_for(service.ctx, OFFICER79)
    assert own.provinces == ["79"]
    assert own.totals["cards_issued"] >= 1
    with pytest.raises(ProblemError) as refused:
        usecases.stats_for(service.ctx, OFFICER79, province="01")
    assert refused.value.status == 403


def test_audit_page_is_paged_and_scoped(service: Service) -> None:
    """Newest first, ``before_id`` pages back, an officer sees only their province."""
    _register(service)
    first = usecases.audit_page(service.ctx, AUDITOR79, limit=3)
    assert len(first) == 3
    assert first[0]["id"] > first[1]["id"] > first[2]["id"]
    assert {e["province"] for e in first} <= {"79", None}
    more = usecases.audit_page(service.ctx, AUDITOR79, limit=3, before_id=first[-1]["id"])
    assert more
    assert more[0]["id"] < first[-1]["id"]
    assert all(e["province"] != "01" for e in usecases.audit_page(service.ctx, OFFICER79))
    with pytest.raises(ProblemError):
        usecases.audit_page(service.ctx, OFFICER79, roles=("auditor", "national_admin"))
