"""Bulk issuing: a JSON Lines file of card descriptions in, a directory of cards out.

How a batch runs (``asxh issue CARDS.jsonl --key KEY --out DIR``):

1. **Check and sign everything first**, in this process: every line is parsed and issued
   (checking and signing cost ~0.1 ms a card). Bad lines are collected with their line
   numbers. By default one bad line refuses the whole batch (:class:`BatchRefusedError`) and
   *nothing* is written:
   a province re-runs a corrected file rather than tracking which cards were made.
   With ``skip_invalid=True`` bad lines are reported in the manifest and skipped.
2. **Render in parallel** with a process pool (one worker per core by default: the notes measure
   1.9-2.0x on the 2 cores). A unit of work is one print page, 10 cards: each worker writes the
   cards' files and the page's PDF into a staging directory inside the output directory.
3. **Publish**: when every page has been rendered, the staged files are moved into place with
   ``os.replace`` (atomic per file, same file system) and the staging directory is removed. If
   rendering or a move fails, nothing is left: no staged file, no published file, and no output
   directory when the batch created it (:mod:`asxh_card.issuing.staging`).

Outputs per card are those of :func:`asxh_card.issuing.render.render_card` without the one-card
PDF; the print file is one ``sheets.pdf`` (10 cards an A4 page, in line order,
:class:`~asxh_card.issuing.render.batch.BatchPdf`) and ``manifest.jsonl`` lists every line:
its serial and QR version, or its error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asxh_card._core.keys import Signer
from asxh_card._core.timeutil import utc_now
from asxh_card.card import CardClaims, parse_card_jws
from asxh_card.errors import InvalidInputError
from asxh_card.issuing.cardfile import parse_card_json
from asxh_card.issuing.issuer import IssuedCard, Issuer
from asxh_card.issuing.render import render_card
from asxh_card.issuing.render.batch import BatchPdf
from asxh_card.issuing.staging import publish, staging_directory
from asxh_card.programmes import ProgrammeRegistry

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "BatchError",
    "BatchRefusedError",
    "BatchResult",
    "BatchSourceError",
    "OutputDirectoryError",
    "issue_batch",
    "publish",
    "sign_batch",
]

_PAGE = 10
#: The batch's print file: every card in line order, 10 to an A4 page.
SHEETS_PDF = "sheets.pdf"
#: A JSON Lines batch line longer than this is refused before parsing.
MAX_LINE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class BatchError:
    """A refused line: its 1-based number and why."""

    line: int
    message: str


class BatchRefusedError(InvalidInputError):
    """At least one line is bad and ``skip_invalid`` is off: nothing was written."""

    def __init__(self, errors: list[BatchError]) -> None:
        self.errors = errors
        shown = "; ".join(f"line {e.line}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} bad line(s), nothing issued: {shown}{more}")


class BatchSourceError(InvalidInputError):
    """The batch file cannot be read or holds no card description: nothing was written."""


class OutputDirectoryError(InvalidInputError):
    """``out_dir`` is not a directory, or already holds a batch: nothing was written.

    A second batch into the same directory would replace ``manifest.jsonl`` and the first
    sheets but leave the rest, mixing two batches in the sheets and losing a manifest.
    """


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputDirectoryError(f"{out_dir} exists and is not a directory")
    for earlier in (out_dir / "manifest.jsonl", out_dir / SHEETS_PDF, out_dir / "sheets"):
        if earlier.exists():
            raise OutputDirectoryError(
                f"{out_dir} already holds a batch ({earlier.name}); choose a new directory"
            )


@dataclass(slots=True)
class BatchResult:
    """What a batch produced."""

    issued: list[tuple[int, IssuedCard]] = field(default_factory=list)
    errors: list[BatchError] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def sign_batch(
    path: Path,
    *,
    signer: Signer,
    registry: ProgrammeRegistry | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> BatchResult:
    """Parse and issue every line of ``path`` (no rendering, nothing written).

    Raises :class:`BatchSourceError` when ``path`` cannot be read or has no non-blank line.
    """
    result = BatchResult()
    issuers: dict[tuple[str, str], Issuer] = {}
    try:
        for number, line in _lines(path):
            if len(line) > MAX_LINE_BYTES:
                result.errors.append(BatchError(number, f"line longer than {MAX_LINE_BYTES} bytes"))
                continue
            try:
                description = parse_card_json(line, source=f"{path.name}:{number}")
                key = (description.issuer, description.province)
                if key not in issuers:
                    issuers[key] = Issuer(
                        issuer_id=description.issuer,
                        province=description.province,
                        signer=signer,
                        registry=registry,
                        clock=clock,
                    )
                result.issued.append((number, issuers[key].issue_request(description.request)))
            except InvalidInputError as exc:
                result.errors.append(BatchError(number, str(exc)))
    except OSError as exc:
        raise BatchSourceError(f"{path}: cannot read the batch ({exc.strerror or exc})") from None
    if not result.issued and not result.errors:
        raise BatchSourceError(f"{path}: no card description (the file has no non-blank line)")
    return result


def _render_page(
    job: tuple[str, list[tuple[str, str]], int, ProgrammeRegistry | None, int | None],
) -> tuple[list[str], list[Image.Image]]:
    """Worker: render one page of cards into the staging directory; the names and faces.

    Receives tokens, not claim objects: the worker re-reads the claims from the signed payload
    (plain JSON pickles cheaply; the claim objects and a registry hold read-only mappings that
    do not, so a job with a registry other than the bundled one runs in this process).
    """
    staging, cards, page, registry, screen_scale = job
    names: list[str] = []
    images = []
    for token, qr_text in cards:
        _, payload = parse_card_jws(token)
        claims = CardClaims.from_claims(payload, registry=registry)
        issued = IssuedCard(token=token, qr_text=qr_text, claims=claims, qr_version=0)
        rendered = render_card(
            issued, registry=registry, screen_scale=screen_scale, print_sheet=False
        )
        for suffix, data in rendered.files.items():
            name = f"{claims.serial}{suffix}"
            Path(staging, name).write_bytes(data)
            names.append(name)
        images.append(rendered.card)
    del page
    return names, images


def issue_batch(
    path: Path,
    *,
    signer: Signer,
    out_dir: Path,
    skip_invalid: bool = False,
    workers: int | None = None,
    registry: ProgrammeRegistry | None = None,
    clock: Callable[[], datetime] = utc_now,
    screen_scale: int | None = None,
) -> BatchResult:
    """Issue and render every card of a JSON Lines file into ``out_dir`` (see module docs).

    ``workers`` defaults to the number of CPUs; 1 renders in this process, and so does a
    ``registry`` other than the bundled one (it cannot be sent to worker processes).
    ``screen_scale`` is :func:`~asxh_card.issuing.render.render_card`'s. An ``out_dir`` that
    is not a directory or already holds a batch raises :class:`OutputDirectoryError` first.
    """
    _check_out_dir(out_dir)
    result = sign_batch(path, signer=signer, registry=registry, clock=clock)
    if result.errors and not skip_invalid:
        raise BatchRefusedError(result.errors)
    with staging_directory(out_dir) as staging:
        sheets = BatchPdf(staging / SHEETS_PDF)
        own_registry = registry if registry is not ProgrammeRegistry.default() else None
        pages = [
            (
                str(staging),
                [(c.token, c.qr_text) for _, c in result.issued[i : i + _PAGE]],
                i // _PAGE + 1,
                own_registry,
                screen_scale,
            )
            for i in range(0, len(result.issued), _PAGE)
        ]
        try:
            count = workers or os.cpu_count() or 1
            names: list[str] = []
            if count == 1 or len(pages) <= 1 or own_registry is not None:
                rendered = map(_render_page, pages)
                for page_names, faces in rendered:
                    names.extend(page_names)
                    for face in faces:
                        sheets.add(face)
            else:
                with ProcessPoolExecutor(max_workers=min(count, len(pages))) as pool:
                    for page_names, faces in pool.map(_render_page, pages):
                        names.extend(page_names)
                        for face in faces:
                            sheets.add(face)
        except BaseException:
            sheets.abort()
            raise
        if sheets.cards:
            sheets.close()
            names.append(SHEETS_PDF)
        else:
            sheets.abort()
        manifest: list[dict[str, Any]] = [
            {"line": n, "serial": c.serial, "qr_version": c.qr_version} for n, c in result.issued
        ]
        manifest += [{"line": e.line, "error": e.message} for e in result.errors]
        manifest.sort(key=lambda row: int(row["line"]))
        (staging / "manifest.jsonl").write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in manifest),
            encoding="utf-8",
        )
        names.append("manifest.jsonl")
        result.files = publish(staging, out_dir, names)
    return result
