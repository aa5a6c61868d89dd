"""Print-shop batches: the cards of an import job (or a list of serials) in one PDF.

The faces are drawn in worker processes (one per core) from the signed tokens: a card's face
shows what its QR says, and only the face shortens a long name (with an ellipsis); the QR
always carries the full signed name. This process writes the pages as the faces arrive
(:class:`asxh_card.issuing.render.batch.BatchPdf`). Cards signed by a demo service, or by an
issuer whose name marks it as a demo, get the DEMO mark.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Final

from PIL import Image
from sqlalchemy import select

from asxh_card.card import CardClaims, parse_card_jws
from asxh_card.errors import InvalidInputError
from asxh_card.issuing.render.batch import BatchPdf, card_back
from asxh_card.issuing.render.face import card_image
from asxh_card.issuing.render.qr import qr_matrix
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import session_scope
from asxh_card.service.models import CardRow, IssuerRow

__all__ = ["PrintResult", "print_cards", "serials_of_job"]

_CHUNK: Final = 20


def _face(job: tuple[str, str]) -> Image.Image:
    """Worker: the face of one card, from its token and QR text."""
    token, qr_text = job
    _, payload = parse_card_jws(token)
    claims = CardClaims.from_claims(payload)
    return card_image(claims, qr_matrix(qr_text))


def serials_of_job(ctx: ServiceContext, job_id: int) -> list[str]:
    """The active cards an import job issued, in the order they were issued."""
    with session_scope(ctx.sessions) as session:
        return list(
            session.scalars(
                select(CardRow.serial)
                .where(CardRow.import_job_id == job_id, CardRow.state == "active")
                .order_by(CardRow.id)
            )
        )


class PrintResult:
    """What a batch produced."""

    def __init__(self, path: Path, cards: int, pages: int, *, demo: bool) -> None:
        self.path, self.cards, self.pages, self.demo = path, cards, pages, demo


def _rows(ctx: ServiceContext, serials: Sequence[str]) -> Iterator[tuple[str, str, str]]:
    """``(token, qr_text, issuer name)`` per serial, read in slices."""
    names: dict[str, str] = {}
    for start in range(0, len(serials), 500):
        part = serials[start : start + 500]
        with session_scope(ctx.sessions) as session:
            rows = {
                r.serial: r
                for r in session.execute(
                    select(CardRow.serial, CardRow.token, CardRow.qr_text, CardRow.issuer_id).where(
                        CardRow.serial.in_(part)
                    )
                )
            }
            missing = [s for s in part if s not in rows]
            if missing:
                raise InvalidInputError(
                    f"no such card: {missing[0]}", message_vi=f"Không có thẻ {missing[0]}."
                )
            for issuer_id in {r.issuer_id for r in rows.values()} - names.keys():
                issuer = session.get(IssuerRow, issuer_id)
                names[issuer_id] = issuer.name if issuer is not None else issuer_id
        for serial in part:
            row = rows[serial]
            yield row.token, row.qr_text, names[row.issuer_id]


def print_cards(
    ctx: ServiceContext,
    serials: Sequence[str],
    out: Path,
    *,
    backs: bool = False,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> PrintResult:
    """Write the cards ``serials`` (in this order) to one print-ready PDF at ``out``.

    ``on_progress`` gets the number of cards written so far. A failure removes the half-written
    file.
    """
    if not serials:
        raise InvalidInputError(
            "a print batch needs at least one card",
            message_vi="Một lô in cần ít nhất một thẻ.",
        )
    rows = list(_rows(ctx, serials))
    demo = ctx.settings.demo or any("DEMO" in name.upper() for _t, _q, name in rows)
    pdf = BatchPdf(out, backs=backs, demo=demo)
    count = (multiprocessing.cpu_count() if workers is None else workers) or 0
    backs_by_issuer: dict[str, Image.Image] = {}
    try:
        jobs = [(token, qr) for token, qr, _name in rows]
        if count <= 1 or len(jobs) <= _CHUNK:
            faces: Iterator[Image.Image] = map(_face, jobs)
            pool = None
        else:
            pool = ProcessPoolExecutor(
                max_workers=count, mp_context=multiprocessing.get_context("spawn")
            )
            faces = pool.map(_face, jobs, chunksize=_CHUNK)
        try:
            for done, (face, (_t, _q, name)) in enumerate(zip(faces, rows, strict=True), 1):
                back = None
                if backs:
                    back = backs_by_issuer.get(name)
                    if back is None:
                        back = backs_by_issuer[name] = card_back(name, ctx.settings.public_url)
                pdf.add(face, back)
                if on_progress is not None:
                    on_progress(done)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        pages = pdf.close()
    except BaseException:
        pdf.abort()
        raise
    return PrintResult(out, pdf.cards, pages, demo=demo)
