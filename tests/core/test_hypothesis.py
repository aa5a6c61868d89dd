"""Property: for any input, verify_card returns a card or raises the umbrella error, nothing else.

DESIGN.md §5: "every failure is a subclass of one verification error with a stable reason code;
nothing else escapes the verifier". Inputs: arbitrary text, mutations of a valid QR text and
token (flipped digits, truncation, insertion, deletion), random JWS-shaped text, and validly
signed cards whose claims hold arbitrary JSON values (so the claim parsers are reached).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asxh_card import card as _card
from asxh_card.errors import Reason, VerificationError

if TYPE_CHECKING:
    from asxh_card._core.keys import PrivateKey
    from conftest import Kit

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def verify_or_refuse(text: Any, kit: Kit, key: PrivateKey) -> _card.CardClaims | None:
    """verify_card's result, or None when it raised the umbrella error (anything else fails)."""
    error: VerificationError | None = None
    try:
        result = _card.verify_card(text, keys=kit.lookup(key), now=kit.now)
    except VerificationError as exc:
        error = exc
    if error is not None:
        assert isinstance(error.reason, Reason)
        assert error.message("vi")
        assert error.message("en")
        return None
    assert isinstance(result, _card.CardClaims)
    return result


@pytest.fixture(scope="module")
def valid_text(es256_key: PrivateKey, kit: Kit) -> str:
    """A valid card's QR text."""
    return _card.qr_text(kit.card_token(es256_key))


@SETTINGS
@given(text=st.text())
def test_any_text(es256_key: PrivateKey, kit: Kit, text: str) -> None:
    """Arbitrary text: a result or a VerificationError."""
    assert verify_or_refuse(text, kit, es256_key) is None


@SETTINGS
@given(digits=st.text(alphabet="0123456789", max_size=400))
def test_any_digits_after_the_prefix(es256_key: PrivateKey, kit: Kit, digits: str) -> None:
    """Arbitrary digit strings after asxh:/ : a result or a VerificationError."""
    verify_or_refuse("asxh:/" + digits, kit, es256_key)


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@SETTINGS
@given(
    parts=st.lists(st.text(alphabet=_B64 + "=+/ ", max_size=120), min_size=1, max_size=5),
)
def test_jws_shaped_text(es256_key: PrivateKey, kit: Kit, parts: list[str]) -> None:
    """Dot-separated base64url-ish segments: a result or a VerificationError."""
    verify_or_refuse(".".join(parts), kit, es256_key)


@st.composite
def mutations(draw: st.DrawFn, text: str) -> str:
    """One to three edits of ``text``: replace, insert, delete a range, truncate or flip a digit."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "flip"]))
        pos = draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "replace":
            text = text[:pos] + draw(st.characters()) + text[pos + 1 :]
        elif kind == "insert":
            text = text[:pos] + draw(st.text(min_size=1, max_size=3)) + text[pos:]
        elif kind == "delete":
            end = draw(st.integers(pos, min(len(text), pos + 10)))
            text = text[:pos] + text[end:]
        elif kind == "truncate":
            text = text[:pos]
        elif text and text[pos] in "0123456789":
            text = (
                text[:pos] + str((int(text[pos]) + draw(st.integers(1, 9))) % 10) + text[pos + 1 :]
            )
    return text


@SETTINGS
@given(data=st.data())
def test_mutated_qr_text(
    es256_key: PrivateKey, kit: Kit, valid_text: str, data: st.DataObject
) -> None:
    """Mutations of a valid QR text: refused, or (if the edit was a no-op) the same card."""
    text = data.draw(mutations(valid_text))
    result = verify_or_refuse(text, kit, es256_key)
    if result is not None:
        assert text == valid_text or _card.token_from_qr_text(text) == _card.token_from_qr_text(
            valid_text
        )
        assert result == kit.claims()


@SETTINGS
@given(data=st.data())
def test_mutated_token(
    es256_key: PrivateKey, kit: Kit, valid_text: str, data: st.DataObject
) -> None:
    """Mutations of a valid bare token: refused, or the identical token."""
    token = _card.token_from_qr_text(valid_text)
    mutated = data.draw(mutations(token))
    if verify_or_refuse(mutated, kit, es256_key) is not None:
        assert mutated == token


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)

CLAIMS = [
    "iss",
    "sub",
    "iat",
    "nbf",
    "exp",
    "jti",
    "v",
    "prov",
    "name",
    "dob",
    "sex",
    "ent",
    "status",
    "gdn",
]


@st.composite
def entitlement_values(draw: st.DrawFn) -> Any:
    """An ent list whose one entry is a valid wire array with one element replaced or added."""
    entry: list[Any] = ["BHYT", "2026-01-01", "2026-12-31", 2, 100, "79-001"]
    position = draw(st.integers(0, len(entry)))
    value = draw(json_values)
    if position == len(entry):
        entry.append(value)
    else:
        entry[position] = value
    return [entry]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_signed_claims_with_arbitrary_values(
    es256_key: PrivateKey, kit: Kit, data: st.DataObject
) -> None:
    """Validly signed cards whose claims hold arbitrary JSON: a result or a VerificationError."""
    claims = kit.claim_set()
    name = data.draw(st.sampled_from([*CLAIMS, "ent-entry", "extra"]))
    if name == "ent-entry":
        claims["ent"] = data.draw(entitlement_values())
    else:
        claims[name] = data.draw(json_values)
    token = kit.token(kit.card_header(es256_key), claims, es256_key)
    if len(token) > 3_600:
        return
    verify_or_refuse(token, kit, es256_key)


@SETTINGS
@given(text=st.text() | st.text(alphabet=_B64 + ".", max_size=300))
def test_status_list_token_any_text(es256_key: PrivateKey, text: str) -> None:
    """verify_status_list_token on any text raises only status-list verification errors."""
    from asxh_card._core.statuslist import verify_status_list_token
    from asxh_card.errors import StatusListInvalidError, StatusListStaleError

    with pytest.raises((StatusListInvalidError, StatusListStaleError)):
        verify_status_list_token(text, es256_key.public_key, uri="https://x.example/1", now=0)
