"""The trust bundle (DESIGN.md §4): issuers, their keys and every current status list.

The payload follows :mod:`asxh_card.bundle` (``typ: asxh-bundle+jwt``, signed by the
national root key). A bundle names each status list with the SHA-256 of its current token, so a
status change leads to a new bundle: :func:`latest_bundle` rebuilds it when its content changed
(or it is older than a day) and stores it with the next version number.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, selectinload

from asxh_card._core.timeutil import utc_now
from asxh_card.service import statuslists
from asxh_card.service.keyring import Keyring
from asxh_card.service.models import IssuerKeyRow, IssuerRow, StatusListRow, TrustBundleRow
from asxh_card.service.settings import Settings
from asxh_card.trust import build_bundle

__all__ = ["bundle_content", "latest_bundle", "token_sha256"]

_REBUILD_AFTER = timedelta(days=1)


def token_sha256(token: str) -> str:
    """Lowercase hex SHA-256 of a token's text."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def bundle_content(
    session: Session, settings: Settings, keyring: Keyring
) -> tuple[list[dict[str, Any]], list[str]]:
    """The issuer entries and the current status-list tokens a bundle would carry now."""
    issuers: list[dict[str, Any]] = []
    active_keys: dict[str, IssuerKeyRow | None] = {}
    for issuer in session.scalars(
        select(IssuerRow).options(selectinload(IssuerRow.keys)).order_by(IssuerRow.id)
    ):
        keys = [
            {
                "jwk": dict(key.public_jwk),
                "not_before": _seconds(key.not_before),
                "not_after": _seconds(key.not_after),
            }
            for key in issuer.keys
            if key.state in {"active", "retiring"}
        ]
        if not keys:
            continue
        issuers.append(
            {
                "id": issuer.id,
                "name": issuer.name,
                "province": issuer.province,
                "programmes": sorted(issuer.programmes),
                "keys": keys,
            }
        )
        # As Keyring.active_key: the newest active key, from the keys loaded above.
        active = [key for key in issuer.keys if key.state == "active"]
        active_keys[issuer.id] = max(active, key=lambda k: k.id) if active else None
    tokens: list[str] = []
    # One query for every list (without its bits); a list is re-signed only when stale.
    for row in session.scalars(
        select(StatusListRow)
        .where(StatusListRow.issuer_id.in_(active_keys))
        .options(defer(StatusListRow.data))
        .order_by(StatusListRow.id)
    ):
        token = statuslists.refresh_token(
            session, settings, keyring, row, active_keys[row.issuer_id]
        )
        if token is not None:
            tokens.append(token)
    return issuers, tokens


def _newest(session: Session) -> TrustBundleRow | None:
    return session.scalars(
        select(TrustBundleRow).order_by(TrustBundleRow.version.desc()).limit(1)
    ).first()


def latest_bundle(session: Session, settings: Settings, keyring: Keyring) -> TrustBundleRow | None:
    """The newest bundle, rebuilt first when the content changed and a root key is available."""
    latest = _newest(session)
    if not keyring.root_available():
        return latest
    issuers, tokens = bundle_content(session, settings, keyring)
    fingerprint = hashlib.sha256(
        json.dumps(
            [issuers, [token_sha256(t) for t in tokens]], sort_keys=True, separators=(",", ":")
        ).encode()
    ).hexdigest()
    now = utc_now()
    if (
        latest is not None
        and latest.fingerprint == fingerprint
        and now - latest.issued_at < _REBUILD_AFTER
    ):
        return latest
    # A concurrent rebuild may take this version first: the insert below then fails.
    version = (latest.version if latest is not None else 0) + 1
    issued = int(now.timestamp())
    token, _parsed = build_bundle(
        root=keyring.root_signer(),
        issuers=issuers,
        status_tokens=tokens,
        version=version,
        issued_at=issued,
        expires_at=issued + settings.bundle_validity_days * 86_400,
    )
    row = TrustBundleRow(
        version=version,
        token=token,
        fingerprint=fingerprint,
        issued_at=now,
        expires_at=now + timedelta(days=settings.bundle_validity_days),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another process stored this version first: serve the newest one.
        return _newest(session)
    return row
