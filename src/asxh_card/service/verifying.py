"""Checking a card on the server: one cached verifier for ``POST /v1/verify`` and the check page.

The service verifies with the offline :class:`~asxh_card.verifier.Verifier` over its own latest
bundle and status lists, the same code a service point runs offline. The verifier is cached
until the bundle, a list or (demo) a key changes (:func:`cached_checker`); while the cache is
fresh (``caches.py``: no commit in this process since, younger than ``ASXH_CACHE_MS``) a check
runs no SQL at all (:func:`check_text_async`). Both ways in (the API and the web page) call
:func:`check_text` (or its async form) or :func:`check_photo`; nothing here is per route.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer
from starlette.concurrency import run_in_threadpool

from asxh_card.bundle import load_status_list
from asxh_card.card import UncheckedCard
from asxh_card.errors import MalformedError, PayloadTooLargeError, VerificationError
from asxh_card.service import bundles, statuslists
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope, single_read
from asxh_card.service.models import IssuerKeyRow, StatusListRow, TrustBundleRow
from asxh_card.service.problems import ProblemError

__all__ = [
    "MAX_PHOTO_BYTES",
    "Checker",
    "answer",
    "cached_checker",
    "check_photo",
    "check_text",
    "check_text_async",
    "current_checker",
    "latest_bundle",
    "verifier_stamp",
    "warm_checker",
]

#: Largest photo accepted (``POST /v1/verify`` and the check page); pixels are capped by the
#: verifier itself (50 megapixels from the declared size, before decoding).
MAX_PHOTO_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Checker:
    """The cached verifier and when its data was signed.

    ``lists_signed_at``: per issuer, the oldest ``iat`` (Unix seconds) of its status lists the
    verifier holds: that issuer's revocation data is at least this recent.
    ``bundle_issued_at``: the bundle's ``iat``.
    """

    verifier: Any
    lists_signed_at: Mapping[str, int]
    bundle_issued_at: int


def latest_bundle(session: Session, ctx: ServiceContext) -> TrustBundleRow:
    """The newest trust bundle row; 503 ``not-ready`` when none is stored yet."""
    row = bundles.latest_bundle(session, ctx.settings, ctx.keyring)
    if row is None:
        raise ProblemError(
            "not-ready",
            detail="no trust bundle has been signed yet",
            detail_vi="Chưa có gói dữ liệu tin cậy nào được ký.",
        )
    return row


def verifier_stamp(ctx: ServiceContext) -> tuple[Any, ...]:
    """What the cached verifier depends on, read without a transaction or write lock.

    The newest bundle version, every list's version and signing time and, when this service
    signs its own bundles (demo), the issuer keys' states. Read before the verifier is built,
    so a change made meanwhile only costs one more rebuild, never a stale answer.
    """
    with single_read(ctx.engine) as connection:
        bundle = connection.execute(select(func.max(TrustBundleRow.version))).scalar()
        lists = tuple(
            tuple(row)
            for row in connection.execute(
                select(
                    StatusListRow.id,
                    StatusListRow.version,
                    StatusListRow.token_version,
                    StatusListRow.token_signed_at,
                ).order_by(StatusListRow.id)
            )
        )
        keys = (
            tuple(
                connection.execute(
                    select(IssuerKeyRow.id, IssuerKeyRow.state, IssuerKeyRow.not_after).order_by(
                        IssuerKeyRow.id
                    )
                )
            )
            if ctx.keyring.root_available()
            else ()
        )
    return (bundle, lists, keys)


def _stamp_fresh_until(ctx: ServiceContext, stamp: tuple[Any, ...]) -> float:
    """When a list of ``stamp`` becomes due for re-signing (the cache must look again)."""
    half = ctx.settings.status_list_ttl // 2
    signed = [row[3].timestamp() for row in stamp[1] if row[3] is not None]
    return min(signed, default=time.time()) + half


@dataclass(frozen=True, slots=True)
class _Cached:
    stamp: tuple[Any, ...]
    fresh_until: float  # wall clock: a list of the stamp is due for re-signing then
    generation: int  # the process's write count (caches.WriteClock) when the stamp was read
    read_at: float  # monotonic time of the stamp's read
    checker: Checker


def cached_checker(ctx: ServiceContext, *, force: bool = True) -> Checker:
    """A Verifier over the service's own bundle and current lists, cached until they change.

    Reads the stamp (:func:`verifier_stamp`, one read without a transaction); while it is
    unchanged the cached verifier serves, and a list due for re-signing ends the cache, so the
    verifier is rebuilt (and the lists re-signed) then. :func:`warm_checker` skips even the
    stamp's read while the cache is fresh per ``caches.py``; so does this function unless
    ``force``, when another request has just looked. Blocking: call from a worker thread.
    """
    with ctx.verifier_lock:
        # One look at a time: requests that found the cache stale together wait here for the
        # first one's look instead of each reading (and maybe rebuilding) on its own.
        if not force:
            warm = warm_checker(ctx)
            if warm is not None:
                return warm
        generation = ctx.clock.writes  # before the read: a commit meanwhile ends the entry
        read_at = time.monotonic()
        stamp = verifier_stamp(ctx)
        cached: _Cached | None = ctx.cache.get("verifier")
        if cached is not None and cached.stamp == stamp and time.time() < cached.fresh_until:
            checker, fresh_until = cached.checker, cached.fresh_until
        else:
            checker, fresh_until = _build_checker(ctx), _stamp_fresh_until(ctx, stamp)
        ctx.cache["verifier"] = _Cached(stamp, fresh_until, generation, read_at, checker)
        return checker


def warm_checker(ctx: ServiceContext) -> Checker | None:
    """The cached verifier while nothing says it is stale, with no SQL; else None.

    Stale: this process committed a write since its stamp was read (a revocation answered here
    is seen at once), the stamp is older than ``ASXH_CACHE_MS`` (another worker's revocation is
    seen within that bound), or a list is due for re-signing.
    """
    cached: _Cached | None = ctx.cache.get("verifier")
    if (
        cached is None
        or cached.generation != ctx.clock.writes
        or time.monotonic() - cached.read_at >= ctx.settings.cache_ms / 1000
        or time.time() >= cached.fresh_until
    ):
        return None
    return cached.checker


async def current_checker(ctx: ServiceContext) -> tuple[Checker, bool]:
    """The checker to answer with, and whether it came from the cache without a look."""
    warm = warm_checker(ctx)
    if warm is not None:
        return warm, True
    return await run_in_threadpool(lambda: cached_checker(ctx, force=False)), False


async def check_text_async(ctx: ServiceContext, text: str) -> dict[str, Any]:
    """:func:`check_text` on the event loop: no thread hand-off while the cache is warm.

    A "not valid" is never answered from a cache that has not looked at the database: a list,
    key or bundle another worker made since may be what the card needs (only valid → revoked
    waits for ``ASXH_CACHE_MS``).
    """
    checker, unlooked = await current_checker(ctx)
    result = answer(lambda: checker.verifier.verify(text))
    if unlooked and not result["valid"]:
        fresh = await run_in_threadpool(cached_checker, ctx)
        if fresh is not checker:
            checker = fresh
            result = answer(lambda: checker.verifier.verify(text))
    refuse_if_public_url_moved(ctx, checker.verifier, text, result)
    return result


def _build_checker(ctx: ServiceContext) -> Checker:
    """Re-sign the lists that are due and build (or reuse) the verifier over them."""
    from asxh_card.verifier import Verifier  # noqa: PLC0415

    with session_scope(ctx.sessions) as session:
        row = latest_bundle(session, ctx)
        rows = session.scalars(
            select(StatusListRow).options(defer(StatusListRow.data)).order_by(StatusListRow.id)
        ).all()
        tokens = [
            token
            for token in (
                statuslists.refresh_token(session, ctx.settings, ctx.keyring, r) for r in rows
            )
            if token is not None
        ]
        bundle = bundles.current_bundle(session, ctx.settings, ctx.keyring)
        version = row.version
    if bundle is None:  # pragma: no cover - latest_bundle found a row
        raise ProblemError(
            "not-ready",
            detail="no trust bundle has been imported yet",
            detail_vi="Chưa nhập gói dữ liệu tin cậy nào.",
        )
    content = (version, hashlib.sha256("".join(tokens).encode()).hexdigest())
    built = ctx.cache.get("verifier_content")
    if built is not None and built[0] == content:
        checker: Checker = built[1]
        return checker
    acceptable = []
    signed: dict[str, int] = {}
    for token in tokens:
        # A list no verifier accepts (e.g. a test-size list) must not stop every other check:
        # cards on it then answer status_list_missing (cannot check), as offline.
        try:
            loaded = load_status_list(token, bundle)
        except VerificationError:
            continue
        acceptable.append(token)
        signed[loaded.issuer] = min(signed.get(loaded.issuer, loaded.issued_at), loaded.issued_at)
    try:
        verifier = Verifier(
            roots=ctx.keyring.pinned_roots(), bundle=bundle, status_tokens=acceptable
        )
    except VerificationError as exc:
        # The server's own trust data does not load: not the client's fault, never a 422
        # about the card (issue 9 §3).
        raise ProblemError(
            "not-ready",
            detail=f"the service cannot check cards: its own trust data does not load "
            f"({exc.reason.value}: {exc.detail[:200]}); check ASXH_PUBLIC_URL",
            detail_vi="Dịch vụ chưa kiểm tra được thẻ: dữ liệu tin cậy của chính nó không tải "
            f"được ({exc.message_vi}); hãy kiểm tra ASXH_PUBLIC_URL.",
        ) from None
    checker = Checker(verifier, signed, bundle.issued_at)
    ctx.cache["verifier_content"] = (content, checker)
    return checker


def answer(verify: Any) -> dict[str, Any]:
    """The ``POST /v1/verify`` body of ``verify()``: the result, or the reason it failed."""
    try:
        result = verify()
    except VerificationError as exc:
        # Three outcomes: "cannot_check" (update the data) is never shown as an invalid card.
        return {
            "valid": False,
            "outcome": exc.outcome.value,
            "headline_vi": exc.headline("vi"),
            "headline_en": exc.headline("en"),
            "reason": exc.reason.value,
            "message_vi": exc.message_vi,
            "message_en": exc.message_en,
            "detail": exc.detail[:300],
        }
    body: dict[str, Any] = {"valid": bool(result.valid)}
    body.update(result.to_json())
    return body


def refuse_if_public_url_moved(
    ctx: ServiceContext, verifier: Any, text: str, answer: dict[str, Any]
) -> None:
    """503 not-ready when a card this service signed names its list under another origin.

    Its status URI was fixed at issue time from ``ASXH_PUBLIC_URL``; when that setting changed
    (e.g. ``asxh serve --port 9000`` on a database issued under port 8000), the service's own
    trust data no longer covers its own cards. That is the server's configuration, not the
    card's defect nor the client's (issue 9 §3): the card is only blamed when its signature is
    not this service's issuer's.
    """
    if answer.get("reason") not in {"status_list_invalid", "status_list_missing"}:
        return
    try:
        card = UncheckedCard(text)
        status = card.verify(verifier.bundle.issuers[card.issuer].keys[card.kid].key).status
    except (VerificationError, KeyError):
        return
    base = urlsplit(bundles.status_base(ctx.settings, card.issuer))
    uri = urlsplit(status.uri)
    if uri.path.startswith(base.path) and (uri.scheme, uri.netloc) != (base.scheme, base.netloc):
        raise ProblemError(
            "not-ready",
            detail=f"this service's card names its status list under {uri.scheme}://"
            f"{uri.netloc[:100]}, but ASXH_PUBLIC_URL is {ctx.settings.public_url}: set "
            "ASXH_PUBLIC_URL back to the URL the cards were issued under",
            detail_vi=f"Thẻ do dịch vụ này cấp ghi danh sách trạng thái tại {uri.scheme}://"
            f"{uri.netloc[:100]}, nhưng ASXH_PUBLIC_URL là {ctx.settings.public_url}: hãy đặt "
            "lại ASXH_PUBLIC_URL như khi cấp thẻ.",
        )


def check_text(ctx: ServiceContext, text: str, checker: Checker | None = None) -> dict[str, Any]:
    """Check a card's QR text (blocking: call from a worker thread)."""
    checker = checker or cached_checker(ctx)
    result = answer(lambda: checker.verifier.verify(text))
    refuse_if_public_url_moved(ctx, checker.verifier, text, result)
    return result


def check_photo(ctx: ServiceContext, data: bytes, checker: Checker | None = None) -> dict[str, Any]:
    """Check a card from a photo's bytes (blocking: call from a worker thread).

    At most ``ctx.images`` photos are decoded at once (the verifier refuses more than 50
    megapixels from the declared size, before decoding); the surplus is 503.
    """
    checker = checker or cached_checker(ctx)

    def from_photo() -> Any:
        with ctx.images:
            try:
                return checker.verifier.verify_image(data)
            except (MalformedError, PayloadTooLargeError):
                raise
            except (ValueError, OSError):
                raise MalformedError("the upload is not a readable image") from None

    return answer(from_photo)
