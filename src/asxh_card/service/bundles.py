"""The trust bundle on the service (DESIGN.md §4): imported, stored, served.

The bundle (format :mod:`asxh_card.bundle`) names each issuer's keys and status base; it names
no status list, so a revocation needs no new bundle. In production the service holds **no root
key**: an operator uploads a bundle signed offline (``asxh bundle build``) with
``POST /v1/admin/trust-bundle`` (``asxh bundle publish``); :func:`import_bundle` verifies it
against the pinned root public keys (``ASXH_ROOT_PUBLIC_KEY_FILE``) and refuses a rollback. In
demo mode (``Settings.self_signed_bundles``) the service keeps a root key, clearly labelled, and
:func:`latest_bundle` re-signs the bundle when the issuers, their keys or bases change.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from asxh_card._core.timeutil import utc_now
from asxh_card.bundle import TrustBundle, parse_bundle
from asxh_card.errors import BundleInvalidError, BundleRollbackError, BundleStaleError
from asxh_card.service.keyring import Keyring
from asxh_card.service.models import IssuerRow, TrustBundleRow
from asxh_card.service.settings import Settings
from asxh_card.trust import build_bundle

__all__ = [
    "bundle_issuers",
    "current_bundle",
    "import_bundle",
    "latest_bundle",
    "status_base",
    "token_sha256",
]

_REBUILD_AFTER = timedelta(days=1)
_parsed: dict[tuple[str, tuple[str, ...]], TrustBundle] = {}
_parsed_lock = threading.Lock()


def token_sha256(token: str) -> str:
    """Lowercase hex SHA-256 of a token's text."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def status_base(settings: Settings, issuer_id: str) -> str:
    """The issuer's status base URI (``status_base`` in the bundle; its status index)."""
    return f"{settings.public_url}/v1/status-lists/{issuer_id}/"


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def bundle_issuers(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """The issuer entries a bundle signed now would carry (demo mode's bundle content)."""
    issuers: list[dict[str, Any]] = []
    for issuer in session.scalars(
        select(IssuerRow).options(selectinload(IssuerRow.keys)).order_by(IssuerRow.id)
    ):
        keys = []
        for key in issuer.keys:
            if key.state not in {"active", "retiring"}:
                continue
            entry: dict[str, Any] = {
                "jwk": dict(key.public_jwk),
                "not_before": _seconds(key.not_before),
            }
            if key.not_after is not None:
                entry["not_after"] = _seconds(key.not_after)
            keys.append(entry)
        if not keys:
            continue
        issuers.append(
            {
                "id": issuer.id,
                "name": issuer.name,
                "province": issuer.province,
                "programmes": sorted(issuer.programmes),
                "status_base": status_base(settings, issuer.id),
                "keys": keys,
            }
        )
    return issuers


def _newest(session: Session) -> TrustBundleRow | None:
    return session.scalars(
        select(TrustBundleRow).order_by(TrustBundleRow.version.desc()).limit(1)
    ).first()


def _store(session: Session, bundle: TrustBundle, fingerprint: str) -> TrustBundleRow | None:
    """Insert ``bundle``; None when another process stored this version first."""
    row = TrustBundleRow(
        version=bundle.version,
        token=bundle.token,
        fingerprint=fingerprint,
        issued_at=datetime.fromtimestamp(bundle.issued_at, UTC),
        expires_at=datetime.fromtimestamp(bundle.expires_at, UTC),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def latest_bundle(session: Session, settings: Settings, keyring: Keyring) -> TrustBundleRow | None:
    """The newest bundle; in demo mode re-signed first when the issuers or keys changed."""
    latest = _newest(session)
    if not keyring.root_available():
        return latest
    issuers = bundle_issuers(session, settings)
    if not issuers:
        return latest
    fingerprint = hashlib.sha256(
        json.dumps(issuers, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    now = utc_now()
    if (
        latest is not None
        and latest.fingerprint == fingerprint
        and now - latest.issued_at < _REBUILD_AFTER
    ):
        return latest
    # A concurrent rebuild may take this version first: the insert below then fails.
    issued = int(now.timestamp())
    _token, bundle = build_bundle(
        root=keyring.root_signer(),
        issuers=issuers,
        version=(latest.version if latest is not None else 0) + 1,
        issued_at=issued,
        expires_at=issued + settings.bundle_validity_days * 86_400,
    )
    return _store(session, bundle, fingerprint) or _newest(session)


def _parse(token: str, keyring: Keyring) -> TrustBundle:
    roots = keyring.pinned_roots()
    key = (token, tuple(sorted(r.kid for r in roots)))
    with _parsed_lock:
        cached = _parsed.get(key)
    if cached is None:
        cached = parse_bundle(token, roots=roots)
        with _parsed_lock:
            if len(_parsed) > 8:
                _parsed.clear()
            _parsed[key] = cached
    return cached


def current_bundle(session: Session, settings: Settings, keyring: Keyring) -> TrustBundle | None:
    """The newest bundle, parsed and verified against the pinned roots (None: none yet)."""
    row = latest_bundle(session, settings, keyring)
    return None if row is None else _parse(row.token, keyring)


def import_bundle(session: Session, keyring: Keyring, token: str) -> TrustBundleRow:
    """Verify an uploaded root-signed bundle and store it as the newest.

    Raises :class:`~asxh_card.errors.BundleInvalidError` (bad signature, unpinned root, bad
    format, no pinned root configured), :class:`~asxh_card.errors.BundleStaleError` (past its
    ``exp``) or :class:`~asxh_card.errors.BundleRollbackError` (not newer than the stored one).
    """
    roots = keyring.pinned_roots()
    if not roots:
        raise BundleInvalidError("no pinned root key: set ASXH_ROOT_PUBLIC_KEY_FILE")
    bundle = parse_bundle(token, roots=roots)
    now = int(utc_now().timestamp())
    if now > bundle.expires_at:
        raise BundleStaleError(f"the bundle (version {bundle.version}) is past its exp")
    latest = _newest(session)
    if latest is not None and bundle.version <= latest.version:
        raise BundleRollbackError(
            f"offered version {bundle.version}, the service holds version {latest.version}"
        )
    row = _store(session, bundle, token_sha256(bundle.token))
    if row is None:
        raise BundleRollbackError(f"version {bundle.version} was stored meanwhile")
    return row
