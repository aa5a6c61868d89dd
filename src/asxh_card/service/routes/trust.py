"""Public trust material (status lists, JWKS, trust bundle) and online verification."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.exceptions import HTTPException

from asxh_card.bundle import BUNDLE_LIMITS
from asxh_card.service import audit, bundles, statuslists, verifying
from asxh_card.service.context import ServiceContext
from asxh_card.service.deps import AdminActor, Anyone, Ctx, transaction
from asxh_card.service.models import IssuerRow, StatusListRow
from asxh_card.service.problems import ProblemError, clean_errors
from asxh_card.service.routes._common import IdPath, IssuerIdPath, problems
from asxh_card.service.schemas import VerifyIn

router = APIRouter(tags=["trust"])

MAX_PHOTO_BYTES = verifying.MAX_PHOTO_BYTES
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
        row = verifying.latest_bundle(session, ctx)
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


def _json_response(answer: dict[str, Any]) -> Response:
    """``answer`` as JSON, encoded once by msgspec (no response model to validate it again)."""
    return Response(content=msgspec.json.encode(answer), media_type="application/json")


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
        return _json_response(await verifying.check_text_async(ctx, body.qr_text))
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
        return _json_response(await run_in_threadpool(verifying.check_photo, ctx, data))
    raise ProblemError(
        "unsupported-media-type",
        detail="send application/json {\"qr_text\": ...} or multipart/form-data with 'photo'",
        detail_vi='Hãy gửi application/json {"qr_text": ...} hoặc multipart/form-data có '
        "trường 'photo'.",
    )
