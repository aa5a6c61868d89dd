"""Status references and the never-on-card rule over a whole claim set."""

from __future__ import annotations

import re
from collections.abc import Mapping

from asxh_card._core.statuslist import MAX_STATUS_URI_LENGTH, StatusRef
from asxh_card.errors import EntitlementError
from asxh_card.programmes._common import _is_int, _is_mapping, _show, _type_name
from asxh_card.programmes.registry import ProgrammeRegistry

__all__ = ["check_card_fields", "check_status_fields", "check_status_uri", "status_ref_from_claim"]

# Printable ASCII without spaces: a status-list URI is a plain URL, never an IRI.
_STATUS_URI = re.compile(r"https?://[\x21-\x7e]+")

# --------------------------------------------------------------------------------------------
# Status references and never-on-card fields


# URIs that passed the check: a verifier sees the same few status-list URIs on every card.
# Bounded so that a stream of forged cards with random URIs cannot grow it without limit.
_CHECKED_URIS: set[str] = set()
_CHECKED_URIS_MAX = 1024


def check_status_fields(idx: object, uri: object) -> tuple[int, str]:
    """Check a status reference's ``idx`` and ``uri`` (see :func:`status_ref_from_claim`)."""
    if not _is_int(idx):
        raise EntitlementError(f"status reference: 'idx' must be an integer, got {_type_name(idx)}")
    assert isinstance(idx, int)  # noqa: S101 - narrows for mypy
    if idx < 0:
        raise EntitlementError("status reference: 'idx' must not be negative")
    if not isinstance(uri, str):
        raise EntitlementError(f"status reference: 'uri' must be a string, got {_type_name(uri)}")
    return idx, check_status_uri(uri)


def check_status_uri(uri: str) -> str:
    """Return ``uri`` if it may name a status list (http(s), printable ASCII, at most 200)."""
    if uri in _CHECKED_URIS:
        return uri
    if len(uri) > MAX_STATUS_URI_LENGTH:
        raise EntitlementError(
            f"status reference: 'uri' is longer than {MAX_STATUS_URI_LENGTH} characters"
        )
    if _STATUS_URI.fullmatch(uri) is None:
        raise EntitlementError(
            "status reference: 'uri' must be an https:// or http:// URL of printable ASCII"
        )
    if len(_CHECKED_URIS) < _CHECKED_URIS_MAX:
        _CHECKED_URIS.add(uri)
    return uri


def status_ref_from_claim(obj: object) -> StatusRef:
    """Parse ``{"status_list": {"idx": N, "uri": "https://..."}}`` strictly into a StatusRef.

    Exactly those keys; ``idx`` a non-negative integer (not a boolean); ``uri`` an ``https://``
    or ``http://`` URL of at most 200 characters (plain http is acceptable because the status
    list token is itself signed). Anything else raises :class:`EntitlementError`.
    """
    if not _is_mapping(obj) or len(obj) != 1 or "status_list" not in obj:
        raise EntitlementError("status reference must be exactly {'status_list': {...}}")
    inner = obj["status_list"]
    if not _is_mapping(inner) or len(inner) != 2 or "idx" not in inner or "uri" not in inner:
        raise EntitlementError("status reference: 'status_list' must have exactly 'idx' and 'uri'")
    idx, uri = check_status_fields(inner["idx"], inner["uri"])
    return StatusRef(idx=idx, uri=uri)


def check_card_fields(
    mapping: Mapping[str, object],
    *,
    path: str = "",
    registry: ProgrammeRegistry | None = None,
) -> None:
    """Refuse any key, at any depth, that is on the never-on-card list.

    Walks nested mappings and lists (iteratively, so deep input cannot exhaust the stack) and
    compares every key case-insensitively (see :meth:`ProgrammeRegistry.is_never_on_card`).
    ``path`` prefixes the location in the message, e.g. ``"claims"`` gives
    ``claims.ent[0].a.Reason``. Data minimisation: Law 91/2025/QH15, Decree 356/2025/ND-CP.
    """
    reg = ProgrammeRegistry.default() if registry is None else registry
    stack: list[tuple[object, str]] = [(mapping, path)]
    seen: set[int] = set()
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue  # a shared or cyclic container is checked once
        if isinstance(node, Mapping):
            seen.add(id(node))
            for key, value in node.items():
                name = key if isinstance(key, str) else repr(key)
                here = f"{where}.{name}" if where else name
                if isinstance(key, str) and reg.is_never_on_card(key):
                    raise EntitlementError(
                        f"field {_show(here, 120, tail=True)} may never appear on a card "
                        "(sensitive or identifying data; Law 91/2025/QH15, Decree 356/2025/ND-CP)"
                    )
                stack.append((value, here))
        elif isinstance(node, list | tuple):
            seen.add(id(node))
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
