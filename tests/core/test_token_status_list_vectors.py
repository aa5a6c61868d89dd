"""IETF Token Status List examples (oauth-wg/draft-ietf-oauth-status-list, read in place).

The ``status_list_encoding*_json.md`` files give a ``{"bits", "lst"}`` object (ZLIB, base64url,
wrapped over several lines) and, for the short ones, the byte array it encodes. Each decodes to
its bytes, and our ``encode()`` of those bytes decodes back to the same bytes: the compressed
``lst`` itself may differ from the example (another compressor or level), so the comparison is on
the decoded bytes, never on ``lst``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from asxh_card._core import jws
from asxh_card._core.b64 import b64url_encode
from asxh_card._core.keys import PrivateKey
from asxh_card._core.statuslist import (
    STATUS_LIST_LIMITS,
    STATUS_LIST_TYP,
    StatusList,
    verify_status_list_token,
)
from asxh_card.errors import Reason, StatusListInvalidError

FOLDER = "token-status-list"
ENCODING_FILES = [
    "status_list_encoding_json.md",
    "status_list_encoding1_long_json.md",
    "status_list_encoding2_json.md",
    "status_list_encoding2_long_json.md",
    "status_list_encoding4_json.md",
    "status_list_encoding8_json.md",
]

#: Non-zero entries of the long examples, as listed in the draft's text next to each example.
DRAFT_ENTRIES: dict[str, dict[int, int]] = {
    "status_list_encoding1_long_json.md": dict.fromkeys(
        [0, 1993, 25460, 159495, 495669, 554353, 645645, 723232, 854545, 934534, 1000345], 1
    ),
    "status_list_encoding2_long_json.md": {
        0: 1, 1993: 2, 25460: 1, 159495: 3, 495669: 1, 554353: 1,
        645645: 2, 723232: 1, 854545: 1, 934534: 2, 1000345: 3,
    },
    "status_list_encoding4_json.md": {
        0: 1, 1993: 2, 35460: 3, 459495: 4, 595669: 5, 754353: 6, 845645: 7, 923232: 8,
        924445: 9, 934534: 10, 1004534: 11, 1000345: 12, 1030203: 13, 1030204: 14, 1030205: 15,
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def folder(vectors_dir: Path) -> Path:
    """The token-status-list examples folder; skip when absent."""
    path = vectors_dir / FOLDER
    if not path.is_dir():
        pytest.skip(f"{path} not found (CI has ../shared/vectors/{FOLDER})")
    return path


def _read(folder: Path, name: str) -> str:
    path = folder / name
    if not path.is_file():
        pytest.skip(f"{name} not found in {folder}")
    return path.read_text(encoding="utf-8")


def _json_objects(text: str) -> list[Any]:
    """Every top-level {...} block, with the examples' line wrapping inside strings removed."""
    blocks = re.findall(r"^\{.*?^\}", text, flags=re.MULTILINE | re.DOTALL)
    return [json.loads(re.sub(r"\s*\n\s*", "", block)) for block in blocks]


def _byte_array(text: str) -> bytes | None:
    match = re.search(r"byte_array\s*=\s*\[([^\]]*)\]", text)
    if match is None:
        return None
    return bytes(int(item, 16) for item in match.group(1).split(","))


@pytest.mark.parametrize("name", ENCODING_FILES)
def test_encoding_example(folder: Path, name: str) -> None:
    """Each example decodes to its byte array (or listed entries) and re-encodes to the same."""
    text = _read(folder, name)
    (obj,) = _json_objects(text)
    decoded = StatusList.decode(obj)
    assert decoded.bits == obj["bits"]
    expected = _byte_array(text)
    if expected is not None:
        assert decoded.to_bytes() == expected
    if name in DRAFT_ENTRIES:
        entries = DRAFT_ENTRIES[name]
        assert decoded.size == 1_048_576
        assert {i: decoded[i] for i in entries} == entries
        assert sum(1 for byte in decoded.to_bytes() if byte) <= len(entries)
    again = StatusList.decode(decoded.encode())
    assert again.bits == decoded.bits
    assert again.to_bytes() == decoded.to_bytes()


def test_all_bit_sizes_are_covered(folder: Path) -> None:
    """The examples cover 1, 2, 4 and 8 bits per entry."""
    bits = {_json_objects(_read(folder, name))[0]["bits"] for name in ENCODING_FILES}
    assert bits == {1, 2, 4, 8}


def _raw_token(folder: Path) -> str:
    return "".join(_read(folder, "status_list_jwt_raw.md").split())


def test_status_list_token_example_structure(folder: Path) -> None:
    """The draft's signed status-list token parses with our rules and matches status_list_jwt.md.

    Its signing key is not among the vendored files, so the signature itself is not checked
    here; everything before and after the signature step is.
    """
    token = _raw_token(folder)
    parsed = jws.parse_compact(
        token,
        limits=STATUS_LIST_LIMITS,
        typ=STATUS_LIST_TYP,
        header_names=frozenset({"alg", "kid", "typ"}),
    )
    header, payload = _json_objects(_read(folder, "status_list_jwt.md"))
    assert dict(parsed.header) == header
    assert len(parsed.signature) == 64
    claims = jws.decode_payload(parsed, limits=STATUS_LIST_LIMITS)
    assert {k: claims[k] for k in payload} == payload
    status_list = StatusList.decode(claims["status_list"])
    assert status_list.bits == 1
    assert status_list.to_bytes() == bytes([0xB9, 0xA3])
    assert [status_list[i] for i in range(16)] == [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]


def test_status_list_token_example_under_another_key(folder: Path) -> None:
    """Under a key that did not sign it, the draft's token is status_list_invalid (signature)."""
    token = _raw_token(folder)
    _, payload = _json_objects(_read(folder, "status_list_jwt.md"))
    with pytest.raises(StatusListInvalidError, match="bad_signature") as info:
        verify_status_list_token(
            token,
            PrivateKey.generate("ES256").public_key,
            uri=payload["sub"],
            now=payload["iat"],
            bits=1,
        )
    assert info.value.reason is Reason.STATUS_LIST_INVALID


def test_status_list_token_example_resigned_verifies(folder: Path) -> None:
    """The example's claims, re-signed by our key with the example header, verify end to end."""
    token = _raw_token(folder)
    header_segment, payload_segment, _ = token.split(".")
    key = PrivateKey.generate("ES256")
    signing_input = f"{header_segment}.{payload_segment}"
    resigned = f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"
    _, payload = _json_objects(_read(folder, "status_list_jwt.md"))
    result = verify_status_list_token(
        resigned, key.public_key, uri=payload["sub"], now=payload["iat"] + 60, bits=1
    )
    assert result.ttl == 43_200
    assert result.expires_at == payload["exp"]
    assert result.status_list.to_bytes() == bytes([0xB9, 0xA3])
    assert result.kid == key.kid  # the header's kid "12" is the issuer's name for its key
