"""All-or-nothing output: files are written into a staging directory, then renamed into place.

``asxh issue`` (one card) and :func:`asxh_card.issuing.bulk.issue_batch` (a batch) both write
this way, so neither leaves a half-written file under its final name:

* the staging directory sits inside the output directory, on the same file system, so every
  move is one atomic ``os.replace``;
* if writing fails, the staging directory is removed, and so is the output directory when this
  run created it (and it is still empty);
* if a move fails halfway, the files already moved are removed again: a run publishes all of
  its files or none.

No rendering library is imported here.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["publish", "staging_directory"]


@contextlib.contextmanager
def staging_directory(out_dir: Path) -> Iterator[Path]:
    """A new hidden directory inside ``out_dir`` (created if needed), removed on leaving.

    When the block raises, an ``out_dir`` this call created is removed too if it is empty.
    """
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging: Path | None = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=".asxh-staging-", dir=out_dir))
        yield staging
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):  # not empty: someone else wrote there meanwhile
                out_dir.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, out_dir: Path, names: Iterable[str]) -> list[Path]:
    """Move the staged files ``names`` into ``out_dir``: all of them, or none when one fails."""
    placed: list[Path] = []
    made: list[Path] = []
    try:
        for name in names:
            target = out_dir / name
            if not target.parent.is_dir():  # e.g. sheets/ of a batch
                target.parent.mkdir(parents=True)
                made.append(target.parent)
            (staging / name).replace(target)
            placed.append(target)
    except BaseException:
        for target in placed:
            target.unlink(missing_ok=True)
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    return placed
