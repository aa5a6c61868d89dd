"""Shared route helpers: error responses for the OpenAPI document, problem examples."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Path

from asxh_card.card import ISSUER_ID_PATTERN, SERIAL_PATTERN
from asxh_card.service.deps import province_for
from asxh_card.service.problems import PROBLEM_BASE, PROBLEM_TYPES

__all__ = ["IdPath", "IssuerIdPath", "NumberPath", "SerialPath", "problems", "province_for"]

#: A database id in a path: a positive 32-bit integer (larger values are refused with 422).
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: A mã số ASXH in a path; only its alphabet and length here, the check digit in the handler.
NumberPath = Annotated[
    str,
    Path(
        description="mã số ASXH (11 digits, spaces or dashes allowed)",
        pattern=r"^[0-9 -]{1,20}$",
    ),
]
#: A card serial in a path: the card codec's own pattern (``jti``).
SerialPath = Annotated[str, Path(description="card serial", pattern=f"^{SERIAL_PATTERN.pattern}$")]
#: An issuer id in a path: the card codec's own pattern (``iss``).
IssuerIdPath = Annotated[str, Path(pattern=f"^{ISSUER_ID_PATTERN.pattern}$")]

_MEDIA: Final = "application/problem+json"


def _example(slug: str) -> dict[str, Any]:
    kind = PROBLEM_TYPES[slug]
    return {
        "type": PROBLEM_BASE + slug,
        "status": kind.status,
        "title": kind.title,
        "title_vi": kind.title_vi,
        "detail": "…",
    }


def problems(*slugs: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given problem types (with examples)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for slug in ("unauthenticated", "validation-error", *slugs):
        kind = PROBLEM_TYPES[slug]
        entry = responses.setdefault(
            kind.status, {"description": kind.title, "content": {_MEDIA: {"examples": {}}}}
        )
        entry["content"][_MEDIA]["examples"][slug] = {"value": _example(slug)}
    return responses
