"""Public trust material (status lists, JWKS, trust bundle) and online verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.exceptions import HTTPException

from asxh_card.errors import MalformedError, PayloadTooLargeError, VerificationError
from asxh_card.service import bundles, statuslists
from asxh_card.service.context import ServiceContext
from asxh_card.service.deps import Anyone, Ctx, transaction
from asxh_card.service.models import IssuerRow, StatusListRow, TrustBundleRow
from asxh_card.service.problems import ProblemError, clean_errors
from asxh_card.service.routes._common import IdPath, problems
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
    "/v1/status-lists/{list_id}",
    summary="A signed status list (IETF Token Status List, 2 bits per entry)",
    response_class=Response,
    responses={
        200: {
            "content": {_STATUS_MEDIA: {"example": "eyJhbGciOiJFUzI1NiIs..."}},
            "description": "The statuslist+jwt token",
        },
        304: {"description": "Not modified (If-None-Match)"},
        404: {"description": "No such list"},
    },
)
def status_list(
    list_id: IdPath,
    ctx: Ctx,
    if_none_match: Annotated[str | None, Header(max_length=2000)] = None,
) -> Response:
    """Public. A revocation is visible here at once (``Cache-Control: max-age`` ≤ 5 s)."""
    with transaction(ctx) as session:
        row = statuslists.current_token(session, ctx.settings, ctx.keyring, list_id)
        token = None if row is None else row.token
    if token is None:
        raise ProblemError("not-found", detail="no such status list")
    return _public_token(ctx, token, _STATUS_MEDIA, if_none_match)


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
        raise ProblemError("not-ready", detail="no trust bundle has been signed yet")
    return row


@router.get(
    "/v1/trust-bundle",
    summary="The latest signed trust bundle (DESIGN.md §4)",
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
    """Public. Names every current status list with the SHA-256 of its token."""
    with transaction(ctx) as session:
        row = _latest_bundle(session, ctx)
        token, version = row.token, row.version
    return _public_token(
        ctx, token, _BUNDLE_MEDIA, if_none_match, {"X-Bundle-Version": str(version)}
    )


def _verifier(ctx: ServiceContext) -> Any:
    """A Verifier over the service's own current bundle and status lists (cached per version)."""
    from asxh_card.verifier import Verifier  # noqa: PLC0415

    with transaction(ctx) as session:
        row = _latest_bundle(session, ctx)
        cached = ctx.cache.get("verifier")
        if cached is not None and cached[0] == row.version:
            return cached[1]
        tokens = {
            statuslists.list_uri(ctx.settings, list_id): token
            for list_id, token in session.execute(select(StatusListRow.id, StatusListRow.token))
            if token is not None
        }
        token = row.token
        version = row.version
    root = ctx.keyring.root_signer().public_key
    try:
        verifier = Verifier.from_tokens(token, roots=[root], status_tokens=tokens)
    except VerificationError as exc:
        # The server's own data (e.g. status-list URIs under another ASXH_PUBLIC_URL) does not
        # load: not the client's fault, never a 422 about the card.
        raise ProblemError(
            "not-ready",
            detail=f"the service cannot check cards: its own trust data does not load "
            f"({exc.reason.value}: {exc.detail[:200]}); check ASXH_PUBLIC_URL",
        ) from None
    ctx.cache["verifier"] = (version, verifier)
    return verifier


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
async def verify(request: Request, ctx: Ctx, principal: Anyone) -> dict[str, Any]:
    """Uses the offline verifier with the service's own latest bundle and status lists."""
    del principal
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        if len(raw) > 16_384:
            raise ProblemError("payload-too-large", detail="the JSON body is larger than 16 KiB")
        try:
            body = VerifyIn.model_validate_json(raw)
        except ValidationError as exc:  # also for a body that is not JSON
            raise ProblemError(
                "validation-error",
                detail='send {"qr_text": "asxh:/..."}',
                errors=clean_errors(exc.errors()),
            ) from None
        verifier = await run_in_threadpool(_verifier, ctx)
        return _result(lambda: verifier.verify(body.qr_text))
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=2)
        except HTTPException:
            raise  # Starlette's own parse errors: problems.py answers them as validation errors
        except Exception:  # noqa: BLE001 - a broken multipart body is the client's error
            raise ProblemError("validation-error", detail="the request body is malformed") from None
        try:
            photo = form.get("photo")
            if not isinstance(photo, StarletteUploadFile):
                raise ProblemError("validation-error", detail="send the photo in the field 'photo'")
            data = await photo.read(MAX_PHOTO_BYTES + 1)
        finally:
            await form.close()
        if len(data) > MAX_PHOTO_BYTES:
            raise ProblemError("payload-too-large", detail="the photo is larger than 8 MiB")
        verifier = await run_in_threadpool(_verifier, ctx)

        def from_photo() -> Any:
            try:
                return verifier.verify_image(data)
            except (MalformedError, PayloadTooLargeError):
                raise
            except (ValueError, OSError):
                raise MalformedError("the upload is not a readable image") from None

        return await run_in_threadpool(_result, from_photo)
    raise ProblemError(
        "unsupported-media-type",
        detail="send application/json {\"qr_text\": ...} or multipart/form-data with 'photo'",
    )
