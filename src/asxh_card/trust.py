"""Building and signing trust bundles (DESIGN.md §4); the national root's side.

The format (parsing, checking) is :mod:`asxh_card.bundle`, beside the card format; every
bundle built here is parsed back with it before it is returned, so a bundle that a verifier would
refuse is never written. docs/trust-bundle.md documents the format and the issuer registry file.

Issuer registry file (``asxh bundle build --issuers FILE``)::

    {"issuers": [{"id": "vn-79", "name": "BHXH TP. Hồ Chí Minh", "province": "79",
                  "programmes": ["BHYT", "BHXH"],
                  "keys": [{"jwk_file": "keys/vn-79-2026.jwk",
                            "not_before": "2026-01-01T00:00:00+07:00", "not_after": null}]}]}

A key gives ``jwk`` (inline public JWK) or ``jwk_file`` (path relative to the registry file);
``not_before``/``not_after`` are NumericDate integers or ISO 8601 datetimes with an offset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from asxh_card._core import jws as _jws
from asxh_card._core import strictjson
from asxh_card._core.keys import JWKError, PublicKey, Signer
from asxh_card._core.statuslist import parse_status_list_token
from asxh_card.bundle import (
    BUNDLE_FORMAT_VERSION,
    BUNDLE_TYP,
    TrustBundle,
    load_status_list,
    parse_bundle,
    token_sha256,
)
from asxh_card.errors import BundleInvalidError, StatusListInvalidError

__all__ = [
    "build_bundle",
    "load_issuer_registry",
    "sign_bundle_payload",
    "status_list_entry",
]


def sign_bundle_payload(payload: Mapping[str, Any], root: Signer) -> str:
    """Sign a bundle payload as is, without any check (tests use it to forge bad bundles)."""
    return _jws.sign_compact(payload, root, typ=BUNDLE_TYP, compress=False)


def _moment(value: object, where: str) -> int | None:
    if value is None or (type(value) is int):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise BundleInvalidError(f"{where}: not an ISO 8601 datetime") from None
        if moment.tzinfo is None:
            raise BundleInvalidError(f"{where}: the datetime needs an offset (+07:00)")
        return int(moment.timestamp())
    raise BundleInvalidError(f"{where}: expected seconds or an ISO 8601 datetime")


_REGISTRY_MAX_BYTES = 1 << 20


def _read_json(path: Path, what: str) -> Any:
    """Strict JSON from ``path``.

    Duplicate members are refused: a registry the national root signs must read the same to
    every tool, not "last member wins".
    """
    try:
        return strictjson.loads(path.read_bytes(), max_size=_REGISTRY_MAX_BYTES)
    except (OSError, strictjson.StrictJSONError) as exc:
        raise BundleInvalidError(f"cannot read {what} {path}: {exc}") from None


def load_issuer_registry(path: str | Path) -> list[dict[str, Any]]:
    """Read an issuer registry file into bundle ``issuers`` entries (see the module docstring)."""
    path = Path(path)
    data = _read_json(path, "the issuer registry")
    if not isinstance(data, dict) or not isinstance(data.get("issuers"), list):
        raise BundleInvalidError("the issuer registry must be an object with an issuers list")
    issuers: list[dict[str, Any]] = []
    for i, raw in enumerate(data["issuers"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("keys"), list):
            raise BundleInvalidError(f"issuers[{i}] must be an object with a keys list")
        keys = []
        for j, key in enumerate(raw["keys"]):
            where = f"issuers[{i}].keys[{j}]"
            if not isinstance(key, dict):
                raise BundleInvalidError(f"{where} must be an object")
            jwk = key.get("jwk")
            if "jwk_file" in key:
                jwk = _read_json(path.parent / str(key["jwk_file"]), f"{where}.jwk_file")
            try:
                public = PublicKey.from_jwk(jwk).to_jwk()
            except JWKError as exc:
                raise BundleInvalidError(f"{where}: {exc}") from None
            keys.append(
                {
                    "jwk": public,
                    "not_before": _moment(key.get("not_before"), f"{where}.not_before"),
                    "not_after": _moment(key.get("not_after"), f"{where}.not_after"),
                }
            )
        issuers.append({**{k: v for k, v in raw.items() if k != "keys"}, "keys": keys})
    return issuers


def status_list_entry(
    token: str, issuers: Sequence[Mapping[str, Any]], *, embed: bool = False
) -> dict[str, Any]:
    """The bundle's ``status_lists`` entry for ``token``: URI (its ``sub``), issuer, SHA-256.

    The issuer is the one whose key (by ``kid``) signed the token; the signature is checked.
    """
    token = token.strip()
    try:
        owners = {
            key.kid: (issuer["id"], key)
            for issuer in issuers
            for key in (PublicKey.from_jwk(raw["jwk"]) for raw in issuer["keys"])
        }
    except JWKError as exc:
        raise StatusListInvalidError(str(exc)) from None

    def key_of(kid: str) -> PublicKey | None:
        owner = owners.get(kid)
        return None if owner is None else owner[1]

    # The bundle builder writes what the verifiers will load (load_status_list below), so the
    # lenient extra-claims policy of an arbitrary IETF token does not apply here.
    verified = parse_status_list_token(token, key_of)
    issuer_id = owners[verified.kid][0]
    entry: dict[str, Any] = {
        "uri": verified.uri,
        "issuer": issuer_id,
        "sha256": token_sha256(token),
    }
    if embed:
        entry["token"] = token
    return entry


def build_bundle(
    *,
    root: Signer,
    issuers: Sequence[Mapping[str, Any]],
    status_tokens: Sequence[str] = (),
    version: int,
    issued_at: int,
    expires_at: int,
    embed_status: bool = False,
) -> tuple[str, TrustBundle]:
    """Build, sign and re-verify a bundle; returns the token and its parsed form.

    ``issuers`` are bundle issuer entries (e.g. from :func:`load_issuer_registry`);
    ``status_tokens`` are ``statuslist+jwt`` tokens, each assigned to the issuer whose key
    signed it (embedded in the bundle when ``embed_status``). Each list is then checked as a
    verifier loads it (key window, 2-bit entries, payload members): a list that would stop every
    verifier from starting raises :class:`~asxh_card.errors.StatusListInvalidError` here.
    """
    entries = [status_list_entry(t, issuers, embed=embed_status) for t in status_tokens]
    payload = {
        "v": BUNDLE_FORMAT_VERSION,
        "version": version,
        "iat": issued_at,
        "exp": expires_at,
        "issuers": [dict(i) for i in issuers],
        "status_lists": entries,
    }
    token = sign_bundle_payload(payload, root)
    bundle = parse_bundle(token, roots=[root.public_key])
    for status_token, entry in zip(status_tokens, entries, strict=True):
        load_status_list(status_token, bundle.status_lists[entry["uri"]], bundle)
    return token, bundle
