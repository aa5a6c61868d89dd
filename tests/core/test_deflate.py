"""Bounded raw DEFLATE and ZLIB inflate: bombs stop at the limit with bounded memory."""

from __future__ import annotations

import time
import tracemalloc
import zlib

import pytest

from asxh_card._core.deflate import (
    InflateError,
    InflateLimitError,
    deflate_raw,
    deflate_zlib,
    inflate_raw,
    inflate_zlib,
)

MIB = 1024 * 1024


def zero_bomb(size: int, *, wbits: int = -15) -> bytes:
    """``size`` zero bytes compressed, streamed in 1 MiB chunks (never held in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = bytes(MIB)
    parts = [compressor.compress(chunk) for _ in range(size // MIB)]
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bomb_200mib() -> bytes:
    """200 MiB of zeros as raw DEFLATE (about 200 KB compressed)."""
    return zero_bomb(200 * MIB)


def test_raw_round_trip() -> None:
    """deflate_raw output has no zlib header and inflates back."""
    data = "Nguyễn Thị Minh Khai".encode() * 20
    packed = deflate_raw(data)
    assert packed[:1] != b"\x78"
    assert zlib.decompress(packed, -15) == data
    assert inflate_raw(packed, limit=len(data)) == data


def test_zlib_round_trip() -> None:
    """deflate_zlib output has the ZLIB wrapper (RFC 1950) and inflates back."""
    data = bytes(range(256)) * 4
    packed = deflate_zlib(data)
    assert packed[0] == 0x78
    assert zlib.decompress(packed) == data
    assert inflate_zlib(packed, limit=len(data)) == data


def test_limit_is_inclusive() -> None:
    """Output of exactly ``limit`` bytes is accepted; one byte more is refused."""
    data = b"a" * 1000
    assert inflate_raw(deflate_raw(data), limit=1000) == data
    with pytest.raises(InflateLimitError):
        inflate_raw(deflate_raw(data), limit=999)


def test_deflate_bomb_fails_fast_with_bounded_memory(bomb_200mib: bytes) -> None:
    """Decompression bomb: 200 MiB of zeros stops at the 16 KiB limit using a few MiB at most."""
    assert len(bomb_200mib) < 300_000
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(InflateLimitError):
            inflate_raw(bomb_200mib, limit=16_384)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MIB
    # Not a timing assertion (benchmarks live in bench/): a sanity bound far above the real cost.
    assert elapsed < 5


def test_zlib_bomb_is_bounded_too() -> None:
    """Decompression bomb in a status list: the ZLIB path has the same bound."""
    with pytest.raises(InflateLimitError):
        inflate_zlib(zero_bomb(8 * MIB, wbits=15), limit=1_000_000)


@pytest.mark.parametrize("cut", [1, 2, 5])
def test_truncated_raw_deflate_is_refused(cut: int) -> None:
    """A raw DEFLATE stream missing its last bytes is refused as truncated or corrupt."""
    packed = deflate_raw(b"hello world " * 50)
    with pytest.raises(InflateError) as info:
        inflate_raw(packed[:-cut], limit=10_000)
    assert not isinstance(info.value, InflateLimitError)


def test_zlib_wrapped_data_is_refused_as_raw() -> None:
    """A ZLIB-wrapped stream is not raw DEFLATE: ``zip: DEF`` payloads must not carry a header."""
    with pytest.raises(InflateError):
        inflate_raw(zlib.compress(b"hello world" * 10), limit=10_000)


def test_raw_data_is_refused_as_zlib() -> None:
    """Raw DEFLATE is not ZLIB: the status list wrapper is mandatory."""
    with pytest.raises(InflateError):
        inflate_zlib(deflate_raw(b"hello world" * 10), limit=10_000)


def test_trailing_data_is_refused() -> None:
    """Bytes after the end of the compressed stream are refused (two texts, one token)."""
    with pytest.raises(InflateError, match="trailing"):
        inflate_raw(deflate_raw(b"{}") + b"\x00", limit=100)


def test_zlib_checksum_is_checked() -> None:
    """A ZLIB stream with a wrong Adler-32 is refused."""
    packed = bytearray(deflate_zlib(b"status list bytes"))
    packed[-1] ^= 1
    with pytest.raises(InflateError):
        inflate_zlib(bytes(packed), limit=100)


def test_garbage_is_refused() -> None:
    """Bytes that are not DEFLATE at all are refused."""
    with pytest.raises(InflateError):
        inflate_raw(b"\xff\xff\xff\xff", limit=100)


def test_empty_input_is_truncated() -> None:
    """An empty compressed payload is a truncated stream, not an empty document."""
    with pytest.raises(InflateError, match="truncated"):
        inflate_raw(b"", limit=100)
