"""Whole-or-nothing file writes: the one copy the package uses (keys, bundles, state, secrets).

:func:`write_atomic` writes a temporary file in the target's directory (random name, ``O_EXCL``,
the final mode from the start), fsyncs it, then either renames it over the target (``replace``)
or hard-links it into place so that an existing file is never overwritten (``exclusive``), and
fsyncs the directory so the new entry survives a crash. A reader sees the old file or the whole
new one, never a part.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["write_atomic"]


def _fsync_directory(directory: Path) -> None:
    # A rename is durable only once the directory entry is on disk.
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows cannot open a directory
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` whole or not at all, with permissions ``mode``.

    ``exclusive``: refuse to replace an existing ``path`` (:class:`FileExistsError`, also when
    another process won a race for it). Other failures raise :class:`OSError`; the temporary
    file is removed in every case.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A random name: one derived from the pid collides with the leftover of a run killed
    # mid-write (containers reuse the same pid on every start). Fixed length, so a name the
    # file system accepts never fails on its temporary name instead.
    tmp = path.with_name(f".asxh-{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)  # the umask may have narrowed O_CREAT's mode
        if exclusive:
            os.link(tmp, path)  # fails if the target exists, even if it appeared meanwhile
        else:
            tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_directory(path.parent)
