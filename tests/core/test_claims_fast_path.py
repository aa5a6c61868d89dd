"""The typed fast path for card claims agrees with the strict reference path.

Verification decodes a card's claims with msgspec straight into the wire schema and accepts
that result only when the payload is exactly the schema's canonical encoding
(``card._fast_claim_set``). Anything else goes through strict JSON (duplicate members, escapes,
I-JSON) and then the same schema (``card._claim_set_from_mapping``). These tests hold the fast
path to one rule: whenever it returns a claim set, the reference path returns the same one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asxh_card import card as _card
from asxh_card._core import strictjson
from asxh_card.errors import MalformedError, Reason, VerificationError

if TYPE_CHECKING:
    from asxh_card._core.keys import PrivateKey
    from conftest import Kit

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(body: bytes) -> Any:
    """The strict path's claim set for ``body``, or None when it refuses the body."""
    try:
        return _card._claim_set_from_mapping(strictjson.loads(body, max_size=1 << 20))
    except (strictjson.StrictJSONError, MalformedError):
        return None


def assert_agrees(body: bytes) -> Any:
    """The fast path returns nothing or exactly what the reference path returns."""
    fast = _card._fast_claim_set(body)
    if fast is not None:
        assert reference(body) == fast
    return fast


def test_issued_cards_take_the_fast_path(es256_key: PrivateKey, kit: Kit) -> None:
    """A card our codec signs is in the canonical encoding: its claims are typed in one pass."""
    claims = kit.claims()
    body = strictjson.dumps(claims.to_claims())
    fast = assert_agrees(body)
    assert fast is not None
    assert _card.CardClaims._from_checked(_card._check_claims(fast, None)) == claims


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda b: b.replace(b'{"iss":', b'{"iss":"vn-01","iss":', 1), "duplicate iss, first"),
        (lambda b: b[:-1] + b',"exp":9999999999}', "duplicate exp, last"),
        (lambda b: b.replace(b'"status_list":{', b'"status_list":{"idx":0,', 1), "nested dup"),
        (lambda b: b.replace(b'"sub":', b'"sub" :', 1), "whitespace"),
        (lambda b: b.replace(b'"jti":"', b'"jti":"\\u0043', 1), "escape"),
        (lambda b: b'{"v":1,' + b[1:].replace(b'"v":1,', b"", 1), "member order"),
        (lambda b: b"\xef\xbb\xbf" + b, "byte-order mark"),
        (lambda b: b + b" ", "trailing space"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_non_canonical_bodies_take_the_strict_path(kit: Kit, edit: Any, what: str) -> None:
    """Parser-differential attack: a body msgspec would read but the strict parser may not.

    Duplicate members are the case that matters (msgspec keeps the last one, msgspec#648); any
    body that is not the canonical encoding is left to the strict path, which refuses the
    duplicates and accepts the harmless variants.
    """
    body = edit(strictjson.dumps(kit.claim_set()))
    assert _card._fast_claim_set(body) is None, what
    if "dup" in what:
        assert reference(body) is None


def test_signed_duplicate_issuer_is_refused(es256_key: PrivateKey, kit: Kit) -> None:
    """Issuer confusion by duplicate member: a validly signed payload naming two issuers.

    A last-wins parser would read the second ``iss``; the card must be refused as malformed
    whichever issuer's key is asked, never verified under either.
    """
    body = strictjson.dumps(kit.claim_set()).replace(b'{"iss":', b'{"iss":"vn-01","iss":', 1)
    token = kit.token(kit.card_header(es256_key), body, es256_key)
    for issuer in ("vn-01", kit.claims().issuer):
        with pytest.raises(VerificationError) as info:
            _card.verify_card(token, keys=kit.lookup(es256_key, issuer=issuer), now=kit.now)
        assert info.value.reason is Reason.MALFORMED


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "79", "M", "F", "2026-01-01", "2026-02-30", "BHYT", "https://x.vn/1"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
CLAIMS = ["iss", "sub", "iat", "nbf", "exp", "jti", "v", "prov", "name", "dob", "sex", "ent"]


@st.composite
def claim_sets(draw: st.DrawFn, kit: Kit) -> dict[str, Any]:
    """A valid claim set with one to three members replaced, removed or added."""
    claims: dict[str, Any] = kit.claim_set()
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([*CLAIMS, "status", "gdn", "extra", "ent[0][i]"]))
        action = draw(st.sampled_from(["replace", "replace", "remove"]))
        if name == "ent[0][i]":
            ent = claims.get("ent")
            if isinstance(ent, list) and ent and isinstance(ent[0], list) and ent[0]:
                entry = list(ent[0])
                entry[draw(st.integers(0, len(entry) - 1))] = draw(json_values)
                claims["ent"] = [entry, *ent[1:]]
        elif action == "remove":
            claims.pop(name, None)
        else:
            claims[name] = draw(json_values)
    return claims


@SETTINGS
@given(data=st.data())
def test_fast_path_never_disagrees(kit: Kit, data: st.DataObject) -> None:
    """For mutated claim sets, canonical or with JSON-level edits, fast implies reference."""
    claims = data.draw(claim_sets(kit))
    body = json.dumps(claims, ensure_ascii=data.draw(st.booleans()), separators=(",", ":"))
    encoded = body.encode()
    if data.draw(st.booleans()):
        encoded = strictjson.dumps(claims)
    assert_agrees(encoded)


@SETTINGS
@given(data=st.data())
def test_fast_path_on_byte_edits(kit: Kit, data: st.DataObject) -> None:
    """Random byte edits of a canonical body: fast implies reference, or both refuse."""
    body = bytearray(strictjson.dumps(kit.claim_set()))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(body) - 1))
        kind = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255) | st.sampled_from(list(b'",:{}[]\\ 0123456789')))
        if kind == "replace":
            body[position] = byte
        elif kind == "insert":
            body.insert(position, byte)
        else:
            del body[position]
    assert_agrees(bytes(body))


# Printable names in NFC with single spaces, the characters a Vietnamese name uses and more;
# not '"' or '\\', which JSON must escape (an escaped body takes the strict path by design).
names = (
    st.text(
        alphabet=st.characters(
            categories=["Lu", "Ll", "Lo", "Nd", "Po", "Zs"], exclude_characters='"\\'
        ),
        min_size=1,
        max_size=60,
    )
    .map(_card.normalise_name)
    .filter(lambda n: n.isprintable() and bool(n))
)


@SETTINGS
@given(
    name=names,
    serial=st.from_regex(_card.SERIAL_PATTERN, fullmatch=True),
    times=st.tuples(st.integers(0, 7_258_118_400), st.integers(0, 2**32)),
    amount=st.integers(1, 10**8),
    idx=st.integers(0, 2**53 - 1),
    with_guardian=st.booleans(),
)
def test_fast_path_reads_valid_cards_as_the_strict_path_does(
    kit: Kit,
    *,
    name: str,
    serial: str,
    times: tuple[int, int],
    amount: int,
    idx: int,
    with_guardian: bool,
) -> None:
    """Valid cards with varied values all take the fast path, with the strict path's result.

    The mutation tests above mostly produce refused bodies; this one proves the fast path is
    reached (never None) on the canonical encoding of any valid claim set.
    """
    from dataclasses import replace

    from asxh_card._core.statuslist import StatusRef

    base = kit.claims()
    issued, validity = times
    claims = kit.claims(
        serial=serial,
        issued_at=issued,
        not_before=issued,
        expires_at=min(issued + validity, 7_258_118_400),
        holder=replace(base.holder, name=name),
        entitlements=(  # without status entries: the card's status block gives them
            replace(base.entitlements[0], status=None),
            replace(base.entitlements[1], attributes={"amount": amount}, status=None),
        ),
        status=StatusRef(idx, base.status.uri),  # every card has one (issue 9 §2)
        guardian=base.guardian if with_guardian else None,
    )
    body = strictjson.dumps(claims.to_claims())
    fast = assert_agrees(body)
    assert fast is not None
    assert _card.CardClaims._from_checked(_card._check_claims(fast, None)) == claims
