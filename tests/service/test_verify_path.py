"""The ``POST /v1/verify`` request path (issue 10): cached verifier, bounded image work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
