"""``asxh verify``: check a card offline against the trust bundle.

``asxh verify [--bundle FILE|DIR] [--root KEY ...] [--json] [--lang vi|en] CARD`` where CARD is
an image file, the QR text (``asxh:/...``) or a bare token, or ``-`` to read text from stdin.
Root keys come from ``--root`` or ``ASXH_ROOT_KEYS`` (paths separated by ``os.pathsep``); the
bundle from ``--bundle`` or ``ASXH_BUNDLE``. Three outcomes, three exit codes: 0 valid,
1 invalid, 3 cannot check (the bundle or a status list is out of date, missing or does not
verify, or the clock is before the bundle: update the data); 2 usage error. Dates are shown in
Vietnam time. The JSON object is documented in docs/verifier.md.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from asxh_card._core.keys import PublicKey
from asxh_card._core.timeutil import vn_date
from asxh_card.cli._app import app, console, err_console
from asxh_card.errors import OUTCOME_HEADLINES, KeyStoreError, Outcome, VerificationError
from asxh_card.keystore import load_public_key
from asxh_card.programmes import EntitlementState
from asxh_card.programmes.display import describe_attributes, format_period, programme_name
from asxh_card.verifier import BUNDLE_FILE, STATUS_DIR, VerificationResult, Verifier
from asxh_card.verifier.image import MAX_IMAGE_BYTES
from asxh_card.verifier.result import JSON_FORMAT_VERSION

__all__ = ["EXIT_CODES", "MAX_TEXT_BYTES", "ROOT_KEYS_ENV", "STATE_LABELS", "verify"]

#: Exit code of each outcome (2 is a usage error).
EXIT_CODES: dict[Outcome, int] = {Outcome.VALID: 0, Outcome.INVALID: 1, Outcome.CANNOT_CHECK: 3}
#: Card text from stdin is refused beyond this (a card's QR text is at most 7,100 characters).
MAX_TEXT_BYTES = 64 * 1024

ROOT_KEYS_ENV = "ASXH_ROOT_KEYS"
BUNDLE_ENV = "ASXH_BUNDLE"
STATE_LABELS: dict[str, dict[EntitlementState, str]] = {
    "vi": {
        EntitlementState.ACTIVE: "đang hưởng",
        EntitlementState.EXPIRED: "hết hạn",
        EntitlementState.NOT_YET_VALID: "chưa có hiệu lực",
        EntitlementState.SUSPENDED: "tạm dừng",
        EntitlementState.REVOKED: "đã thu hồi",
    },
    "en": {
        EntitlementState.ACTIVE: "active",
        EntitlementState.EXPIRED: "expired",
        EntitlementState.NOT_YET_VALID: "not yet valid",
        EntitlementState.SUSPENDED: "suspended",
        EntitlementState.REVOKED: "revoked",
    },
}
_LABELS = {
    "vi": {
        "holder": "Người hưởng",
        "dob": "Ngày sinh",
        "sex": {"M": "Nam", "F": "Nữ"},
        "number": "Mã số ASXH",
        "issuer": "Cơ quan cấp",
        "card": "Hiệu lực thẻ",
        "guardian": "Người giám hộ / được ủy quyền",
        "programmes": "Chế độ",
        "to": "đến",
    },
    "en": {
        "holder": "Holder",
        "dob": "Date of birth",
        "sex": {"M": "male", "F": "female"},
        "number": "ASXH number",
        "issuer": "Issuer",
        "card": "Card valid",
        "guardian": "Guardian / authorised person",
        "programmes": "Programmes",
        "to": "to",
    },
}
_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
_TEXT_PREFIXES = ("asxh:", "eyJ")
_TEXT_PREFIXES_BYTES = tuple(p.encode("ascii") for p in _TEXT_PREFIXES)
# open() errors meaning "no file by that name": the argument is then taken as text.
_NOT_A_PATH = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})


def _usage(message: str) -> typer.Exit:
    err_console.print(f"[red]{escape(message)}[/]", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _headline(outcome: Outcome, lang: str) -> str:
    vi, en = OUTCOME_HEADLINES[outcome]
    return vi if lang == "vi" else en


def _vn_day(moment: datetime) -> str:
    """The Vietnamese calendar day of an aware datetime, dd/mm/yyyy (UTC+7, not UTC)."""
    return vn_date(moment).strftime("%d/%m/%Y")


def _formatted(number: str) -> str:
    return f"{number[:2]} {number[2:6]} {number[6:10]} {number[10:]}"


def _print_human(result: VerificationResult, lang: str) -> None:
    t = _LABELS[lang]
    states = STATE_LABELS[lang]
    holder = result.holder
    sex = t["sex"]
    assert isinstance(sex, dict)  # noqa: S101 - narrows the label table for mypy
    console.print(f"[bold green]✔ {_headline(Outcome.VALID, lang)}[/]")
    console.print(f"{t['holder']}: [bold]{escape(holder.name)}[/]", highlight=False)
    console.print(
        f"{t['number']}: {_formatted(holder.asxh_number)} · {t['dob']}: "
        f"{holder.date_of_birth.strftime('%d/%m/%Y')} · {sex[holder.sex]}",
        highlight=False,
    )
    console.print(
        f"{t['issuer']}: {escape(result.issuer.name)} ({result.issuer.id})", highlight=False
    )
    console.print(
        f"{t['card']}: {_vn_day(result.validity.not_before)} {t['to']} "
        f"{_vn_day(result.validity.expires_at)}",
        highlight=False,
    )
    if result.guardian is not None:
        console.print(
            f"{t['guardian']}: {escape(result.guardian.name)} "
            f"({_formatted(result.guardian.asxh_number)})",
            highlight=False,
        )
    console.print(f"{t['programmes']}:")
    for e in result.entitlements:
        colour = "green" if e.state is EntitlementState.ACTIVE else "yellow"
        name = escape(programme_name(e.programme, lang))
        words = escape(describe_attributes(e.programme, e.attributes, lang))
        console.print(
            f"  • {name} ({e.programme}): [{colour}]{states[e.state]}[/] · "
            f"{format_period(e.valid_from, e.valid_to, lang)}" + (f" · {words}" if words else ""),
            highlight=False,
            soft_wrap=True,  # one line per programme: a value is never cut in two
        )
    for warning in result.warnings:
        console.print(f"[yellow]⚠ {warning.message(lang)}[/]", highlight=False)


def _invalid_json(exc: VerificationError, lang: str) -> dict[str, Any]:
    return {
        "format": JSON_FORMAT_VERSION,
        "valid": False,
        "outcome": exc.outcome.value,
        "reason": exc.reason.value,
        "message": exc.message(lang),
        "detail": exc.detail,
    }


def _read_bounded(handle: Any, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of ``handle``; more (``/dev/zero``, endless stdin): usage error."""
    data: bytes = handle.read(limit + 1)
    if len(data) > limit:
        raise _usage(f"{what} is larger than {limit:,} bytes: not a card")
    return data


def _read_card_file(path: Path) -> tuple[bytes | None, str]:
    """(image bytes, "") for an image file, (None, text) for a file holding the card's text."""
    try:
        with path.open("rb") as handle:
            data = _read_bounded(handle, MAX_IMAGE_BYTES, str(path))
    except OSError as exc:
        if exc.errno in _NOT_A_PATH and path.suffix.lower() not in _IMAGE_SUFFIXES:
            return None, str(path)  # no such file: the argument is the card's text
        raise _usage(f"cannot read {path}: {exc.strerror}") from None
    if not data.lstrip().startswith(_TEXT_PREFIXES_BYTES):
        return data, ""
    if len(data) > MAX_TEXT_BYTES:
        raise _usage(f"{path} is larger than {MAX_TEXT_BYTES:,} bytes: not a card's text")
    return None, data.decode("ascii", errors="replace")


def _verifier(bundle_path: Path, bundle_file: Path, roots: list[PublicKey]) -> Verifier:
    """From a synced directory, or from a bundle file with its lists in ``status/`` beside it."""
    if bundle_path.is_dir():
        return Verifier.from_directory(bundle_path, roots=roots)
    try:
        token = bundle_file.read_bytes()
    except OSError as exc:
        raise _usage(f"cannot read {bundle_file}: {exc.strerror}") from None
    status_tokens: dict[str, str] = {}
    for path in sorted((bundle_file.parent / STATUS_DIR).glob("*.jwt")):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            status_tokens[path.stem] = path.read_text("ascii")
    return Verifier.from_tokens(token, roots=roots, status_tokens=status_tokens)


def _roots(paths: list[Path] | None) -> list[Path]:
    if paths:
        return paths
    env = os.environ.get(ROOT_KEYS_ENV, "")
    return [Path(p) for p in env.split(os.pathsep) if p]


@app.command()
def verify(  # noqa: PLR0917 - typer maps options to parameters
    card: Annotated[str, typer.Argument(help="Image file, QR text, or - for stdin.")],
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="Bundle file or synced directory.")
    ] = None,
    root: Annotated[
        list[Path] | None, typer.Option("--root", help="Pinned root public key (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON object.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="vi (default) or en.")] = "vi",
    at: Annotated[
        str | None, typer.Option("--at", help="Check at this ISO 8601 time (default: now).")
    ] = None,
) -> None:
    """Verify a card offline. Exit 0 valid, 1 invalid, 3 cannot check (update the data), 2 usage."""
    if lang not in ("vi", "en"):
        raise _usage("--lang must be vi or en")
    moment = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise _usage("--at must be an ISO 8601 datetime") from None
        if moment.tzinfo is None:
            raise _usage("--at needs a UTC offset (e.g. +07:00)")
    bundle_path = bundle or (Path(os.environ[BUNDLE_ENV]) if os.environ.get(BUNDLE_ENV) else None)
    if bundle_path is None:
        raise _usage("a trust bundle is needed: --bundle FILE|DIR (or ASXH_BUNDLE)")
    bundle_file = bundle_path / BUNDLE_FILE if bundle_path.is_dir() else bundle_path
    if not bundle_file.is_file():
        raise _usage(f"no trust bundle at {bundle_file} (--bundle FILE|DIR or ASXH_BUNDLE)")
    root_paths = _roots(root)
    if not root_paths:
        raise _usage(f"a pinned root key is needed: --root FILE (or {ROOT_KEYS_ENV})")
    try:
        roots = [load_public_key(p) for p in root_paths]
    except KeyStoreError as exc:
        raise _usage(str(exc)) from None

    image: bytes | None = None
    if card == "-":
        # Bytes, decoded leniently: a binary file piped in is an invalid card, not a crash.
        data = _read_bounded(sys.stdin.buffer, MAX_TEXT_BYTES, "the card text on stdin")
        text = data.decode("ascii", errors="replace")
    elif card.startswith(_TEXT_PREFIXES):
        # Text, not a path: a bare token is longer than a file name may be (ENAMETOOLONG).
        text = card
    else:
        image, text = _read_card_file(Path(card))
    # The library refuses whitespace around the text; a file or a pipe ends with a newline.
    text = text.strip()
    try:
        verifier = _verifier(bundle_path, bundle_file, roots)
        result = (
            verifier.verify_image(image, at=moment)
            if image is not None
            else verifier.verify(text, at=moment)
        )
    except ModuleNotFoundError as exc:
        raise _usage(str(exc)) from None
    except VerificationError as exc:
        if as_json:
            print(json.dumps(_invalid_json(exc, lang), ensure_ascii=False))
        elif exc.cannot_check:
            # Not the card's fault: never "THẺ KHÔNG HỢP LỆ" for stale or missing data.
            console.print(
                f"[bold yellow]⚠ {_headline(exc.outcome, lang)}[/]: {exc.message(lang)}",
                highlight=False,
            )
            err_console.print(f"({exc.reason.value}: {escape(exc.detail)})", highlight=False)
        else:
            console.print(
                f"[bold red]✘ {_headline(exc.outcome, lang)}[/]: {exc.message(lang)}",
                highlight=False,
            )
            err_console.print(f"({exc.reason.value}: {escape(exc.detail)})", highlight=False)
        raise typer.Exit(code=EXIT_CODES[exc.outcome]) from None
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _print_human(result, lang)
