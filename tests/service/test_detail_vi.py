"""Issue 13.2: every problem the service answers carries ``detail_vi`` in natural Vietnamese.

An officer never sees only English: pydantic validation errors, identifier rules, service
domain errors (not found, conflict, forbidden, state changes) and the service's own problems
(unauthenticated, ...) each carry a Vietnamese sentence with diacritics, and none echoes the
submitted PIN. Issue 13 item 3: a forbidden officer is told 403 before their input is judged.
"""

from __future__ import annotations

import re
from typing import Any

from asxh_card.ids import generate_asxh_number

#: A well-formed mã số ASXH that no test registers (a random draw could, once in 10**8).
UNKNOWN = generate_asxh_number("79", randbelow=lambda _n: 12345678).value
VIETNAMESE = re.compile(r"[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]")


def _vi(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()
    assert VIETNAMESE.search(problem["detail_vi"]), problem
    assert problem["detail_vi"] != problem.get("detail")
    return problem


def test_pydantic_errors_are_translated(service: Any) -> None:
    """A missing field and a too-long text: detail_vi and each error's msg_vi in Vietnamese."""
    person = service.person()
    del person["full_name"]
    problem = _vi(service.call("off79", "POST", "/v1/persons", json=person), 422)
    assert problem["detail_vi"] == "Trường full_name: bắt buộc nhưng chưa có."
    assert all(VIETNAMESE.search(e["msg_vi"]) for e in problem["errors"])
    assert person["pin"] not in str(problem)
    person = service.person(hometown="x" * 400)
    problem = _vi(service.call("off79", "POST", "/v1/persons", json=person), 422)
    assert problem["detail_vi"] == "Trường hometown: không được dài quá 300 ký tự."
    person = service.person()
    person["date_of_birth"] = "15/06/1990"
    problem = _vi(service.call("off79", "POST", "/v1/persons", json=person), 422)
    assert problem["detail_vi"].startswith("Trường date_of_birth:"), problem


def test_server_owned_fields_are_named_in_vietnamese(service: Any) -> None:
    """A field the server owns: the Vietnamese detail names it."""
    person = service.person(asxh_number="79123456785")
    problem = _vi(service.call("off79", "POST", "/v1/persons", json=person), 422)
    assert "do hệ thống quản lý" in problem["detail_vi"]
    assert "asxh_number" in problem["detail_vi"]


def test_identifier_problems_have_the_rule_in_vietnamese(service: Any) -> None:
    """A PIN whose birth year disagrees: the rule in Vietnamese, masked, never the full PIN."""
    person = service.person(date_of_birth="1990-06-15")
    person["pin"] = person["pin"][:4] + "85" + person["pin"][6:]  # born 1985 by the PIN
    problem = _vi(service.call("off79", "POST", "/v1/persons", json=person), 422)
    assert problem["type"].endswith("invalid-identifier")
    assert "không khớp với ngày sinh" in problem["detail_vi"]
    assert person["pin"] not in str(problem)
    assert "*********" + person["pin"][-3:] in problem["detail_vi"]


def test_domain_errors_speak_vietnamese(service: Any) -> None:
    """Not found, a second current entitlement (conflict), a refused state change."""
    problem = _vi(service.call("off79", "GET", f"/v1/persons/{UNKNOWN}"), 404)
    assert problem["detail_vi"] == "Không tìm thấy người được cấp thẻ."
    number = service.register()
    entitlement = service.grant("off79", number, service.TGXH)
    url = f"/v1/persons/{number}/entitlements"
    problem = _vi(service.call("off79", "POST", url, json=service.TGXH), 409)
    assert "Người này đang hưởng chế độ TGXH" in problem["detail_vi"]
    reinstate = f"/v1/entitlements/{entitlement['id']}/reinstate"
    body = {"reason_code": "other", "note": "thử"}
    problem = _vi(service.call("off79", "POST", reinstate, json=body), 409)
    assert problem["detail_vi"] == "Không thể khôi phục chế độ được hưởng đang có hiệu lực."


def test_access_problems_speak_vietnamese(service: Any) -> None:
    """No token, a bad token, a role that may not write, wrong password."""
    problem = _vi(service.call(None, "GET", f"/v1/persons/{UNKNOWN}"), 401)
    bad = {"Authorization": "Bearer not-a-token"}
    problem = _vi(service.call(None, "GET", f"/v1/persons/{UNKNOWN}", headers=bad), 401)
    assert "hết hạn" in problem["detail_vi"]
    huge = service.call("off79", "POST", "/v1/persons", content=b"{" + b" " * (2 << 20))
    assert "kích thước" in _vi(huge, 413)["detail_vi"]
    problem = _vi(service.call("sp", "POST", "/v1/persons", json=service.person()), 403)
    assert "không được phép" in problem["detail_vi"]
    response = service.client.post(
        "/v1/auth/token", data={"username": "off79", "password": "wrong password!"}
    )
    problem = _vi(response, 401)
    assert problem["detail_vi"] == "Sai tên đăng nhập hoặc mật khẩu."


def test_forbidden_programme_is_403_before_the_input_is_judged(service: Any) -> None:
    """Issue 13 item 3: a BHYT-only officer granting TGXH with a bad amount gets 403, not 422.

    Judging the input first would tell a forbidden officer about a programme's rules (and
    answer the wrong question).
    """
    number = service.register()
    body = dict(service.TGXH, attributes={"amount": 750})
    url = f"/v1/persons/{number}/entitlements"
    problem = _vi(service.call("off79bhyt", "POST", url, json=body), 403)
    assert "TGXH" in problem["detail_vi"]


def test_forbidden_role_is_403_even_with_a_broken_body(service: Any) -> None:
    """A role that may not write gets 403 for an empty or broken body too, never 422."""
    problem = _vi(service.call("sp", "POST", "/v1/persons", json={}), 403)
    assert problem["type"].endswith("/forbidden")
    url = f"/v1/persons/{UNKNOWN}/entitlements"
    problem = _vi(service.call("auditor", "POST", url, json={"programme": 1}), 403)


def test_operator_rules_speak_vietnamese(service: Any) -> None:
    """An administrator's mistakes: an officer without programmes, a taken user name."""
    body = {"username": "canbo.vi", "password": "a long passphrase 2026", "role": "issuer_officer"}
    problem = _vi(service.call("admin", "POST", "/v1/admin/operators", json=body), 422)
    assert problem["detail_vi"] == "Cán bộ cấp thẻ cần có tỉnh và các chế độ được quản lý."
    body |= {"province": "79", "programmes": ["BHYT"]}
    created = service.call("admin", "POST", "/v1/admin/operators", json=body)
    assert created.status_code == 201, created.text
    problem = _vi(service.call("admin", "POST", "/v1/admin/operators", json=body), 409)
    assert problem["detail_vi"] == "Tên đăng nhập này đã có người dùng."
