"""Public trust material (status lists, JWKS, trust bundle) and online verification."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from fastapi import APIRouter, Header, Request, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, selectinload
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.exceptions import HTTPException

from asxh_card.bundle import BUNDLE_LIMITS, load_status_list
from asxh_card.card import UncheckedCard
from asxh_card.errors import MalformedError, PayloadTooLargeError, VerificationError
from asxh_card.service import audit, bundles, statuslists
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import single_read
from asxh_card.service.deps import AdminActor, Anyone, Ctx, transaction
from asxh_card.service.models import IssuerKeyRow, IssuerRow, StatusListRow, TrustBundleRow
from asxh_card.service.problems import ProblemError, clean_errors
from asxh_card.service.routes._common import IdPath, IssuerIdPath, problems
from asxh_card.service.schemas import VerifyIn

router = APIRouter(tags=["trust"])

MAX_PHOTO_BYTES = 8 * 1024 * 1024
_STATUS_MEDIA = "application/statuslist+jwt"
_BUNDLE_MEDIA = "application/jwt"


def _not_modified(etag: str, if_none_match: str | None) -> bool:
    if not if_none_match:
        return False
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return etag in candidates or "*" in candidates


def _public_token(
    ctx: ServiceContext,
    token: str,
    media_type: str,
    if_none_match: str | None,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """A public signed token with its ETag, short caching, and 304 for a matching ETag."""
    etag = statuslists.etag_of(token)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={ctx.settings.status_list_max_age}",
        **(extra_headers or {}),
    }
    if _not_modified(etag, if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(content=token, media_type=media_type, headers=headers)


@router.get(
    "/v1/status-lists/{issuer_id}/{list_id}",
    summary="A signed status list (IETF Token Status List, 2 bits per entry)",
    response_class=Response,
    responses={
        200: {
            "content": {_STATUS_MEDIA: {"example": "eyJhbGciOiJFUzI1NiIs..."}},
            "description": "The statuslist+jwt token, signed by the issuer's key",
        },
        304: {"description": "Not modified (If-None-Match)"},
        404: {"description": "No such list"},
    },
)
def status_list(
    issuer_id: IssuerIdPath,
    list_id: IdPath,
    ctx: Ctx,
    if_none_match: Annotated[str | None, Header(max_length=2000)] = None,
) -> Response:
    """Public. A revocation is visible here at once (``Cache-Control: max-age`` ≤ 5 s)."""
    with transaction(ctx) as session:
        row = statuslists.current_token(session, ctx.settings, ctx.keyring, list_id)
        token = None if row is None or row.issuer_id != issuer_id else row.token
    if token is None:
        raise ProblemError(
            "not-found",
            detail="no such status list",
            detail_vi="Không tìm thấy danh sách trạng thái.",
        )
    return _public_token(ctx, token, _STATUS_MEDIA, if_none_match)


def _index(session: Session, ctx: ServiceContext, issuer_id: str | None) -> dict[str, list[str]]:
    query = select(StatusListRow.issuer_id, StatusListRow.id).order_by(
        StatusListRow.issuer_id, StatusListRow.id
    )
    if issuer_id is not None:
        query = query.where(StatusListRow.issuer_id == issuer_id)
    lists: dict[str, list[str]] = {}
    for owner, list_id in session.execute(query):
        lists.setdefault(owner, []).append(statuslists.list_uri(ctx.settings, owner, list_id))
    return lists


@router.get(
    "/v1/status-lists",
    summary="Status index: the current list URIs of every issuer",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "issuers": [
                            {
                                "id": "vn-79",
                                "status_base": "http://127.0.0.1:8000/v1/status-lists/vn-79/",
                                "lists": ["http://127.0.0.1:8000/v1/status-lists/vn-79/1"],
                            }
                        ]
                    }
                }
            }
        }
    },
)
def status_index(ctx: Ctx) -> dict[str, Any]:
    """Public. Every issuer's status base and lists (``asxh bundle pull`` reads one per base)."""
    with transaction(ctx) as session:
        lists = _index(session, ctx, None)
        issuers = session.scalars(select(IssuerRow.id).order_by(IssuerRow.id)).all()
    return {
        "issuers": [
            {
                "id": issuer,
                "status_base": bundles.status_base(ctx.settings, issuer),
                "lists": lists.get(issuer, []),
            }
            for issuer in issuers
        ]
    }


@router.get(
    "/v1/status-lists/{issuer_id}/",
    summary="An issuer's status index (its status base): its current list URIs",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "issuer": "vn-79",
                        "lists": ["http://127.0.0.1:8000/v1/status-lists/vn-79/1"],
                    }
                }
            }
        },
        404: {"description": "No such issuer"},
    },
)
def issuer_status_index(issuer_id: IssuerIdPath, ctx: Ctx) -> dict[str, Any]:
    """Public. The lists under this issuer's status base."""
    with transaction(ctx) as session:
        if session.get(IssuerRow, issuer_id) is None:
            raise ProblemError(
                "not-found", detail="no such issuer", detail_vi="Không tìm thấy đơn vị cấp thẻ."
            )
        lists = _index(session, ctx, issuer_id).get(issuer_id, [])
    return {"issuer": issuer_id, "lists": lists}


@router.get(
    "/.well-known/jwks.json",
    summary="Issuer public keys (active and retiring)",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "keys": [
                            {
                                "kty": "EC",
                                "crv": "P-256",
                                "x": "...",
                                "y": "...",
                                "kid": "...",
                                "alg": "ES256",
                                "use": "sig",
                                "iss": "vn-79",
                                "state": "active",
                            }
                        ]
                    }
                }
            }
        }
    },
)
def jwks(ctx: Ctx) -> dict[str, Any]:
    """Public. Every issuer key that may still verify a card."""
    with transaction(ctx) as session:
        issuers = session.scalars(
            select(IssuerRow).options(selectinload(IssuerRow.keys)).order_by(IssuerRow.id)
        ).all()
        keys = [
            {
                **key.public_jwk,
                "kid": key.kid,
                "alg": key.alg,
                "use": "sig",
                "iss": issuer.id,
                "state": key.state,
            }
            for issuer in issuers
            for key in issuer.keys
            if key.state in {"active", "retiring"}
        ]
    return {"keys": keys}


def _latest_bundle(session: Session, ctx: ServiceContext) -> TrustBundleRow:
    row = bundles.latest_bundle(session, ctx.settings, ctx.keyring)
    if row is None:
        raise ProblemError(
            "not-ready",
            detail="no trust bundle has been signed yet",
            detail_vi="Chưa có gói dữ liệu tin cậy nào được ký.",
        )
    return row


@router.get(
    "/v1/trust-bundle",
    summary="The latest root-signed trust bundle (DESIGN.md §4)",
    response_class=Response,
    responses={
        200: {
            "content": {_BUNDLE_MEDIA: {"example": "eyJhbGciOiJFUzI1NiIs..."}},
            "description": "asxh-bundle+jwt token",
        },
        304: {"description": "Not modified"},
        503: {"description": "No bundle yet"},
    },
)
def trust_bundle(
    ctx: Ctx, if_none_match: Annotated[str | None, Header(max_length=2000)] = None
) -> Response:
    """Public. Issuers, their keys (with windows) and status bases; it names no list."""
    with transaction(ctx) as session:
        row = _latest_bundle(session, ctx)
        token, version = row.token, row.version
    return _public_token(
        ctx, token, _BUNDLE_MEDIA, if_none_match, {"X-Bundle-Version": str(version)}
    )


@router.post(
    "/v1/admin/trust-bundle",
    summary="Import a root-signed trust bundle (the service holds no root key)",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {_BUNDLE_MEDIA: {"schema": {"type": "string"}}},
            "required": True,
        }
    },
    responses={
        201: {
            "content": {"application/json": {"example": {"version": 8, "issuers": 34}}},
            "description": "The bundle is stored and served from now on",
        },
        **problems("forbidden", "payload-too-large", "validation-error"),
    },
)
async def import_trust_bundle(request: Request, ctx: Ctx, actor: AdminActor) -> dict[str, Any]:
    """National administrators. Verified against the pinned root keys.

    A lower or equal version is refused (``bundle_rollback``), as is an expired or badly signed
    bundle (problems ``validation-error`` with the verification ``reason``).
    """
    raw = await request.body()
    if len(raw) > BUNDLE_LIMITS.max_token:
        raise ProblemError(
            "payload-too-large",
            detail="the bundle is larger than 8 MiB",
            detail_vi="Gói dữ liệu tin cậy lớn hơn 8 MiB.",
        )
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ProblemError(
            "validation-error",
            detail="the bundle is not ASCII text",
            detail_vi="Gói dữ liệu tin cậy không phải văn bản ASCII.",
        ) from None

    def store() -> dict[str, Any]:
        with transaction(ctx) as session:
            row = bundles.import_bundle(session, ctx.keyring, token)
            parsed = bundles.current_bundle(session, ctx.settings, ctx.keyring)
            issuers = len(parsed.issuers) if parsed is not None else 0
            audit.record(
                session,
                actor,
                "trust_bundle.import",
                "trust_bundle",
                row.version,
                detail={"issuers": issuers},
            )
            return {"version": row.version, "issuers": issuers}

    return await run_in_threadpool(store)


def _verifier_stamp(ctx: ServiceContext) -> tuple[Any, ...]:
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
class _CachedVerifier:
    stamp: tuple[Any, ...]
    fresh_until: float  # wall clock: a list of the stamp is due for re-signing then
    generation: int  # the process's write count (caches.WriteClock) when the stamp was read
    read_at: float  # monotonic time of the stamp's read
    verifier: Any


def _verifier(ctx: ServiceContext, *, force: bool = True) -> Any:
    """A Verifier over the service's own bundle and current lists, cached until they change.

    Reads the stamp (:func:`_verifier_stamp`, one read without a transaction); while it is
    unchanged the cached verifier serves, and a list due for re-signing ends the cache, so the
    verifier is rebuilt (and the lists re-signed) then. :func:`_warm_verifier` skips even the
    stamp's read while the cache is fresh per ``caches.py``; so does this function unless
    ``force``, when another request has just looked.
    """
    with ctx.verifier_lock:
        # One look at a time: requests that found the cache stale together wait here for the
        # first one's look instead of each reading (and maybe rebuilding) on its own.
        if not force:
            warm = _warm_verifier(ctx)
            if warm is not None:
                return warm
        generation = ctx.clock.writes  # before the read: a commit meanwhile ends the entry
        read_at = time.monotonic()
        stamp = _verifier_stamp(ctx)
        cached: _CachedVerifier | None = ctx.cache.get("verifier")
        if cached is not None and cached.stamp == stamp and time.time() < cached.fresh_until:
            verifier = cached.verifier
            fresh_until = cached.fresh_until
        else:
            verifier = _build_verifier(ctx)
            fresh_until = _stamp_fresh_until(ctx, stamp)
        ctx.cache["verifier"] = _CachedVerifier(stamp, fresh_until, generation, read_at, verifier)
        return verifier


def _warm_verifier(ctx: ServiceContext) -> Any | None:
    """The cached verifier while nothing says it is stale, with no SQL; else None.

    Stale: this process committed a write since its stamp was read (a revocation answered here
    is seen at once), the stamp is older than ``ASXH_CACHE_MS`` (another worker's revocation is
    seen within that bound), or a list is due for re-signing.
    """
    cached: _CachedVerifier | None = ctx.cache.get("verifier")
    if (
        cached is None
        or cached.generation != ctx.clock.writes
        or time.monotonic() - cached.read_at >= ctx.settings.cache_ms / 1000
        or time.time() >= cached.fresh_until
    ):
        return None
    return cached.verifier


async def _current_verifier(ctx: ServiceContext) -> tuple[Any, bool]:
    """The verifier to answer with, and whether it came from the cache without a look."""
    warm = _warm_verifier(ctx)
    if warm is not None:
        return warm, True
    return await run_in_threadpool(lambda: _verifier(ctx, force=False)), False


def _build_verifier(ctx: ServiceContext) -> Any:
    """Re-sign the lists that are due and build (or reuse) the verifier over them."""
    from asxh_card.verifier import Verifier  # noqa: PLC0415

    with transaction(ctx) as session:
        row = _latest_bundle(session, ctx)
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
    if bundle is None:  # pragma: no cover - _latest_bundle found a row
        raise ProblemError(
            "not-ready",
            detail="no trust bundle has been imported yet",
            detail_vi="Chưa nhập gói dữ liệu tin cậy nào.",
        )
    content = (version, hashlib.sha256("".join(tokens).encode()).hexdigest())
    built = ctx.cache.get("verifier_content")
    if built is not None and built[0] == content:
        return built[1]
    acceptable = []
    for token in tokens:
        # A list no verifier accepts (e.g. a test-size list) must not stop every other check:
        # cards on it then answer status_list_missing (cannot check), as offline.
        try:
            load_status_list(token, bundle)
        except VerificationError:
            continue
        acceptable.append(token)
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
    ctx.cache["verifier_content"] = (content, verifier)
    return verifier


def _json_response(answer: dict[str, Any]) -> Response:
    """``answer`` as JSON, encoded once by msgspec (no response model to validate it again)."""
    return Response(content=msgspec.json.encode(answer), media_type="application/json")


def _result(verify: Any) -> dict[str, Any]:
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


def _refuse_if_public_url_moved(
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
    if status is None:  # pragma: no cover - the status reasons need a status reference
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


_VERIFY_EXAMPLE = {
    "valid": False,
    "outcome": "invalid",
    "headline_vi": "THẺ KHÔNG HỢP LỆ",
    "headline_en": "INVALID CARD",
    "reason": "revoked",
    "message_vi": "Thẻ đã bị thu hồi.",
    "message_en": "The card has been revoked.",
    "detail": "",
}


@router.post(
    "/v1/verify",
    summary="Verify a card online (QR text as JSON, or a photo as multipart)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": VerifyIn.model_json_schema(),
                    "example": {"qr_text": "asxh:/567629..."},
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"photo": {"type": "string", "format": "binary"}},
                        "required": ["photo"],
                    }
                },
            },
            "required": True,
        }
    },
    responses={
        200: {
            "content": {"application/json": {"example": _VERIFY_EXAMPLE}},
            "description": "The verification result (valid or the reason why not)",
        },
        **problems("forbidden", "payload-too-large", "unsupported-media-type", "not-ready"),
    },
)
async def verify(request: Request, ctx: Ctx, principal: Anyone) -> Response:
    """Uses the offline verifier with the service's own latest bundle and status lists."""
    del principal
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        if len(raw) > 16_384:
            raise ProblemError(
                "payload-too-large",
                detail="the JSON body is larger than 16 KiB",
                detail_vi="Nội dung JSON lớn hơn 16 KiB.",
            )
        try:
            body = VerifyIn.model_validate_json(raw)
        except ValidationError as exc:  # also for a body that is not JSON
            raise ProblemError(
                "validation-error",
                detail='send {"qr_text": "asxh:/..."}',
                detail_vi='Hãy gửi {"qr_text": "asxh:/..."}.',
                errors=clean_errors(exc.errors()),
            ) from None
        verifier, unlooked = await _current_verifier(ctx)
        answer = _result(lambda: verifier.verify(body.qr_text))
        if unlooked and not answer["valid"]:
            # Answered from the cache without a look at the database: a list, key or bundle
            # another worker made since may be what the card needs. A "not valid" is only
            # given after a look (a "valid" can only turn invalid by a revocation, whose bound
            # is ASXH_CACHE_MS).
            fresh = await run_in_threadpool(_verifier, ctx)
            if fresh is not verifier:
                verifier = fresh
                answer = _result(lambda: verifier.verify(body.qr_text))
        _refuse_if_public_url_moved(ctx, verifier, body.qr_text, answer)
        return _json_response(answer)
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=2)
        except HTTPException:
            raise  # Starlette's own parse errors: problems.py answers them as validation errors
        except Exception:  # noqa: BLE001 - a broken multipart body is the client's error
            raise ProblemError(
                "validation-error",
                detail="the request body is malformed",
                detail_vi="Nội dung yêu cầu bị hỏng hoặc sai định dạng.",
            ) from None
        try:
            photo = form.get("photo")
            if not isinstance(photo, StarletteUploadFile):
                raise ProblemError(
                    "validation-error",
                    detail="send the photo in the field 'photo'",
                    detail_vi="Hãy gửi ảnh trong trường 'photo'.",
                )
            data = await photo.read(MAX_PHOTO_BYTES + 1)
        finally:
            await form.close()
        if len(data) > MAX_PHOTO_BYTES:
            raise ProblemError(
                "payload-too-large",
                detail="the photo is larger than 8 MiB",
                detail_vi="Ảnh lớn hơn 8 MiB.",
            )
        verifier = await run_in_threadpool(_verifier, ctx)

        def from_photo() -> Any:
            # At most ctx.images photos are decoded at once (the verifier refuses more than
            # 50 megapixels from the declared size, before decoding); the surplus is 503.
            with ctx.images:
                try:
                    return verifier.verify_image(data)
                except (MalformedError, PayloadTooLargeError):
                    raise
                except (ValueError, OSError):
                    raise MalformedError("the upload is not a readable image") from None

        return _json_response(await run_in_threadpool(_result, from_photo))
    raise ProblemError(
        "unsupported-media-type",
        detail="send application/json {\"qr_text\": ...} or multipart/form-data with 'photo'",
        detail_vi='Hãy gửi application/json {"qr_text": ...} hoặc multipart/form-data có '
        "trường 'photo'.",
    )
