"""The verifier's hot-path helpers agree with the core on valid and mutated input."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vworld import World

from asxh_card import card as _card
from asxh_card._core.qrtext import encode_qr_text
from asxh_card.errors import VerificationError
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.verifier import _fast

REGISTRY = ProgrammeRegistry.default()


def core_claims(payload: object) -> _card.CardClaims | None:
    try:
        return _card.CardClaims.from_claims(payload, registry=REGISTRY)
    except VerificationError:
        return None


@given(
    st.text(
        alphabet="-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
        min_size=1,
        max_size=300,
    )
)
def test_qr_decode_matches_the_core(jws: str) -> None:
    assert _fast.token_from_qr_text(encode_qr_text(jws)) == jws


@given(st.text(alphabet="0123456789a", max_size=40))
def test_qr_decode_errors_match_the_core(digits: str) -> None:
    text = "asxh:/" + digits
    try:
        expected: object = _card.token_from_qr_text(text)
    except VerificationError as exc:
        expected = exc.reason
    try:
        got: object = _fast.token_from_qr_text(text)
    except VerificationError as exc:
        got = exc.reason
    assert got == expected


def _mutations(claims: dict) -> list[dict]:
    rng = random.Random(5)
    out = []
    text = json.dumps(claims, ensure_ascii=False)
    for _ in range(300):
        obj = json.loads(text)
        target = rng.choice(["top", "ent", "a", "status", "gdn"])
        value = rng.choice([None, True, 1.5, -1, 2**60, "x", "", [], {}, "2026-02-30", "79-001", 0])
        if target == "top":
            obj[rng.choice([*obj.keys(), "extra"])] = value
        elif target == "ent":
            obj["ent"][0][rng.choice(["p", "from", "to", "a", "status", "z"])] = value
        elif target == "a":
            obj["ent"][0]["a"][rng.choice(["level", "coverage", "facility", "reason"])] = value
        elif target == "status":
            obj["status"]["status_list"][rng.choice(["idx", "uri", "x"])] = value
        else:
            obj["gdn"][rng.choice(["sub", "name", "rel"])] = value
        out.append(obj)
    return out


def test_claims_fast_path_agrees_with_the_core(world: World) -> None:
    claims = world.claims().to_claims()
    assert _fast.card_claims(claims, REGISTRY) == core_claims(claims)
    for mutated in _mutations(claims):
        fast = _fast.card_claims(mutated, REGISTRY)
        if fast is not None:  # None means "the core decides": always allowed
            assert fast == core_claims(mutated), mutated


@pytest.mark.parametrize("member", ["iss", "sub", "name", "ent", "status", "gdn", "v"])
def test_duplicate_members_are_never_accepted_by_the_fast_path(world: World, member: str) -> None:
    claims = world.claims().to_claims()
    text = json.dumps(claims, ensure_ascii=False, separators=(",", ":"))
    value = json.dumps(claims[member], ensure_ascii=False, separators=(",", ":"))
    doubled = text[:-1] + f',"{member}":{value}' + "}"
    payload = _fast._lenient_payload(doubled.encode())
    assert payload is not None
    assert _fast.card_claims(payload, REGISTRY) is None


@pytest.mark.parametrize("spacing", [(",", ":"), (", ", ": "), (",", " : ")])
def test_strict_json_is_proven_for_any_spacing(world: World, spacing: tuple[str, str]) -> None:
    claims = world.claims().to_claims()
    payload = _fast._lenient_payload(
        json.dumps(claims, ensure_ascii=False, separators=spacing).encode()
    )
    assert payload is not None
    assert _fast.card_claims(payload, REGISTRY) == core_claims(claims)


def test_escapes_and_bom_go_to_the_strict_parser(world: World) -> None:
    claims = world.claims().to_claims()
    assert _fast._lenient_payload(json.dumps(claims).encode()) is None  # \u escapes
    assert _fast._lenient_payload(b"\xef\xbb\xbf{}") is None
