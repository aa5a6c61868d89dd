"""Small helpers shared by the programme modules: quoting input, JSON-type tests, key folding."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from typing import Any, TypeAlias, TypeGuard

#: A value an entitlement attribute may take on a card.
AttributeValue: TypeAlias = int | str


def _show(text: str, limit: int = 40, *, tail: bool = False) -> str:
    """Quote a key or code from the input, cut so that hostile input cannot flood the logs.

    ``tail`` keeps the end (for paths, whose last part names the offending key).
    """
    if len(text) > limit:
        text = "..." + text[-limit:] if tail else text[:limit] + "..."
    return repr(text)


@functools.lru_cache(maxsize=4096)
def _normalise_key(key: str) -> str:
    """Fold a field name to the form compared with the never-on-card list.

    NFKC folds full-width and compatibility letters, casefold folds case, and dropping every
    non-alphanumeric character makes ``disability_kind``, ``Disability-Kind`` and
    ``disabilityKind`` the same name: a sensitive field must not slip through by spelling.
    """
    folded = unicodedata.normalize("NFKC", key).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """isinstance(value, Mapping), with a fast path for dict: ABC checks dominate card parsing."""
    return type(value) is dict or isinstance(value, Mapping)


def _is_int(value: object) -> bool:
    """Tell whether ``value`` is a JSON integer (``bool`` is an ``int`` only in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
