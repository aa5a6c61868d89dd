"""Hostile input and load (issue 10 §1): bodies, logins, concurrency. Each test names the attack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

CHUNK = b"x" * 65_536


async def _asgi(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any], int]:
    """Call ``app`` over ASGI with a lazily produced body: (status, JSON body, bytes pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal pulled, done
        if done:
            await anyio.sleep(3600)  # a client that keeps the connection open
        chunk = next(chunks, None)
        if chunk is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("10.9.9.9", 1234),
        "server": ("testserver", 80),
        "app": app,
    }
    with anyio.fail_after(30):
        await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def _endless() -> Iterator[bytes]:
    for _ in range(2048):  # 128 MiB if read to the end
        yield CHUNK


def test_chunked_body_without_credentials_is_refused_before_it_is_read(service: Any) -> None:
    """Attack: a 128 MiB chunked body to POST /v1/persons with no token (memory exhaustion).

    The 401 comes before the body is read: not one chunk is pulled from the client.
    """
    status, body, pulled = anyio.run(
        _asgi,
        service.app,
        "POST",
        "/v1/persons",
        {"content-type": "application/json", "transfer-encoding": "chunked"},
        _endless(),
    )
    assert status == 401
    assert body["type"].endswith("/unauthenticated")
    assert pulled == 0


def test_chunked_body_is_cut_off_at_the_limit(service: Any) -> None:
    """Attack: an authenticated officer streams a chunked body without Content-Length.

    The bytes are counted as they arrive: 413 after the first 64 KiB, not after 128 MiB.
    """
    headers = {
        "content-type": "application/json",
        "transfer-encoding": "chunked",
        "authorization": f"Bearer {service.token('off79')}",
    }
    status, body, pulled = anyio.run(_asgi, service.app, "POST", "/v1/persons", headers, _endless())
    assert status == 413
    assert body["type"].endswith("/payload-too-large")
    assert pulled <= 2 * len(CHUNK)


def test_forged_token_is_refused_before_the_body_is_read(service: Any) -> None:
    """Attack: a made-up bearer token does not buy the right to upload a body either."""
    headers = {"content-type": "application/json", "authorization": "Bearer abc.def.ghi"}
    status, body, pulled = anyio.run(_asgi, service.app, "POST", "/v1/cards", headers, _endless())
    assert (status, pulled) == (401, 0)
    assert "invalid or expired" in body["detail"]


@pytest.mark.parametrize("path", ["/v1/persons", "/v1/verify"])
def test_declared_oversize_is_refused_unread(service: Any, path: str) -> None:
    """A Content-Length over the route's limit is 413 before reading, with or without a token."""
    headers = {"content-type": "application/json", "content-length": str(64 * 1024 * 1024)}
    status, _, pulled = anyio.run(_asgi, service.app, "POST", path, headers, _endless())
    assert (status, pulled) == (413, 0)
