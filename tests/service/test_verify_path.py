"""The ``POST /v1/verify`` request path (issue 10): cached verifier, bounded image work."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import event

from asxh_card.service.app import create_app
from asxh_card.service.context import ServiceContext

from .conftest import TestClient


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
    out that nothing had changed; then one stamp read and the account check per request. Warm,
    it now runs no SQL at all (issue 10 §5: the caches are fresh per caches.py).
    """
    card = _card(service)
    for _ in range(2):  # builds the verifier; its own re-signing may cost one more build
        assert _verify(service, card)["valid"] is True
    with _slow_clock_proof(service), _statements(service) as seen:
        assert _verify(service, card)["valid"] is True  # one look after the settings changed
        seen.clear()
        for _ in range(5):
            assert _verify(service, card)["valid"] is True
    assert seen == []


@contextmanager
def _slow_clock_proof(service: Any) -> Iterator[None]:
    """The caches trusted for 60 s meanwhile, so a slow test machine cannot make them look."""
    settings, ttl = service.ctx.settings, service.ctx.accounts.ttl
    service.ctx.settings = settings.with_(cache_ms=5000)
    service.ctx.accounts.ttl = 60.0
    try:
        yield
    finally:
        service.ctx.settings, service.ctx.accounts.ttl = settings, ttl


@contextmanager
def _other_worker(service: Any, cache_ms: int) -> Iterator[Any]:
    """A second app instance (another worker process's view) on the same database."""
    other = ServiceContext.build(service.ctx.settings.with_(cache_ms=cache_ms))
    try:
        with TestClient(create_app(other.settings, context=other)) as client:
            yield client
    finally:
        other.engine.dispose()


def _verify_on(client: Any, service: Any, card: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/v1/verify", json={"qr_text": card["qr_text"]}, headers=service.auth("sp")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_another_workers_revocation_is_seen_within_the_cache_bound(service: Any) -> None:
    """Attack window: a card revoked on worker A still answered "valid" by worker B's cache.

    B does not see A's commits; it looks at the database again once its cache is older than
    ``ASXH_CACHE_MS``. With 0 it looks on every request.
    """
    card, other_card = _card(service), _card(service)
    with _other_worker(service, 300) as bounded, _other_worker(service, 0) as eager:
        for client in (bounded, eager):
            for _ in range(2):
                assert _verify_on(client, service, card)["valid"] is True
        revoked = service.call(
            "off79", "POST", f"/v1/cards/{card['serial']}/revoke", json={"reason_code": "other"}
        )
        assert revoked.status_code == 200, revoked.text
        assert _verify_on(eager, service, card)["reason"] == "revoked"
        time.sleep(0.35)
        assert _verify_on(bounded, service, card)["reason"] == "revoked"
        assert _verify_on(bounded, service, other_card)["valid"] is True


def test_a_card_of_an_issuer_made_on_another_worker_is_not_refused_from_the_cache(
    service: Any,
) -> None:
    """A "not valid" is never answered from a cache that has not looked at the database.

    Worker B holds a verifier from before worker A created a new issuer (key, bundle); A's
    first card of that issuer must verify on B at once, not "unknown issuer" for a second.
    """
    from asxh_card.service.db import session_scope
    from asxh_card.service.demo import ALL_PROGRAMMES, ensure_issuer, ensure_operator

    from .conftest import PASSWORD

    with _other_worker(service, 5000) as worker_b:
        assert _verify_on(worker_b, service, _card(service))["valid"] is True
        with session_scope(service.ctx.sessions) as session:
            ensure_issuer(
                session, service.ctx, "vn-48", name="Sở Y tế Đà Nẵng (test)", province="48"
            )
            ensure_operator(
                session,
                service.ctx,
                "off48",
                password=PASSWORD,
                role="issuer_officer",
                province="48",
                programmes=ALL_PROGRAMMES,
            )
        number = service.register("off48", province="48")
        service.grant("off48", number, service.BHYT)
        card = service.issue("off48", number)
        assert _verify_on(worker_b, service, card)["valid"] is True


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
