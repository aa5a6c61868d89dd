"""Wycheproof (C2SP/wycheproof, read in place from ``../shared/vectors/wycheproof``).

Vectors nobody on the team wrote: ECDSA P-256/SHA-256 (P1363 raw and DER), Ed25519, JSON Web
Signature and JSON Web Key. Every vector runs; the decisions that differ from the file's label are
spelled out next to the test that makes them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from asxh_card._core import jws
from asxh_card._core.b64 import b64url_decode
from asxh_card._core.keys import JWKError, PublicKey
from asxh_card.errors import BadSignatureError, Reason, VerificationError

ECDSA_P1363 = "wycheproof/ecdsa_secp256r1_sha256_p1363_test.json"
ECDSA_DER = "wycheproof/ecdsa_secp256r1_sha256_test.json"
ED25519 = "wycheproof/ed25519_test.json"
JWS_FILE = "wycheproof/json_web_signature_test.json"
JWK_FILE = "wycheproof/json_web_key_test.json"

#: Our decision for every test labelled "acceptable" (tcId -> accepted?). The files pinned in
#: MANIFEST.md have none for these algorithms; any that appear in an update must be decided here.
ACCEPTABLE_DECISIONS: dict[str, dict[int, bool]] = {ECDSA_P1363: {}, ED25519: {}}

#: C2SP/wycheproof issue 236: these JWS labels are considered wrong upstream (MANIFEST.md).
JWS_SKIP = {
    367: "label disputed upstream (C2SP/wycheproof issue 236)",
    370: "label disputed upstream (C2SP/wycheproof issue 236)",
    372: "label disputed upstream (C2SP/wycheproof issue 236)",
    373: "label disputed upstream (C2SP/wycheproof issue 236)",
}

#: Generous limits: the JWS vectors are not cards, so only the structural rules are under test.
VECTOR_LIMITS = jws.JWSLimits(
    max_token=1 << 20, max_header=1 << 16, max_payload=1 << 20, max_inflated=1 << 20
)


def verifies(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``key.verify`` accepts (it raises BadSignatureError instead of returning False)."""
    try:
        key.verify(signature, data)
    except BadSignatureError:
        return False
    return True


def _public_key(group: dict[str, Any]) -> PublicKey:
    """The group's key through our strict JWK import (kid dropped: it is not a thumbprint)."""
    jwk = group.get("publicKeyJwk")
    if jwk is not None:
        return PublicKey.from_jwk({k: v for k, v in jwk.items() if k != "kid"})
    return PublicKey.from_pem(group["publicKeyPem"].encode())


def _run_signature_file(data: dict[str, Any], name: str) -> Counter[str]:
    decisions = ACCEPTABLE_DECISIONS[name]
    counts: Counter[str] = Counter()
    for group in data["testGroups"]:
        key = _public_key(group)
        for test in group["tests"]:
            accepted = verifies(key, bytes.fromhex(test["sig"]), bytes.fromhex(test["msg"]))
            result = test["result"]
            if result == "acceptable":
                assert test["tcId"] in decisions, f"decide acceptable tcId {test['tcId']}"
                assert accepted is decisions[test["tcId"]], test
            else:
                assert accepted is (result == "valid"), (
                    test["tcId"],
                    test["comment"],
                    test["flags"],
                )
            counts[result] += 1
    return counts


def test_ecdsa_p256_sha256_p1363(load_vector: Callable[[str], Any]) -> None:
    """Every ES256 raw (P1363) vector: valid accepted, invalid rejected by PublicKey.verify."""
    data = load_vector(ECDSA_P1363)
    counts = _run_signature_file(data, ECDSA_P1363)
    assert sum(counts.values()) == data["numberOfTests"]
    assert counts["valid"] > 100
    assert counts["invalid"] > 50


def test_ed25519(load_vector: Callable[[str], Any]) -> None:
    """Every Ed25519 vector: valid accepted, invalid (malleable, non-canonical...) rejected."""
    data = load_vector(ED25519)
    counts = _run_signature_file(data, ED25519)
    assert sum(counts.values()) == data["numberOfTests"]
    assert counts["invalid"] > 50


def test_ecdsa_der_signatures_are_never_accepted_raw(load_vector: Callable[[str], Any]) -> None:
    """DER file: our raw-signature path refuses every DER signature, valid or not.

    JWS ES256 signatures are raw r||s (RFC 7518 §3.4), so a DER-encoded signature must never
    verify through ``PublicKey.verify``, whatever its Wycheproof label. As a cross-check, each
    signature labelled valid, converted from DER to raw r||s, does verify.
    """
    data = load_vector(ECDSA_DER)
    total = converted = 0
    for group in data["testGroups"]:
        key = PublicKey.from_pem(group["publicKeyPem"].encode())
        for test in group["tests"]:
            der, msg = bytes.fromhex(test["sig"]), bytes.fromhex(test["msg"])
            assert not verifies(key, der, msg), test["tcId"]
            total += 1
            if test["result"] == "valid":
                r, s = decode_dss_signature(der)
                raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
                assert verifies(key, raw, msg), test["tcId"]
                converted += 1
    assert total == data["numberOfTests"]
    assert converted > 100


def _jws_groups(data: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    cases = []
    for group in data["testGroups"]:
        cases.extend((group["comment"], group, test) for test in group["tests"])
    return cases


def _supported_key_jwk(group: dict[str, Any]) -> dict[str, Any] | None:
    jwk = group.get("public") or group.get("private") or {}
    if (jwk.get("kty"), jwk.get("crv")) in (("EC", "P-256"), ("OKP", "Ed25519")):
        return jwk
    return None


def test_json_web_signature(load_vector: Callable[[str], Any]) -> None:
    """Every Wycheproof JWS vector through parse_compact + verify_signature.

    * Groups with an ES256 (P-256) or EdDSA (Ed25519) key: the public JWK is imported with
      ``PublicKey.from_jwk`` after dropping ``kid`` (the vectors' kids are names such as
      ``kid-ec-sign``, not RFC 7638 thumbprints, which our import requires); "valid" must
      verify and "invalid" must raise a VerificationError. A key our strict import refuses
      (e.g. ``use: enc``, ``key_ops`` without ``verify``) makes its tests rejected, which is the
      right outcome for the "invalid" ones there.
    * Other groups (HS*, RS*, PS*, ES512): we allow only ES256 and EdDSA, so every token must be
      refused; the ones that are well-formed are refused with ``algorithm_not_allowed`` (that is
      our decision for the vectors labelled valid), the others earlier as ``malformed``.
    * tcIds 367, 370, 372 and 373 are skipped: their labels are disputed upstream
      (C2SP/wycheproof issue 236; see shared/vectors/MANIFEST.md).
    """
    data = load_vector(JWS_FILE)
    outcome: Counter[str] = Counter()
    for comment, group, test in _jws_groups(data):
        tc_id, token, result = test["tcId"], test["jws"], test["result"]
        if tc_id in JWS_SKIP:
            outcome["skipped"] += 1
            continue
        jwk = _supported_key_jwk(group)
        if jwk is None:
            with pytest.raises(VerificationError) as info:
                jws.parse_compact(token, limits=VECTOR_LIMITS, typ=None)
            if result == "valid":
                assert info.value.reason is Reason.ALGORITHM_NOT_ALLOWED, (tc_id, comment)
            else:
                assert info.value.reason in (Reason.ALGORITHM_NOT_ALLOWED, Reason.MALFORMED), tc_id
            outcome[f"unsupported-{result}-{info.value.reason.value}"] += 1
            continue
        try:
            key: PublicKey | None = PublicKey.from_jwk({k: v for k, v in jwk.items() if k != "kid"})
        except JWKError:
            key = None
        if result == "valid":
            assert key is not None, tc_id
            parsed = jws.parse_compact(token, limits=VECTOR_LIMITS, typ=None)
            jws.verify_signature(parsed, key)
            outcome["supported-valid"] += 1
            continue
        if key is None:
            outcome["supported-invalid-key-refused"] += 1
            continue
        with pytest.raises(VerificationError):
            jws.verify_signature(jws.parse_compact(token, limits=VECTOR_LIMITS, typ=None), key)
        outcome["supported-invalid"] += 1
    assert outcome["skipped"] == len(JWS_SKIP)
    assert sum(outcome.values()) == data["numberOfTests"]
    assert outcome["supported-valid"] >= 2
    assert outcome["supported-invalid"] >= 30


def test_json_web_signature_es256_special_cases(load_vector: Callable[[str], Any]) -> None:
    """The SpecialCaseEs256 group (r, s in {0, 1, n-1, n}; oversized signatures) is all refused."""
    data = load_vector(JWS_FILE)
    groups = [g for g in data["testGroups"] if g["comment"] == "SpecialCaseEs256"]
    assert groups
    key = PublicKey.from_jwk({k: v for k, v in groups[0]["public"].items() if k != "kid"})
    reasons: Counter[str] = Counter()
    for test in groups[0]["tests"]:
        if test["result"] == "valid":
            jws.verify_signature(
                jws.parse_compact(test["jws"], limits=VECTOR_LIMITS, typ=None), key
            )
            continue
        with pytest.raises(VerificationError) as info:
            jws.verify_signature(
                jws.parse_compact(test["jws"], limits=VECTOR_LIMITS, typ=None), key
            )
        reasons[info.value.reason.value] += 1
    # Range violations are bad signatures; wrong lengths never reach the curve arithmetic.
    assert set(reasons) == {"bad_signature", "malformed"}


def _jwk_file_keys(group: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    keys = [("public", k) for k in (group.get("public") or {}).get("keys", [])]
    keys += [("private", k) for k in group["private"]["keys"]]
    return keys


def test_json_web_key_import(load_vector: Callable[[str], Any]) -> None:
    """Every JWK in the Wycheproof keyset file through PublicKey.from_jwk.

    Well-formed EC P-256 / OKP Ed25519 public keys with ``use: sig`` and a fitting ``alg``
    import (``kid`` dropped first: these kids are names, not RFC 7638 thumbprints). Broken ones
    (invalid point, wrong curve, wrong kty, alg ES224/ES521 on P-256, ``use: enc``) and every
    key carrying private members (``d``, or ``k`` of a symmetric key) are refused with JWKError,
    and so are the RSA and oct keys we do not support.
    """
    data = load_vector(JWK_FILE)
    imported = refused_private = refused_other = 0
    for group in data["testGroups"]:
        for _, jwk in _jwk_file_keys(group):
            candidate = {k: v for k, v in jwk.items() if k != "kid"}
            well_formed = (
                (jwk.get("kty"), jwk.get("crv")) == ("EC", "P-256")
                and jwk.get("alg") == "ES256"
                and jwk.get("use") == "sig"
                and "d" not in jwk
                and group["comment"] != "invalid_point"
            )
            if well_formed:
                assert PublicKey.from_jwk(candidate).alg == "ES256"
                imported += 1
                continue
            with pytest.raises(JWKError):
                PublicKey.from_jwk(candidate)
            if {"d", "k"} & jwk.keys():
                refused_private += 1
            else:
                refused_other += 1
    assert imported >= 1
    assert refused_private >= 10
    assert refused_other >= 5


def test_json_web_key_sets_verify(load_vector: Callable[[str], Any]) -> None:
    """Each JWK-file token checked with its keyset: invalid ones are never accepted.

    A token verifies when some key of its set imports and passes parse_compact + verify_signature.
    The file's "valid" cases use HS256 or RS256 keys, which we do not support: our decision is to
    refuse them (algorithm_not_allowed), as every non-ES256/EdDSA token.
    """
    data = load_vector(JWK_FILE)
    refused_valid = 0
    for group in data["testGroups"]:
        keys: list[PublicKey] = []
        for _, jwk in _jwk_file_keys(group):
            try:
                keys.append(PublicKey.from_jwk({k: v for k, v in jwk.items() if k != "kid"}))
            except JWKError:
                continue
        for test in group["tests"]:
            accepted = False
            header = json.loads(b64url_decode(test["jws"].split(".")[0]))
            if header["alg"] not in ("ES256", "EdDSA"):
                with pytest.raises(VerificationError) as info:
                    jws.parse_compact(test["jws"], limits=VECTOR_LIMITS, typ=None)
                assert info.value.reason is Reason.ALGORITHM_NOT_ALLOWED, test["tcId"]
            else:
                parsed = jws.parse_compact(test["jws"], limits=VECTOR_LIMITS, typ=None)
                for key in keys:
                    try:
                        jws.verify_signature(parsed, key)
                    except VerificationError:
                        continue
                    accepted = True
            if test["result"] == "invalid":
                assert not accepted, test["tcId"]
            elif not accepted:
                refused_valid += 1
    assert refused_valid == 5  # tcIds 2, 5, 13, 14, 15: HS256/HS384/HS512/RS256 keysets
