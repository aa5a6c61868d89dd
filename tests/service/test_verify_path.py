"""The ``POST /v1/verify`` request path (issue 10): cached verifier, bounded image work."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def _statements(service: Any) -> Iterator[list[str]]:
    """Every SQL statement the service's engine runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()).upper())

    event.listen(service.ctx.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(service.ctx.engine, "before_cursor_execute", record)


def _card(service: Any) -> dict[str, Any]:
    number = service.register()
    service.grant("off79", number, service.BHYT)
    card: dict[str, Any] = service.issue("off79", number)
    return card


def _verify(service: Any, card: dict[str, Any]) -> dict[str, Any]:
    response = service.call("sp", "POST", "/v1/verify", json={"qr_text": card["qr_text"]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_verify_reuses_the_verifier_and_takes_no_write_lock(service: Any) -> None:
    """Verification load must not rebuild the verifier or queue behind writers per request.

    Before, every ``POST /v1/verify`` opened a write transaction (``BEGIN IMMEDIATE`` on SQLite)
    and ran a dozen queries (bundle, keys, issuers, every list and its signing key) to find
    out that nothing had changed.
    """
    card = _card(service)
    for _ in range(2):  # builds the verifier; its own re-signing may cost one more build
        assert _verify(service, card)["valid"] is True
    with _statements(service) as seen:
        for _ in range(5):
            assert _verify(service, card)["valid"] is True
    per_request = len(seen) / 5
    assert per_request <= 4, seen[:12]
    writes = [s for s in seen if s.startswith(("BEGIN", "INSERT", "UPDATE", "DELETE"))]
    assert not writes, writes
    assert not [s for s in seen if "FOR UPDATE" in s], seen


def test_cached_verifier_sees_a_revocation_at_once(service: Any) -> None:
    """The cache must never answer "valid" for a card revoked a moment ago."""
    card = _card(service)
    assert _verify(service, card)["valid"] is True
    revoked = service.call(
        "off79", "POST", f"/v1/cards/{card['serial']}/revoke", json={"reason_code": "other"}
    )
    assert revoked.status_code == 200, revoked.text
    answer = _verify(service, card)
    assert answer["valid"] is False
    assert answer["reason"] == "revoked"
    other = _card(service)  # a new card on the same list, after the rebuild: valid
    assert _verify(service, other)["valid"] is True


def _png_bomb(width: int, height: int) -> bytes:
    """A real PNG of ``width`` x ``height`` black RGB pixels: tiny on disk, huge decoded."""
    row = b"\0" * (1 + 3 * width)  # filter byte + pixels
    packer = zlib.compressobj(9)
    chunks = [packer.compress(row) for _ in range(height)]
    data = b"".join(chunks) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_photo_is_refused_from_its_declared_size(service: Any) -> None:
    """A 300 KB PNG that decodes to 100 megapixels (300 MB) must not be decoded.

    The verifier's cap (50 megapixels, from the header, before decoding) answers it as too
    large; decoding it would have found no QR code and answered "malformed" instead.
    """
    bomb = _png_bomb(10_000, 10_000)
    assert len(bomb) < 1024 * 1024
    response = service.call(
        "sp", "POST", "/v1/verify", files={"photo": ("bomb.png", bomb, "image/png")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is False
    assert response.json()["reason"] == "payload_too_large"


def test_photo_flood_is_answered_503_not_queued(service: Any) -> None:
    """Photos beyond the decoding slots get 503 with Retry-After, not an unbounded queue.

    Before, every upload was decoded at once in the thread pool (40 threads, up to 50
    megapixels each): a flood of photos took memory and CPU without bound.
    """
    card = _card(service)
    png = service.call("off79", "GET", f"/v1/cards/{card['serial']}/card.png").content
    files = {"photo": ("card.png", png, "image/png")}
    with ExitStack() as busy:
        for _ in range(service.ctx.settings.image_concurrency):
            busy.enter_context(service.ctx.images)  # every slot taken by "other photos"
        started = time.monotonic()
        refused = service.call("sp", "POST", "/v1/verify", files=files)
        waited = time.monotonic() - started
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["type"].endswith("not-ready")
    assert waited < 10
    # A JSON verification needs no slot, and once the slots are free the photo is read.
    answer = service.call("sp", "POST", "/v1/verify", json={"qr_text": card["qr_text"]})
    assert answer.json()["valid"] is True
    accepted = service.call("sp", "POST", "/v1/verify", files=files)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["valid"] is True
