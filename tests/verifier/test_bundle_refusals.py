"""Refusal branches of the trust-bundle format (issue 14 item 4: the verifier modules under the
coverage gate). Each mutation of a root-signed payload is refused as ``bundle_invalid``, with
outcome ``cannot_check`` (the data, not the card, is wrong)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from vworld import World

from asxh_card._core.keys import PrivateKey
from asxh_card.bundle import parse_bundle
from asxh_card.errors import BundleInvalidError, Outcome
from asxh_card.trust import sign_bundle_payload

Mutation = Callable[[dict[str, Any]], None]


def _set_issuer(**changes: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        payload["issuers"][0] = {**payload["issuers"][0], **changes}

    return mutate


def _set_key(**changes: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        issuer = payload["issuers"][0]
        issuer["keys"] = [{**issuer["keys"][0], **changes}, *issuer["keys"][1:]]

    return mutate


def _top(**changes: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        payload.update(changes)

    return mutate


def _drop(name: str) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        del payload[name]

    return mutate


def _duplicate_issuer(payload: dict[str, Any]) -> None:
    twin = copy.deepcopy(payload["issuers"][0])
    twin["keys"] = [{**twin["keys"][0], "jwk": PrivateKey.generate().public_key.to_jwk()}]
    payload["issuers"].append(twin)


def _duplicate_kid(payload: dict[str, Any]) -> None:
    payload["issuers"][1]["keys"] = [dict(payload["issuers"][0]["keys"][0])]


_JWK = PrivateKey.generate().public_key.to_jwk()


def _reversed_window(payload: dict[str, Any]) -> None:
    _set_key(not_after=payload["issuers"][0]["keys"][0]["not_before"] - 1)(payload)


MUTATIONS: dict[str, Mutation] = {
    "payload not an object": lambda p: p.clear() or p.update({"v": [1]}),
    "unknown member": _top(extra=1),
    "missing member": _drop("issuers"),
    "format version": _top(v=99),
    "version zero": _top(version=0),
    "version a string": _top(version="7"),
    "iat not a NumericDate": _top(iat="yesterday"),
    "exp before iat": lambda p: p.update(exp=p["iat"] - 1),
    "no issuers": _top(issuers=[]),
    "issuers not a list": _top(issuers={}),
    "issuer not an object": _top(issuers=["vn-79"]),
    "issuer id malformed": _set_issuer(id="VN 79"),
    "issuer name empty": _set_issuer(name="  "),
    "issuer name too long": _set_issuer(name="x" * 201),
    "province unknown": _set_issuer(province="99"),
    "programmes empty": _set_issuer(programmes=[]),
    "programme malformed": _set_issuer(programmes=["bhyt"]),
    "programme twice": _set_issuer(programmes=["BHYT", "BHYT"]),
    "no keys": _set_issuer(keys=[]),
    "key with a private member": _set_key(
        jwk={**PrivateKey.generate().public_key.to_jwk(), "d": "AA"}
    ),
    "key window reversed": lambda p: _set_key(
        not_after=p["issuers"][0]["keys"][0]["not_before"] - 1
    )(p),
    "key not_before null": _set_key(not_before=None),
    "duplicate issuer id": _duplicate_issuer,
    "kid of two issuers": _duplicate_kid,
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_bundle_refusals(world: World, name: str) -> None:
    """A root-signed payload with one defect is refused as bundle_invalid / cannot_check."""
    payload = world.payload()
    MUTATIONS[name](payload)
    token = sign_bundle_payload(payload, world.root)
    with pytest.raises(BundleInvalidError) as caught:
        parse_bundle(token, roots=[world.root.public_key])
    assert caught.value.reason == "bundle_invalid"
    assert caught.value.outcome is Outcome.CANNOT_CHECK


def test_bundle_transport_refusals(world: World) -> None:
    """No pinned root, non-ASCII bytes and a root key reused as an issuer key are refused."""
    token = world.bundle()
    with pytest.raises(BundleInvalidError, match="no pinned root"):
        parse_bundle(token, roots=[])
    with pytest.raises(BundleInvalidError, match="ASCII"):
        parse_bundle("é".encode() + token.encode(), roots=[world.root.public_key])
    payload = world.payload()
    payload["issuers"][0]["keys"][0]["jwk"] = world.root.public_key.to_jwk()
    with pytest.raises(BundleInvalidError, match="duplicate kid"):
        parse_bundle(sign_bundle_payload(payload, world.root), roots=[world.root.public_key])
