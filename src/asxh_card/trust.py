"""Building and signing trust bundles (DESIGN.md §4); the national root's side.

The format (parsing, checking) is :mod:`asxh_card.bundle`, beside the card format; every
bundle built here is parsed back with it before it is returned, so a bundle that a verifier would
refuse is never written. docs/trust-bundle.md documents the format and the issuer registry file.

Issuer registry file (``asxh bundle build --issuers FILE``)::

    {"issuers": [{"id": "vn-79", "name": "BHXH TP. Hồ Chí Minh", "province": "79",
                  "programmes": ["BHYT", "BHXH"],
                  "status_base": "https://asxh.gov.vn/v1/status-lists/vn-79/",
                  "keys": [{"jwk_file": "keys/vn-79-2026.jwk",
                            "not_before": "2026-01-01T00:00:00+07:00",
                            "not_after": "2031-01-01T00:00:00+07:00"},
                           {"jwk_file": "keys/vn-79-2027.jwk",
                            "not_before": "2027-01-01T00:00:00+07:00"}]}]}

A key gives ``jwk`` (inline public JWK) or ``jwk_file`` (path relative to the registry file);
``not_before``/``not_after`` are NumericDate integers or ISO 8601 datetimes with an offset
(``not_after`` optional). The file is described by :class:`RegistryDocument`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

from asxh_card._core import jws as _jws
from asxh_card._core import strictjson
from asxh_card._core.keys import JWKError, PublicKey, Signer
from asxh_card.bundle import BUNDLE_FORMAT_VERSION, BUNDLE_TYP, TrustBundle, parse_bundle
from asxh_card.errors import BundleInvalidError

__all__ = [
    "RegistryDocument",
    "build_bundle",
    "bundle_payload",
    "load_issuer_registry",
    "sign_bundle_payload",
]


def sign_bundle_payload(payload: Mapping[str, Any], root: Signer) -> str:
    """Sign a bundle payload as is, without any check (tests use it to forge bad bundles)."""
    return _jws.sign_compact(payload, root, typ=BUNDLE_TYP, compress=False)


def _moment(value: int | str | None, where: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BundleInvalidError(f"{where}: not an ISO 8601 datetime") from None
    if moment.tzinfo is None:
        raise BundleInvalidError(f"{where}: the datetime needs an offset (+07:00)")
    return int(moment.timestamp())


_REGISTRY_MAX_BYTES = 1 << 20
_Moment = Annotated[int, msgspec.Meta(ge=0)] | str


class RegistryKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A key of the registry file: ``jwk`` or ``jwk_file``, and its window."""

    not_before: _Moment
    jwk: dict[str, Any] | None = None
    jwk_file: str | None = None
    not_after: _Moment | None = None


class RegistryIssuer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An issuer of the registry file (the bundle's ``issuers[]`` with file-friendly keys)."""

    id: str
    name: str
    province: str
    programmes: list[str]
    status_base: str
    keys: list[RegistryKey]


class RegistryDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The issuer registry file (``asxh bundle build --issuers``)."""

    issuers: list[RegistryIssuer]


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
    """Read an issuer registry file into bundle ``issuers`` entries (see the module docstring).

    The entries' own rules (province, programmes, status base, windows) are checked when the
    bundle is built (:func:`build_bundle` parses it back).
    """
    path = Path(path)
    try:
        doc = msgspec.convert(
            _read_json(path, "the issuer registry"), RegistryDocument, strict=True
        )
    except msgspec.ValidationError as exc:
        raise BundleInvalidError(f"the issuer registry {path}: {exc}") from None
    issuers: list[dict[str, Any]] = []
    for i, issuer in enumerate(doc.issuers):
        keys = []
        for j, key in enumerate(issuer.keys):
            where = f"issuers[{i}].keys[{j}]"
            if (key.jwk is None) == (key.jwk_file is None):
                raise BundleInvalidError(f"{where}: give exactly one of jwk and jwk_file")
            jwk = key.jwk
            if key.jwk_file is not None:
                jwk = _read_json(path.parent / key.jwk_file, f"{where}.jwk_file")
            try:
                public = PublicKey.from_jwk(jwk).to_jwk()
            except JWKError as exc:
                raise BundleInvalidError(f"{where}: {exc}") from None
            entry: dict[str, Any] = {
                "jwk": public,
                "not_before": _moment(key.not_before, f"{where}.not_before"),
            }
            if key.not_after is not None:
                entry["not_after"] = _moment(key.not_after, f"{where}.not_after")
            keys.append(entry)
        issuers.append({**msgspec.structs.asdict(issuer), "keys": keys})
    return issuers


def bundle_payload(
    *, issuers: Sequence[Mapping[str, Any]], version: int, issued_at: int, expires_at: int
) -> dict[str, Any]:
    """The bundle payload for ``issuers`` (bundle ``issuers[]`` entries), unsigned."""
    return {
        "v": BUNDLE_FORMAT_VERSION,
        "version": version,
        "iat": issued_at,
        "exp": expires_at,
        "issuers": [dict(i) for i in issuers],
    }


def build_bundle(
    *,
    root: Signer,
    issuers: Sequence[Mapping[str, Any]],
    version: int,
    issued_at: int,
    expires_at: int,
) -> tuple[str, TrustBundle]:
    """Build, sign and re-verify a bundle; returns the token and its parsed form.

    ``issuers`` are bundle issuer entries (e.g. from :func:`load_issuer_registry`). The bundle
    is parsed back as a verifier parses it, so one that verifiers would refuse raises
    :class:`~asxh_card.errors.BundleInvalidError` instead of being returned.
    """
    payload = bundle_payload(
        issuers=issuers, version=version, issued_at=issued_at, expires_at=expires_at
    )
    token = sign_bundle_payload(payload, root)
    return token, parse_bundle(token, roots=[root.public_key])
