"""Bulk import of a beneficiary list (CSV or XLSX): register, grant, issue, resumably.

How an import runs (``asxh import people.csv`` and ``POST /v1/imports``; columns in
docs/operations.md, sample in ``examples/people.csv``):

1. **Header first**: the file's columns are checked and its rows counted before anything is
   written; an unknown or missing column stops the import with nothing written.
2. **Rows in chunks**, each chunk in **one transaction** together with the job's progress
   (``import_jobs.next_row``, the resume key's position). A chunk is validated row by row in
   worker processes (PIN shape against date of birth and sex, name, dates, every entitlement
   against the programme registry); a rejected row goes to ``import_rejections`` (row, field,
   reason in Vietnamese and English) and never stops the others.
3. For the chunk's valid rows, in its transaction: people are found by their PIN's keyed
   look-up hash (an existing person with other data gets a reconciliation, never an
   overwrite); new people get a fresh mã số ASXH; entitlements the person does not have yet are
   granted; a card is issued unless the person already holds an active card that carries
   exactly those entitlements. Status-list entries are drawn at random in memory and inserted
   with the rows; the cards are signed in the worker processes (both cores); rows go in with
   batched Core ``INSERT ... RETURNING`` (executemany).
4. **Resumable**: the job's ``resume_key`` is the SHA-256 of the file and the options. Running
   the same file again continues after the last committed chunk; a finished job does nothing.
   A chunk killed half-way rolls back as a whole. And every step is idempotent on its own
   (person by PIN, entitlement by programme, card by its entitlement set), so even a different
   file with the same rows issues nothing twice.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import multiprocessing
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from asxh_card import card as _card
from asxh_card._core.statuslist import StatusRef
from asxh_card._core.timeutil import VN_TZ, utc_now, vn_date
from asxh_card.errors import AsxhError, InvalidInputError
from asxh_card.ids import generate_asxh_number, parse_pin
from asxh_card.issuing.issuer import Issuer as CardIssuer
from asxh_card.keystore import load_private_key
from asxh_card.programmes import Entitlement as EntitlementModel
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.programmes.bhyt import bhyt_attributes_for_group, bhyt_groups
from asxh_card.service import audit, cards, registry, statuslists
from asxh_card.service.audit import Actor
from asxh_card.service.context import ServiceContext
from asxh_card.service.db import (
    bind_processors,
    bulk_insert,
    dialect_named,
    insert_tuples,
    mapped_table,
    present,
    reserve_ids,
    session_scope,
)
from asxh_card.service.errors import ConflictError, NotFoundError
from asxh_card.service.models import (
    CardEntitlementRow,
    CardRow,
    EntitlementRow,
    ImportJobRow,
    ImportRejectionRow,
    IssuerKeyRow,
    PersonRow,
    StatusAllocationRow,
    StatusListRow,
)
from asxh_card.service.security import DataProtector

__all__ = [
    "COLUMNS",
    "MAX_ENTITLEMENT_COLUMNS",
    "ImportSourceError",
    "Progress",
    "Rejection",
    "open_job",
    "read_rows",
    "rejections_csv",
    "resume_key",
    "run_job",
]

#: EntitlementRow column groups per row: ``programme_1`` .. ``programme_5`` and their fields.
MAX_ENTITLEMENT_COLUMNS: Final = 5
PERSON_COLUMNS: Final = (
    "pin",
    "full_name",
    "date_of_birth",
    "sex",
    "hometown",
    "permanent_address",
    "commune",
)
ENTITLEMENT_FIELDS: Final = ("programme", "valid_from", "valid_to", "attributes", "category")
COLUMNS: Final = PERSON_COLUMNS + tuple(
    f"{name}_{n}" for n in range(1, MAX_ENTITLEMENT_COLUMNS + 1) for name in ENTITLEMENT_FIELDS
)
_REQUIRED: Final = ("pin", "full_name", "date_of_birth", "sex", "programme_1")
DEFAULT_CHUNK: Final = 2000
_SQLITE_CACHE_KIB: Final = 256 * 1024
MAX_ROWS: Final = 2_000_000
_MAX_CELL = 300
_SEX = {"m": "M", "nam": "M", "f": "F", "nu": "F", "nữ": "F"}
_NUMBER_TRIES = 20


class ImportSourceError(InvalidInputError):
    """The file cannot be read as a beneficiary list (format, header): nothing was written."""

    def __init__(self, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.message_vi = message_vi


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected row: 1-based data row number (the header is row 1), field, reasons."""

    row: int
    field: str
    reason_vi: str
    reason_en: str


# -- reading ------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _normalise_header(names: Sequence[object]) -> list[str]:
    header = [_cell(n).strip().lower() for n in names]
    unknown = [n for n in header if n and n not in COLUMNS]
    if unknown:
        shown = ", ".join(sorted(set(unknown))[:5])
        raise ImportSourceError(
            f"unknown column(s): {shown[:200]}", f"cột không hợp lệ: {shown[:200]}"
        )
    if len({h for h in header if h}) != len([h for h in header if h]):
        raise ImportSourceError("a column appears twice", "một cột xuất hiện hai lần")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        shown = ", ".join(missing)
        raise ImportSourceError(f"missing column(s): {shown}", f"thiếu cột: {shown}")
    return header


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``(row number, {column: text})`` for each non-empty data row of a CSV or XLSX file.

    Row numbers are the spreadsheet's (the header is row 1). Raises :class:`ImportSourceError`
    for an unreadable file or a bad header.
    """
    rows = _read_raw(path)
    _one, header = next(rows)
    for number, values in rows:
        yield number, _as_dict(header, values)


def _as_dict(header: Sequence[str], values: Sequence[str]) -> dict[str, str]:
    return {h: v for h, v in zip(header, values, strict=False) if h}


def _read_raw(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(1, normalised header)``, then ``(row number, cells)`` for each non-empty data row.

    The cells stay a list until a worker process pairs them with the header (a dict per row
    costs the reading process more than the whole row's database work).
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            yield from _read_xlsx(path)
        elif suffix in (".csv", ".txt"):
            yield from _read_csv(path)
        else:
            raise ImportSourceError(
                "the file must be .csv or .xlsx", "tệp phải có định dạng .csv hoặc .xlsx"
            )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportSourceError(
            f"cannot read the file: {exc}"[:300], "không đọc được tệp"
        ) from None


def _read_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        first = next(reader, None)
        if first is None:
            raise ImportSourceError("the file is empty", "tệp rỗng")
        yield 1, _normalise_header(first)
        for number, values in enumerate(reader, start=2):
            if any(v.strip() for v in values):
                yield number, values


def _read_xlsx(path: Path) -> Iterator[tuple[int, list[str]]]:
    import openpyxl  # noqa: PLC0415 - only for .xlsx
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise ImportSourceError(
            f"not a readable .xlsx workbook: {exc}"[:300], "không đọc được tệp .xlsx"
        ) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise ImportSourceError("the first sheet is empty", "trang tính đầu tiên rỗng")
        yield 1, _normalise_header(list(first))
        for number, values in enumerate(rows, start=2):
            cells = [_cell(v) for v in values]
            if any(c.strip() for c in cells):
                yield number, cells
    finally:
        book.close()


def resume_key(path: Path, province: str, options: Mapping[str, Any]) -> str:
    """SHA-256 of the file's bytes, the province and the options: the job's resume key."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(f"|{province}|{sorted(options.items())!r}".encode())
    return digest.hexdigest()


# -- validation (worker processes) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ent:
    programme: str
    valid_from: date
    valid_to: date | None
    attributes: dict[str, Any]
    category: str | None
    bhyt_group: str | None = None


@dataclass(frozen=True, slots=True)
class _Valid:
    row: int
    pin_hash: str
    pin_cipher: bytes
    data: registry.PersonData
    entitlements: tuple[_Ent, ...]


_VI_FIELD: Final = {
    "pin": "Số định danh cá nhân không hợp lệ",
    "full_name": "Họ tên không hợp lệ",
    "date_of_birth": "Ngày sinh không hợp lệ",
    "sex": "Giới tính phải là M/F (Nam/Nữ)",
    "hometown": "Quê quán không hợp lệ",
    "permanent_address": "Địa chỉ thường trú không hợp lệ",
    "commune": "Xã/phường không hợp lệ",
}


def _vi(exc: BaseException) -> str | None:
    """The error's own Vietnamese sentence; None for a class default (the field's is better)."""
    if isinstance(exc, InvalidInputError) and exc.message_vi != type(exc).default_vi:
        return exc.message_vi
    return None


def _reject(row: int, name: str, en: str, vi: str | None = None) -> Rejection:
    base = name.rsplit("_", 1)[0] if name[-1:].isdigit() else name
    default_vi = _VI_FIELD.get(base) or {
        "programme": "Chương trình không hợp lệ",
        "valid_from": "Ngày bắt đầu không hợp lệ",
        "valid_to": "Ngày kết thúc không hợp lệ",
        "attributes": "Thuộc tính của chế độ không hợp lệ",
        "category": "Đối tượng không hợp lệ",
    }.get(base, "Giá trị không hợp lệ")
    return Rejection(row, name, (vi or default_vi)[:300], en[:300])


def _date(text: str) -> date:
    value = text.strip()
    try:
        if "/" in value:
            day, month, year = value.split("/")
            return date(int(year), int(month), int(day))
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError("a date must be YYYY-MM-DD or DD/MM/YYYY") from None


def _attributes(text: str, programme: str, reg: ProgrammeRegistry) -> dict[str, Any]:
    """``key=value; key=value`` typed by the programme's schema (int attributes as numbers)."""
    spec = reg.get(programme).attributes
    values: dict[str, Any] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, raw = part.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise InvalidInputError("attributes must be key=value pairs separated by ';'")
        if key in values:
            raise InvalidInputError(f"attribute {key[:20]} appears twice")
        attr = spec.get(key)
        if attr is not None and attr.type.value == "int":
            try:
                values[key] = int(raw.replace(".", "").replace(",", "").replace(" ", ""))
            except ValueError:
                raise InvalidInputError(f"attribute {key} must be a whole number") from None
        else:
            values[key] = raw
    return reg.get(programme).normalise_attributes(values)


def _optional(row: dict[str, str], name: str, reg_row: int, out: list[Rejection]) -> str | None:
    text = row.get(name, "").strip()
    if not text:
        return None
    try:
        return registry.clean_text(text, name)
    except InvalidInputError as exc:
        out.append(_reject(reg_row, name, str(exc), _vi(exc)))
        return None


def validate_row(
    number: int, row: dict[str, str], protector: DataProtector, reg: ProgrammeRegistry, today: date
) -> _Valid | list[Rejection]:
    """Check one row completely; return the normalised record or every rejection found."""
    out: list[Rejection] = []
    if any(len(v) > _MAX_CELL for v in row.values()):
        long = next(k for k, v in row.items() if len(v) > _MAX_CELL)
        return [_reject(number, long, f"longer than {_MAX_CELL} characters", "Giá trị quá dài")]
    name = None
    try:
        name = registry.clean_name(row.get("full_name", ""))
    except InvalidInputError as exc:
        out.append(_reject(number, "full_name", str(exc), _vi(exc)))
    dob = None
    try:
        dob = _date(row.get("date_of_birth", ""))
    except InvalidInputError as exc:
        out.append(_reject(number, "date_of_birth", str(exc), _vi(exc)))
    if dob is not None and (dob > today or dob < date(1900, 1, 1)):
        out.append(
            _reject(
                number,
                "date_of_birth",
                "date_of_birth must be between 1900-01-01 and today",
                "Ngày sinh phải từ 01/01/1900 đến hôm nay",
            )
        )
        dob = None
    sex = _SEX.get(unicodedata.normalize("NFC", row.get("sex", "").strip().lower()))
    if sex is None:
        out.append(_reject(number, "sex", "sex must be M or F (Nam/Nữ)"))
    pin_text = row.get("pin", "").strip()
    pin = None
    try:
        pin = parse_pin(pin_text, date_of_birth=dob, sex=sex).number  # type: ignore[arg-type]
    except AsxhError as exc:
        out.append(_reject(number, "pin", str(exc), _vi(exc)))
    hometown = _optional(row, "hometown", number, out)
    address = _optional(row, "permanent_address", number, out)
    commune = _optional(row, "commune", number, out)
    ents: list[_Ent] = []
    seen: set[str] = set()
    for n in range(1, MAX_ENTITLEMENT_COLUMNS + 1):
        programme = row.get(f"programme_{n}", "").strip().upper()
        if not programme:
            continue
        try:
            if programme in seen:
                raise InvalidInputError(
                    f"programme {programme} appears twice in the row",
                    message_vi=f"Chế độ {programme} xuất hiện hai lần trong cùng một dòng.",
                )
            seen.add(programme)
            reg.get(programme)
        except AsxhError as exc:
            out.append(_reject(number, f"programme_{n}", str(exc), _vi(exc)))
            continue
        try:
            start = _date(row.get(f"valid_from_{n}", "") or "")
        except InvalidInputError as exc:
            out.append(_reject(number, f"valid_from_{n}", str(exc), _vi(exc)))
            continue
        end_text = row.get(f"valid_to_{n}", "").strip()
        try:
            end = _date(end_text) if end_text else None
        except InvalidInputError as exc:
            out.append(_reject(number, f"valid_to_{n}", str(exc), _vi(exc)))
            continue
        if end is not None and end < today:
            out.append(
                _reject(
                    number,
                    f"valid_to_{n}",
                    "the entitlement has already ended",
                    "Chế độ đã hết hạn",
                )
            )
            continue
        category = row.get(f"category_{n}", "").strip() or None
        # A BHYT row's category that is a beneficiary group code becomes the structured group:
        # the level and coverage follow from it (and may be left out of the attributes).
        group = category.upper() if programme == "BHYT" and category else None
        group = group if group in bhyt_groups() else None
        try:
            attrs = _attributes(row.get(f"attributes_{n}", ""), programme, reg)
            if group is not None:
                attrs = bhyt_attributes_for_group(group, max(start, today), attrs)
            EntitlementModel(programme, start, end, attrs).validate_for_issuing(reg)
        except AsxhError as exc:
            out.append(_reject(number, f"attributes_{n}", str(exc), _vi(exc)))
            continue
        ents.append(_Ent(programme, start, end, attrs, category, group))
    if not ents and not any(r.field.startswith(("programme", "valid", "attr")) for r in out):
        out.append(
            _reject(
                number,
                "programme_1",
                "at least one entitlement is required",
                "Cần ít nhất một chế độ",
            )
        )
    if out or pin is None or name is None or dob is None or sex is None:
        return out
    data = registry.PersonData(
        full_name=name,
        date_of_birth=dob,
        sex=sex,
        hometown=hometown,
        permanent_address=address,
        commune=commune,
    )
    return _Valid(
        row=number,
        pin_hash=protector.lookup_hash("pin", pin),
        pin_cipher=protector.encrypt("pin", pin),
        data=data,
        entitlements=tuple(sorted(ents, key=lambda e: e.programme)),
    )


# -- worker processes ---------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}

#: A valid row as it travels between processes: plain tuples pickle several times faster than
#: the dataclasses (row, PIN look-up hash, PIN cipher, name, date of birth, sex, hometown,
#: address, commune, entitlements as (programme, from, to, attributes, category, BHYT group)).
_FlatEnt = tuple[str, date, date | None, dict[str, Any], str | None, str | None]
_Flat = tuple[
    int, str, bytes, str, date, str, str | None, str | None, str | None, tuple[_FlatEnt, ...]
]


def _flat(item: _Valid) -> _Flat:
    data = item.data
    return (
        item.row,
        item.pin_hash,
        item.pin_cipher,
        data.full_name,
        data.date_of_birth,
        data.sex,
        data.hometown,
        data.permanent_address,
        data.commune,
        tuple(
            (e.programme, e.valid_from, e.valid_to, e.attributes, e.category, e.bhyt_group)
            for e in item.entitlements
        ),
    )


def _unflat(flat: _Flat) -> _Valid:
    row, pin_hash, pin_cipher, name, dob, sex, hometown, address, commune, ents = flat
    return _Valid(
        row=row,
        pin_hash=pin_hash,
        pin_cipher=pin_cipher,
        data=registry.PersonData(
            full_name=name,
            date_of_birth=dob,
            sex=sex,
            hometown=hometown,
            permanent_address=address,
            commune=commune,
        ),
        entitlements=tuple(_Ent(*e) for e in ents),
    )


def _worker_init(data_key: bytes, passphrase: bytes, dialect: str = "sqlite") -> None:
    _WORKER["protector"] = DataProtector(data_key)
    _WORKER["registry"] = ProgrammeRegistry.default()
    _WORKER["passphrase"] = passphrase
    _WORKER["issuers"] = {}
    # The database's own conversions (SQLAlchemy bind processors of a dialect of the same name),
    # so that the rows a worker builds go to executemany as they are.
    engine = dialect_named(dialect)
    names = ("date_of_birth", "provisional", "created_at")
    day, flag, moment = bind_processors(mapped_table(PersonRow), names, engine)
    (as_json,) = bind_processors(mapped_table(EntitlementRow), ("attributes",), engine)
    _WORKER["convert"] = tuple(
        (lambda value: value) if p is None else p for p in (day, flag, moment, as_json)
    )


def _pool_init(data_key: bytes, passphrase: bytes, dialect: str) -> None:
    """Start a worker process: :func:`_worker_init`, then fewer collections.

    It does nothing else, so what is loaded now stays, and the collector runs less often (the
    rows it builds are freed by reference counting).
    """
    _worker_init(data_key, passphrase, dialect)
    gc.freeze()
    gc.set_threshold(*_IMPORT_GC_THRESHOLDS)


def _validate_chunk(
    header: list[str], rows: list[tuple[int, list[str]]], today: date
) -> list[_Flat | list[Rejection]]:
    protector, reg = _WORKER["protector"], _WORKER["registry"]
    out: list[_Flat | list[Rejection]] = []
    for n, values in rows:
        result = validate_row(n, _as_dict(header, values), protector, reg, today)
        out.append(result if isinstance(result, list) else _flat(result))
    return out


_EntTuple = tuple[str, date, date | None, dict[str, Any]]
#: A card to sign: issuer id, key file, province, holder number, date of birth, name and sex
#: (joined by U+001F), entitlements, expiry date, status index and status list URI.
_SignJob = tuple[str, str, str, str, date, str, tuple[_EntTuple, ...], date, int, str]


def _sign_one(
    issuing: tuple[str, str, str],
    holder: _card.Holder,
    ents: Sequence[_EntTuple],
    expires: date,
    status: StatusRef,
) -> tuple[str, str, str, int]:
    """Sign one card with the worker's cached issuer: ``(serial, token, qr_text, expires_at)``."""
    issuer_id, key_file, province = issuing
    issuers: dict[tuple[str, str], CardIssuer] = _WORKER["issuers"]
    issuer = issuers.get((issuer_id, key_file))
    if issuer is None:
        issuer = CardIssuer(
            issuer_id=issuer_id,
            province=province,
            signer=load_private_key(Path(key_file), _WORKER["passphrase"]),
            registry=_WORKER["registry"],
        )
        issuers[(issuer_id, key_file)] = issuer
    issued = issuer.issue(
        holder,
        tuple(EntitlementModel(p, f, t, a) for p, f, t, a in ents),
        expires=expires,
        status=status,
    )
    return issued.serial, issued.token, issued.qr_text, issued.claims.expires_at


def _sign_chunk(jobs: list[_SignJob]) -> list[tuple[str, str, str, int]]:
    """Sign cards: ``(serial, token, qr_text, expires_at)`` each."""
    out = []
    for issuer_id, key_file, province, number, dob, name_sex, ents, expires, idx, uri in jobs:
        name, sex = name_sex.split("\x1f")
        holder = _card.Holder(asxh_number=number, name=name, date_of_birth=dob, sex=sex)  # type: ignore[arg-type]
        out.append(
            _sign_one((issuer_id, key_file, province), holder, ents, expires, StatusRef(idx, uri))
        )
    return out


#: Columns of the rows :func:`_sign_new` builds; the writer puts the ids it reserved in front
#: (``id``, and ``person_id`` for entitlements and cards).
_PERSON_COLUMNS: Final = (
    "id",
    "asxh_number",
    "province",
    "pin_hash",
    "pin_cipher",
    "full_name",
    "date_of_birth",
    "sex",
    "hometown",
    "permanent_address",
    "commune",
    "provisional",
    "created_at",
    "updated_at",
)
_ENTITLEMENT_COLUMNS: Final = (
    "id",
    "person_id",
    "province",
    "programme",
    "valid_from",
    "valid_to",
    "attributes",
    "category",
    "bhyt_group",
    "state",
    "created_by",
    "created_at",
    "updated_at",
)
_ALLOCATION_COLUMNS: Final = ("list_id", "idx", "purpose", "created_at")
_CARD_COLUMNS: Final = (
    "id",
    "person_id",
    "serial",
    "province",
    "issuer_id",
    "kid",
    "token",
    "qr_text",
    "state",
    "status_list_id",
    "status_idx",
    "issued_at",
    "expires_at",
    "import_job_id",
    "created_by",
)
_LINK_COLUMNS: Final = ("card_id", "entitlement_id", "position", "status_idx")

#: What a chunk of new people shares: province, the chunk's moment, the actor's name, the job,
#: today in Vietnam and the card validity in days.
_NewConsts = tuple[str, datetime, str, int, date, int]
#: A new person's card to sign: the row, mã số ASXH, issuer id, kid, key file, status list id,
#: first status index and the list's URI.
_NewJob = tuple[_Flat, str, str, str, str, int, int, str]
#: The rows of one new person, converted for the database: person, entitlements, status
#: allocations, card (without the ids the writer reserves).
_NewRows = tuple[
    tuple[Any, ...], tuple[tuple[Any, ...], ...], tuple[tuple[Any, ...], ...], tuple[Any, ...]
]


def _sign_new(consts: _NewConsts, jobs: list[_NewJob]) -> list[_NewRows]:
    """Sign the cards of new people and build all their rows (the fast path's worker side).

    The rows come back converted by the database's own bind processors, so the writing
    process only puts the reserved ids in front and runs one executemany per table.
    """
    province, now, created_by, job_id, today, validity_days = consts
    day, flag, moment, as_json = _WORKER["convert"]
    stamp, no = moment(now), flag(False)  # noqa: FBT003 - the column's value
    out: list[_NewRows] = []
    for flat, number, issuer_id, kid, key_file, list_id, idx, uri in jobs:
        _row, pin_hash, pin_cipher, name, dob, sex, hometown, address, commune, ents = flat
        holder = _card.Holder(asxh_number=number, name=name, date_of_birth=dob, sex=sex)  # type: ignore[arg-type]
        expires = _expiry([e[2] for e in ents], validity_days, today)
        serial, token, qr_text, expires_at = _sign_one(
            (issuer_id, key_file, province),
            holder,
            [e[:4] for e in ents],
            expires,
            StatusRef(idx, uri),
        )
        person = (
            number,
            province,
            pin_hash,
            pin_cipher,
            name,
            day(dob),
            sex,
            hometown,
            address,
            commune,
            no,
            stamp,
            stamp,
        )
        ent_rows = tuple(
            (
                province,
                programme,
                day(start),
                None if end is None else day(end),
                as_json(attributes),
                category,
                group,
                "active",
                created_by,
                stamp,
                stamp,
            )
            for programme, start, end, attributes, category, group in ents
        )
        allocations = tuple((list_id, idx + i, "card", stamp) for i in range(1 + len(ents)))
        card = (
            serial,
            province,
            issuer_id,
            kid,
            token,
            qr_text,
            "active",
            list_id,
            idx,
            stamp,
            moment(datetime.fromtimestamp(expires_at, VN_TZ)),
            job_id,
            created_by,
        )
        out.append((person, ent_rows, allocations, card))
    return out


class _InlineExecutor(Executor):
    """Runs submitted work in this process (small imports, tests)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


# -- jobs ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Progress:
    """Counters of a running import (also stored in ``import_jobs.counts``)."""

    total: int
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)


_COUNT_NAMES: Final = (
    "people_created",
    "people_existing",
    "reconciliations",
    "entitlements_granted",
    "cards_issued",
    "rows_rejected",
)


def open_job(
    session: Session,
    actor: Actor,
    *,
    path: Path,
    filename: str,
    province: str,
    options: Mapping[str, Any],
) -> tuple[ImportJobRow, bool]:
    """The job for this file and options: the existing one (resume) or a new one.

    Counts the rows and checks the header first (:class:`ImportSourceError`, nothing written).
    Returns the job and whether it was created now.
    """
    key = resume_key(path, province, options)
    job = session.scalars(select(ImportJobRow).where(ImportJobRow.resume_key == key)).first()
    if job is not None:
        if not actor.principal.sees(job.province):
            raise ConflictError("this file was imported by another province")
        return job, False
    total = 0
    for total, _ in enumerate(read_rows(path), start=1):
        if total > MAX_ROWS:
            raise ImportSourceError(
                f"more than {MAX_ROWS} rows: split the file", f"quá {MAX_ROWS} dòng: hãy chia tệp"
            )
    now = utc_now()
    job = ImportJobRow(
        resume_key=key,
        filename=filename[:200],
        province=province,
        options=dict(options),
        state="queued",
        total_rows=total,
        next_row=0,
        counts=dict.fromkeys(_COUNT_NAMES, 0),
        created_by=actor.username,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        actor,
        "import.create",
        "import",
        job.id,
        province=province,
        detail={"rows": total, "file": filename[:100]},
    )
    return job, True


_Rows = list[tuple[int, list[str]]]


def _chunks(path: Path, skip: int, size: int) -> Iterator[tuple[int, list[str], _Rows]]:
    """``(rows consumed so far, header, chunk)``: data rows after the first ``skip``."""
    rows = _read_raw(path)
    _one, header = next(rows)
    chunk: _Rows = []
    position = 0
    for position, item in enumerate(rows, start=1):
        if position <= skip:
            continue
        chunk.append(item)
        if len(chunk) == size:
            yield position, header, chunk
            chunk = []
    if chunk:
        yield position, header, chunk


def run_job(
    ctx: ServiceContext,
    actor: Actor,
    job_id: int,
    path: Path,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    workers: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Run (or resume) an import job to its end; returns the final counters.

    ``workers`` processes validate and sign (default: one per CPU; 0 runs everything in this
    process). Raises what stops the whole import (a bad file, no issuer, a database failure):
    the job is then marked ``failed`` and a later run resumes after the last committed chunk.
    """
    with session_scope(ctx.sessions) as session:
        job = session.get(ImportJobRow, job_id)
        if job is None:
            raise NotFoundError("import job")
        if job.state == "done":
            return Progress(job.total_rows, job.next_row, dict(job.counts))
        job.state, job.error, job.updated_at = "running", None, utc_now()
        start, province = job.next_row, job.province
        progress = Progress(job.total_rows, job.next_row, dict(job.counts))
    count = (multiprocessing.cpu_count() if workers is None else workers) or 0
    init = (ctx.settings.data_key, ctx.settings.key_passphrase, ctx.engine.dialect.name)
    pool: Executor
    if count <= 0 or progress.total - start <= chunk_size:
        _worker_init(*init)
        pool, count = _InlineExecutor(), 1
    else:
        pool = ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_pool_init,
            initargs=init,
        )
    importer = _Importer(ctx, actor, job_id, province, pool=pool, workers=count)
    try:
        with pool, _fewer_collections():
            importer.run(path, progress, chunk_size, on_progress)
    except BaseException as exc:
        with session_scope(ctx.sessions) as session:
            failed = session.get(ImportJobRow, job_id)
            if failed is not None:
                failed.state = "failed"
                failed.error = (str(exc) or type(exc).__name__)[:500]
                failed.updated_at = utc_now()
        raise
    return progress


#: Cyclic-GC thresholds while an import runs. A chunk brings back tens of thousands of row
#: tuples; at the default (700 allocations) the collector ran hundreds of times per chunk and
#: its older generations walked the whole heap, about a third of the writing process's time.
#: Reference counting frees the rows; the collector still runs, only less often.
_IMPORT_GC_THRESHOLDS: Final = (100_000, 20, 100)
_gc_lock = threading.Lock()
_gc_state: dict[str, Any] = {"depth": 0, "saved": None, "froze": False}


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the GC thresholds and freeze the heap built so far, for the outermost import.

    Process-wide (the service may run two imports at once): the first import in saves and
    the last one out restores.
    """
    with _gc_lock:
        if _gc_state["depth"] == 0:
            _gc_state["saved"] = gc.get_threshold()
            # Modules, metadata, caches: never garbage, never walked again. A process that
            # froze its heap itself (a pre-fork server) keeps its own arrangement.
            _gc_state["froze"] = gc.get_freeze_count() == 0
            if _gc_state["froze"]:
                gc.freeze()
            gc.set_threshold(*_IMPORT_GC_THRESHOLDS)
        _gc_state["depth"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["depth"] -= 1
            if _gc_state["depth"] == 0:
                gc.set_threshold(*_gc_state["saved"])
                if _gc_state["froze"]:
                    gc.unfreeze()


def _join(futures: list[Future[list[Any]]]) -> Future[list[Any]]:
    """One future for the concatenated results of ``futures`` (in order)."""
    joined: Future[list[Any]] = Future()

    def done(_f: Future[list[Any]]) -> None:
        if joined.done() or not all(f.done() for f in futures):
            return
        try:
            joined.set_result([x for f in futures for x in f.result()])
        except BaseException as exc:  # noqa: BLE001 - handed on through the future
            joined.set_exception(exc)

    for f in futures:
        f.add_done_callback(done)
    return joined


#: A person as a card shows it: mã số ASXH, name, date of birth, sex.
_Holder = tuple[str, str, date, str]


@dataclass(slots=True)
class _Chunk:
    """What one chunk's transaction collects: rejections, counters, people by row."""

    now: datetime
    rejections: list[Rejection]
    counts: dict[str, int]
    person_ids: dict[int, int] = field(default_factory=dict)  # row -> person id
    persons: dict[int, _Holder] = field(default_factory=dict)  # person id -> holder
    #: People registered before this import reached them: their cards go through
    #: ``cards.issue_card`` (all current entitlements, superseding their current card).
    existing: dict[int, PersonRow] = field(default_factory=dict)

    @property
    def today(self) -> date:
        """Today in Vietnam."""
        return vn_date(self.now)


class _Importer:
    """One run of one job: the pool, the in-memory status-list space, chunk by chunk."""

    def __init__(
        self,
        ctx: ServiceContext,
        actor: Actor,
        job_id: int,
        province: str,
        *,
        pool: Executor,
        workers: int,
    ) -> None:
        self.ctx, self.actor, self.job_id, self.province = ctx, actor, job_id, province
        self.pool, self.workers = pool, workers
        self.spaces: dict[int, statuslists.ListSpace] = {}
        self.issuers: dict[frozenset[str], tuple[str, str, str]] = {}
        #: kid -> the moment the key stops being the one to sign (its cut-off, or the start
        #: of a key scheduled after it); a cached choice is dropped then.
        self.switch_at: dict[str, datetime] = {}
        #: mã số ASXH drawn for the prepared chunk not yet written (the next must avoid them)
        self.drawn: set[str] = set()

    def run(
        self,
        path: Path,
        progress: Progress,
        chunk_size: int,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        """Validate ahead in the pool, commit chunk by chunk, then mark the job done."""
        today = vn_date(utc_now())
        pending: list[tuple[int, Future[list[Any]]]] = []
        chunks = _chunks(path, progress.done, chunk_size)
        lookahead = self.workers + 1

        def fill() -> None:
            while len(pending) < lookahead:
                item = next(chunks, None)
                if item is None:
                    return
                consumed, header, rows = item
                step = -(-len(rows) // self.workers)
                futures = [
                    self.pool.submit(_validate_chunk, header, rows[i : i + step], today)
                    for i in range(0, len(rows), step)
                ]
                pending.append((consumed, _join(futures)))

        fill()
        # Pipelined: while the workers sign chunk N, this process writes chunk N-1. A chunk of
        # new people only is prepared without a transaction (fast path) and written with a
        # check that nothing it assumed changed; anything else (people already registered, a
        # status list to open, a conflict) takes the slow path, one transaction per chunk.
        prepared: _Prepared | None = None
        while pending:
            consumed, future = pending.pop(0)
            results = future.result()
            fill()
            chunk, valid = self._split(results)
            upcoming = self._prepare(consumed, chunk, valid) if valid else None
            if prepared is not None:
                if not self._write_prepared(prepared, progress):
                    self.spaces.clear()  # stale assumptions: re-read the lists
                    self.commit_chunk(prepared.consumed, prepared.chunk, prepared.valid, progress)
                    if upcoming is not None:  # drawn on top of what did not happen
                        upcoming = None
                        self.spaces.clear()
                self._report(progress, on_progress)
            if upcoming is not None:
                prepared = upcoming
                continue
            prepared = None
            self.commit_chunk(consumed, chunk, valid, progress)
            self._report(progress, on_progress)
        if prepared is not None:
            if not self._write_prepared(prepared, progress):
                self.spaces.clear()
                self.commit_chunk(prepared.consumed, prepared.chunk, prepared.valid, progress)
            self._report(progress, on_progress)
        with session_scope(self.ctx.sessions) as session:
            job = session.get(ImportJobRow, self.job_id)
            assert job is not None  # noqa: S101 - it was read before
            job.state, job.finished_at, job.updated_at = "done", utc_now(), utc_now()
            audit.record(
                session,
                self.actor,
                "import.done",
                "import",
                self.job_id,
                province=self.province,
                detail=dict(progress.counts),
            )

    @staticmethod
    def _report(progress: Progress, on_progress: Callable[[Progress], None] | None) -> None:
        if on_progress is not None:
            on_progress(progress)

    def _split(self, results: list[_Flat | list[Rejection]]) -> tuple[_Chunk, list[_Flat]]:
        """The chunk's rejections so far and its valid rows (one per PIN, programmes allowed)."""
        chunk = _Chunk(
            now=utc_now(),
            rejections=[r for item in results if isinstance(item, list) for r in item],
            counts=dict.fromkeys(_COUNT_NAMES, 0),
        )
        first: dict[str, _Flat] = {}
        officer = self.actor.principal.role == "issuer_officer"
        for item in results:
            if isinstance(item, list):
                continue
            earlier = first.get(item[1])
            if earlier is not None:
                chunk.rejections.append(
                    _reject(
                        item[0],
                        "pin",
                        f"the same PIN is on row {earlier[0]}",
                        f"Số định danh trùng với dòng {earlier[0]}",
                    )
                )
            elif not officer or self._may_grant(item[0], [e[0] for e in item[9]], chunk):
                first[item[1]] = item
        return chunk, list(first.values())

    def commit_chunk(
        self, consumed: int, chunk: _Chunk, valid: list[_Flat], progress: Progress
    ) -> None:
        """Write one chunk and the job's new position in one transaction (the slow path)."""
        with session_scope(self.ctx.sessions) as session:
            job = self._locked_job(session, progress)
            if valid:
                self._people(session, [_unflat(f) for f in valid], chunk)
            totals = self._finish(session, job, chunk, consumed, progress)
        progress.counts, progress.done = totals, consumed

    def _finish(
        self,
        session: Session,
        job: ImportJobRow,
        chunk: _Chunk,
        consumed: int,
        progress: Progress,
    ) -> dict[str, int]:
        """Rejections, the job's position and counters, the audit entry; the new totals."""
        if chunk.rejections:
            bulk_insert(
                session,
                mapped_table(ImportRejectionRow),
                [
                    {
                        "job_id": self.job_id,
                        "row": r.row,
                        "field": r.field[:40],
                        "reason_vi": r.reason_vi[:300],
                        "reason_en": r.reason_en[:300],
                    }
                    for r in chunk.rejections
                ],
            )
        chunk.counts["rows_rejected"] = len({r.row for r in chunk.rejections})
        totals = dict(progress.counts)
        for key, value in chunk.counts.items():
            totals[key] = totals.get(key, 0) + value
        job.next_row = consumed
        job.counts = totals
        job.updated_at = utc_now()
        audit.record(
            session,
            self.actor,
            "import.chunk",
            "import",
            self.job_id,
            province=self.province,
            detail={"rows": f"{progress.done + 1}-{consumed}", **chunk.counts},
        )
        return totals

    def _locked_job(self, session: Session, progress: Progress) -> ImportJobRow:
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            # The indexes of a million-row import outgrow SQLite's default 2 MB page cache;
            # random-key index inserts then read pages back from the OS on every chunk.
            connection.exec_driver_sql(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
        job = session.scalars(
            select(ImportJobRow).where(ImportJobRow.id == self.job_id).with_for_update()
        ).one()
        if job.next_row != progress.done:
            raise ConflictError("another run of this import is in progress; wait for it")
        return job

    # -- the fast path: new people only, signed while the previous chunk is written ----------

    def _prepare(self, consumed: int, chunk: _Chunk, valid: list[_Flat]) -> _Prepared | None:
        """Everything a chunk of new people needs, decided from reads; signing started.

        None when the chunk needs the slow path: someone in it is registered already, or a
        status list is full (a new one is opened in a transaction).
        """
        settings = self.ctx.settings
        with session_scope(self.ctx.sessions) as session:
            if present(session, mapped_table(PersonRow), "pin_hash", [v[1] for v in valid]):
                return None
            # Not the numbers of the chunk still being written: they are not in the table yet.
            numbers = _draw_numbers(session, self.province, len(valid), self.drawn)
            self.drawn = set(numbers)
            signing = [self._issuer(session, [e[0] for e in v[9]]) for v in valid]
            current: dict[str, tuple[StatusListRow, statuslists.ListSpace]] = {}
            #: every list this chunk draws from: its row, space and allocation count before
            lists: dict[int, tuple[StatusListRow, statuslists.ListSpace, int]] = {}
            for issuer_id in {s[0] for s in signing}:
                row = session.scalars(
                    select(StatusListRow)
                    .where(StatusListRow.issuer_id == issuer_id, StatusListRow.full.is_(False))
                    .order_by(StatusListRow.id)
                    .limit(1)
                ).first()
                if row is None:  # the issuer's first list
                    row = statuslists.open_next(session, settings, issuer_id)
                current[issuer_id] = self._space(session, row, lists)
            blocks: list[tuple[int, int]] = []
            for item, (issuer_id, _kid, _file) in zip(valid, signing, strict=True):
                row, space = current[issuer_id]
                count = 1 + len(item[9])
                start = space.draw(count) if space.allocated + count <= row.size else None
                if start is None:
                    # The list is crowded (random runs no longer fit, about 60 % taken): the
                    # next one opens here, so the chunk stays on the fast path. A chunk still
                    # being written on the crowded list claims its entries all the same.
                    row = statuslists.open_next(session, settings, issuer_id, row.id)
                    row, space = current[issuer_id] = self._space(session, row, lists)
                    start = space.draw(count) if space.allocated + count <= row.size else None
                    if start is None:  # pragma: no cover - a list just opened is empty
                        self.spaces.clear()  # undo this chunk's draws: re-read next time
                        return None
                blocks.append((row.id, start))
        uris = {
            (row.issuer_id, list_id): statuslists.list_uri(settings, row.issuer_id, list_id)
            for list_id, (row, _space, _base) in lists.items()
        }
        jobs: list[_NewJob] = [
            (item, number, issuer_id, kid, key_file, list_id, idx, uris[(issuer_id, list_id)])
            for item, number, (issuer_id, kid, key_file), (list_id, idx) in zip(
                valid, numbers, signing, blocks, strict=True
            )
        ]
        consts: _NewConsts = (
            self.province,
            chunk.now,
            self.actor.username,
            self.job_id,
            chunk.today,
            settings.card_validity_days,
        )
        step = -(-len(jobs) // self.workers)
        futures = [
            self.pool.submit(_sign_new, consts, jobs[i : i + step])
            for i in range(0, len(jobs), step)
        ]
        return _Prepared(
            consumed=consumed,
            chunk=chunk,
            valid=valid,
            signing=signing,
            blocks=blocks,
            lists={
                list_id: (base, space.allocated - base)
                for list_id, (_row, space, base) in lists.items()
            },
            signed=_join(futures),
        )

    def _space(
        self,
        session: Session,
        row: StatusListRow,
        lists: dict[int, tuple[StatusListRow, statuslists.ListSpace, int]],
    ) -> tuple[StatusListRow, statuslists.ListSpace]:
        """The list's taken entries in memory (read once, then kept from chunk to chunk)."""
        space = self.spaces.get(row.id)
        if space is None:
            taken = session.scalars(
                select(StatusAllocationRow.idx).where(StatusAllocationRow.list_id == row.id)
            ).all()
            space = self.spaces[row.id] = statuslists.ListSpace(row.id, row.size, taken)
        lists.setdefault(row.id, (row, space, space.allocated))
        return row, space

    def _entitlement_row(self, person_id: int, ent: _Ent, now: datetime) -> dict[str, Any]:
        """The ``entitlements`` row of a new, active entitlement."""
        return {
            "person_id": person_id,
            "province": self.province,
            "programme": ent.programme,
            "valid_from": ent.valid_from,
            "valid_to": ent.valid_to,
            "attributes": ent.attributes,
            "category": ent.category,
            "bhyt_group": ent.bhyt_group,
            "state": "active",
            "created_by": self.actor.username,
            "created_at": now,
            "updated_at": now,
        }

    @staticmethod
    def _claim_lists(session: Session, lists: dict[int, tuple[int, int]]) -> None:
        """Lock the lists; raise :class:`_StaleError` if another bulk writer counted meanwhile.

        Single issuances do not count (statuslists.allocate): a drawn entry one of them took
        meets the unique constraint at the insert (IntegrityError), and the chunk is redone.
        """
        for list_id, (base, added) in lists.items():
            row = session.scalars(
                select(StatusListRow).where(StatusListRow.id == list_id).with_for_update()
            ).one()
            # Only another writer's allocations make the drawn entries stale; a list marked
            # full meanwhile (this import opened the next one) still takes what was drawn.
            if row.allocated != base:
                raise _StaleError
            row.allocated = base + added
            row.full = row.full or row.allocated >= row.size

    def _write_prepared(self, prepared: _Prepared, progress: Progress) -> bool:
        """Write a prepared chunk in one transaction; False (nothing written) if it is stale."""
        built: list[_NewRows] = prepared.signed.result()
        if any(self._switched(kid) for _i, kid, _f in set(prepared.signing)):
            return False  # signed across a key switch: the slow path signs with the new key
        chunk = prepared.chunk
        try:
            with session_scope(self.ctx.sessions) as session:
                job = self._locked_job(session, progress)
                self._claim_lists(session, prepared.lists)
                people, cards = mapped_table(PersonRow), mapped_table(CardRow)
                person_ids = reserve_ids(session, people, len(built))
                insert_tuples(
                    session,
                    people,
                    _PERSON_COLUMNS,
                    [(pid, *rows[0]) for pid, rows in zip(person_ids, built, strict=True)],
                )
                ent_ids = iter(
                    reserve_ids(
                        session, mapped_table(EntitlementRow), sum(len(b[1]) for b in built)
                    )
                )
                card_ids = reserve_ids(session, cards, len(built))
                ent_rows: list[tuple[Any, ...]] = []
                links: list[tuple[int, int, int, int]] = []
                for pid, cid, rows, (_list, idx) in zip(
                    person_ids, card_ids, built, prepared.blocks, strict=True
                ):
                    for pos, ent in enumerate(rows[1]):
                        eid = next(ent_ids)
                        ent_rows.append((eid, pid, *ent))
                        links.append((cid, eid, pos, idx + 1 + pos))
                insert_tuples(session, mapped_table(EntitlementRow), _ENTITLEMENT_COLUMNS, ent_rows)
                insert_tuples(
                    session,
                    mapped_table(StatusAllocationRow),
                    _ALLOCATION_COLUMNS,
                    [a for rows in built for a in rows[2]],
                )
                insert_tuples(
                    session,
                    cards,
                    _CARD_COLUMNS,
                    [
                        (cid, pid, *rows[3])
                        for cid, pid, rows in zip(card_ids, person_ids, built, strict=True)
                    ],
                )
                insert_tuples(session, mapped_table(CardEntitlementRow), _LINK_COLUMNS, links)
                chunk.counts["people_created"] += len(built)
                chunk.counts["entitlements_granted"] += len(ent_rows)
                chunk.counts["cards_issued"] += len(card_ids)
                totals = self._finish(session, job, chunk, prepared.consumed, progress)
        except (_StaleError, IntegrityError):
            chunk.counts = dict.fromkeys(_COUNT_NAMES, 0)
            return False
        progress.counts, progress.done = totals, prepared.consumed
        return True

    def _may_grant(self, row: int, programmes: Sequence[str], chunk: _Chunk) -> bool:
        """An issuer officer imports only the programmes the account manages."""
        for n, programme in enumerate(programmes, start=1):
            if programme not in self.actor.principal.programmes:
                chunk.rejections.append(
                    _reject(
                        row,
                        f"programme_{n}",
                        f"your account may not manage programme {programme}",
                        f"Tài khoản của bạn không quản lý chế độ {programme}",
                    )
                )
                return False
        return True

    def _people(self, session: Session, valid: list[_Valid], chunk: _Chunk) -> None:
        """Find or register each row's person, then grant and issue."""
        existing = {
            p.pin_hash: p
            for p in session.scalars(
                select(PersonRow).where(PersonRow.pin_hash.in_([v.pin_hash for v in valid]))
            )
        }
        for item in valid:
            person = existing.get(item.pin_hash)
            if person is not None:
                self._existing(session, item, person, chunk)
        fresh = [v for v in valid if v.pin_hash not in existing]
        if fresh:
            self._register(session, fresh, chunk)
        by_row = {v.row: v for v in valid if v.row in chunk.person_ids}
        self._grant_and_issue(session, by_row, chunk)

    def _existing(self, session: Session, item: _Valid, person: PersonRow, chunk: _Chunk) -> None:
        if person.province != self.province:
            chunk.rejections.append(
                _reject(
                    item.row,
                    "pin",
                    f"this PIN is registered in province {person.province}, not {self.province}",
                    f"Số định danh đã đăng ký ở tỉnh {person.province}, không phải {self.province}",
                )
            )
            return
        outcome = registry.reconcile(session, self.actor, person, item.data)
        chunk.counts["people_existing"] += 1
        if outcome.reconciliation is not None:
            chunk.counts["reconciliations"] += 1
        chunk.person_ids[item.row] = person.id
        chunk.existing[person.id] = person
        chunk.persons[person.id] = (
            person.asxh_number,
            person.full_name,
            person.date_of_birth,
            person.sex,
        )

    def _register(self, session: Session, fresh: list[_Valid], chunk: _Chunk) -> None:
        numbers = _draw_numbers(session, self.province, len(fresh))
        rows = [
            _person_row(item, number, self.province, chunk.now)
            for item, number in zip(fresh, numbers, strict=True)
        ]
        ids = _insert_with_ids(session, mapped_table(PersonRow), rows)
        for item, pid, number in zip(fresh, ids, numbers, strict=True):
            chunk.person_ids[item.row] = pid
            data = item.data
            chunk.persons[pid] = (number, data.full_name, data.date_of_birth, data.sex)
        chunk.counts["people_created"] += len(fresh)

    def _grant_and_issue(self, session: Session, by_row: dict[int, _Valid], chunk: _Chunk) -> None:
        """Grant the entitlements people do not have yet; issue the cards they lack."""
        current: dict[int, dict[str, EntitlementRow]] = {}
        for ent in session.scalars(
            select(EntitlementRow).where(
                EntitlementRow.person_id.in_(list(chunk.persons)),
                EntitlementRow.state.in_(("active", "suspended")),
            )
        ):
            current.setdefault(ent.person_id, {})[ent.programme] = ent
        new_rows: list[dict[str, Any]] = []
        new_keys: list[tuple[int, str]] = []
        card_sets: dict[int, list[tuple[str, int | None]]] = {}  # row -> [(programme, ent id)]
        for row, item in by_row.items():
            pid = chunk.person_ids[row]
            have = current.get(pid, {})
            chosen: list[tuple[str, int | None]] = []
            for n, asked in enumerate(item.entitlements, start=1):
                old = have.get(asked.programme)
                if old is not None:
                    if (old.valid_from, old.valid_to, dict(old.attributes), old.state) != (
                        asked.valid_from,
                        asked.valid_to,
                        asked.attributes,
                        "active",
                    ):
                        chunk.rejections.append(
                            _reject(
                                row,
                                f"programme_{n}",
                                f"the person already has a current {asked.programme} entitlement "
                                "with other data (kept; change it in the console)",
                                f"Người này đã có chế độ {asked.programme} với dữ liệu khác "
                                "(giữ nguyên; sửa trên giao diện quản lý)",
                            )
                        )
                    chosen.append((asked.programme, old.id))
                    continue
                new_rows.append(self._entitlement_row(pid, asked, chunk.now))
                new_keys.append((row, asked.programme))
                chosen.append((asked.programme, None))
            card_sets[row] = chosen
        made: dict[tuple[int, str], int] = {}
        if new_rows:
            new_ids = _insert_with_ids(session, mapped_table(EntitlementRow), new_rows)
            made = dict(zip(new_keys, new_ids, strict=True))
            chunk.counts["entitlements_granted"] += len(new_rows)
        wanted = self._card_contents(by_row, card_sets, made, current, chunk)
        for row in [r for r in wanted if chunk.person_ids[r] in chunk.existing]:
            del wanted[row]
            self._reissue(session, chunk.existing[chunk.person_ids[row]], chunk)
        to_issue = self._lacking(session, wanted, chunk)
        if to_issue:
            self._issue_cards(session, to_issue, chunk)

    def _reissue(self, session: Session, person: PersonRow, chunk: _Chunk) -> None:
        """A new card for a registered person whose cards lack a current entitlement.

        ``cards.issue_card`` signs it with all their current entitlements and revokes the card
        it supersedes (one current card per issuer).
        """
        ents = cards.current_entitlements(session, person, chunk.today)
        wanted = frozenset(e.id for e in ents)
        held = [
            frozenset(
                session.scalars(
                    select(CardEntitlementRow.entitlement_id).where(
                        CardEntitlementRow.card_id == card_id
                    )
                )
            )
            for card_id in session.scalars(
                select(CardRow.id).where(CardRow.person_id == person.id, CardRow.state == "active")
            )
        ]
        if not ents or wanted in held:
            return
        outcome = cards.issue_card(session, self.ctx, self.actor, person)
        outcome.card.import_job_id = self.job_id
        chunk.counts["cards_issued"] += 1

    @staticmethod
    def _card_contents(
        by_row: dict[int, _Valid],
        card_sets: dict[int, list[tuple[str, int | None]]],
        made: dict[tuple[int, str], int],
        current: dict[int, dict[str, EntitlementRow]],
        chunk: _Chunk,
    ) -> dict[int, list[_EntRow]]:
        """Each row's card: its entitlements that are active and current today."""
        kept = {e.id: e for by_programme in current.values() for e in by_programme.values()}
        wanted: dict[int, list[_EntRow]] = {}
        for row, chosen in card_sets.items():
            asked = {e.programme: e for e in by_row[row].entitlements}
            ents: list[_EntRow] = []
            for programme, ent_id in chosen:
                if ent_id is None:
                    new = asked[programme]
                    details = (programme, new.valid_from, new.valid_to, new.attributes)
                    ents.append(_EntRow(made[(row, programme)], programme, details))
                    continue
                old = kept[ent_id]
                if old.state == "active" and (old.valid_to is None or old.valid_to >= chunk.today):
                    details = (programme, old.valid_from, old.valid_to, dict(old.attributes))
                    ents.append(_EntRow(old.id, programme, details))
            if ents:
                wanted[row] = sorted(ents, key=lambda e: e.programme)
        return wanted

    def _lacking(
        self, session: Session, wanted: dict[int, list[_EntRow]], chunk: _Chunk
    ) -> list[tuple[int, list[_EntRow]]]:
        """Rows whose person holds no active card with exactly these entitlements."""
        holders = [chunk.person_ids[row] for row in wanted]
        person_cards: dict[int, set[int]] = {}
        card_ents: dict[int, set[int]] = {}
        if holders:
            for card_id, person_id, ent_id in session.execute(
                select(CardRow.id, CardRow.person_id, CardEntitlementRow.entitlement_id)
                .join(CardEntitlementRow, CardEntitlementRow.card_id == CardRow.id)
                .where(CardRow.person_id.in_(holders), CardRow.state == "active")
            ):
                person_cards.setdefault(person_id, set()).add(card_id)
                card_ents.setdefault(card_id, set()).add(ent_id)
        lacking = []
        for row, ents in wanted.items():
            cards = person_cards.get(chunk.person_ids[row], set())
            if frozenset(e.id for e in ents) not in {frozenset(card_ents[c]) for c in cards}:
                lacking.append((row, ents))
        return lacking

    def _issue_cards(
        self, session: Session, to_issue: list[tuple[int, list[_EntRow]]], chunk: _Chunk
    ) -> None:
        """Allocate status blocks, sign in the pool, insert the cards and their links."""
        settings = self.ctx.settings
        signing = {
            row: self._issuer(session, [e.programme for e in ents]) for row, ents in to_issue
        }
        blocks = statuslists.allocate_many(
            session,
            settings,
            [(signing[row][0], 1 + len(ents)) for row, ents in to_issue],
            self.spaces,
        )
        jobs: list[_SignJob] = []
        for (row, ents), (list_id, idx) in zip(to_issue, blocks, strict=True):
            number, name, dob, sex = chunk.persons[chunk.person_ids[row]]
            issuer_id, _kid, key_file = signing[row]
            card_ents = tuple(e.details for e in ents)
            jobs.append(
                (
                    issuer_id,
                    key_file,
                    self.province,
                    number,
                    dob,
                    f"{name}\x1f{sex}",
                    card_ents,
                    _expiry([e[2] for e in card_ents], settings.card_validity_days, chunk.today),
                    idx,
                    statuslists.list_uri(settings, issuer_id, list_id),
                )
            )
        step = -(-len(jobs) // self.workers)
        futures = [
            self.pool.submit(_sign_chunk, jobs[i : i + step]) for i in range(0, len(jobs), step)
        ]
        signed = [s for f in futures for s in f.result()]
        card_rows = [
            {
                "serial": serial,
                "person_id": chunk.person_ids[row],
                "province": self.province,
                "issuer_id": signing[row][0],
                "kid": signing[row][1],
                "token": token,
                "qr_text": qr_text,
                "state": "active",
                "status_list_id": list_id,
                "status_idx": idx,
                "issued_at": chunk.now,
                "expires_at": datetime.fromtimestamp(expires_at, VN_TZ),
                "import_job_id": self.job_id,
                "created_by": self.actor.username,
            }
            for (row, _ents), (list_id, idx), (serial, token, qr_text, expires_at) in zip(
                to_issue, blocks, signed, strict=True
            )
        ]
        card_ids = _insert_with_ids(session, mapped_table(CardRow), card_rows)
        bulk_insert(
            session,
            mapped_table(CardEntitlementRow),
            [
                {
                    "card_id": cid,
                    "entitlement_id": e.id,
                    "position": pos,
                    "status_idx": idx + 1 + pos,
                }
                for cid, (_row, ents), (_list, idx) in zip(card_ids, to_issue, blocks, strict=True)
                for pos, e in enumerate(ents)
            ],
        )
        chunk.counts["cards_issued"] += len(card_rows)

    def _issuer(self, session: Session, programmes: Sequence[str]) -> tuple[str, str, str]:
        """Issuer id, kid and key file for a card of ``programmes`` (cached per set).

        A cached choice lasts until its key's switch (a scheduled rotation or a cut-off).
        """
        key = frozenset(programmes)
        cached = self.issuers.get(key)
        if cached is not None and self._switched(cached[1]):
            del self.issuers[key]
        if key not in self.issuers:
            signing = cards.issuer_for(session, self.province, sorted(key))
            key_file = str(self.ctx.keyring.keys_dir / signing.key_file)
            self.issuers[key] = (signing.issuer_id, signing.kid, key_file)
            now = utc_now()
            later = session.scalars(
                select(IssuerKeyRow.not_before).where(
                    IssuerKeyRow.issuer_id == signing.issuer_id,
                    IssuerKeyRow.state == "active",
                    IssuerKeyRow.not_before > now,
                )
            ).all()
            ends = [*later, *([signing.not_after] if signing.not_after is not None else [])]
            if ends:
                self.switch_at[signing.kid] = min(ends)
        return self.issuers[key]

    def _switched(self, kid: str) -> bool:
        """Whether ``kid`` may no longer be the key cards are signed with."""
        moment = self.switch_at.get(kid)
        return moment is not None and utc_now() >= moment


class _StaleError(AsxhError):
    """A prepared chunk's assumptions no longer hold: it goes the slow path."""


@dataclass(slots=True)
class _Prepared:
    """A chunk of new people, decided and being signed (the fast path)."""

    consumed: int
    chunk: _Chunk
    valid: list[_Flat]
    signing: list[tuple[str, str, str]]
    blocks: list[tuple[int, int]]
    #: list id -> (its allocated count the chunk was drawn on, entries the chunk adds)
    lists: dict[int, tuple[int, int]]
    signed: Future[list[Any]]


@dataclass(frozen=True, slots=True)
class _EntRow:
    """An entitlement going on a card: its id, programme, and what the card says of it."""

    id: int
    programme: str
    details: _EntTuple


def _insert_with_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows``, each with a fresh ``id`` (``db.reserve_ids``); the ids in row order."""
    ids = reserve_ids(session, table, len(rows))
    for row, new_id in zip(rows, ids, strict=True):
        row["id"] = new_id
    bulk_insert(session, table, rows)
    return ids


def _person_row(item: _Valid, number: str, province: str, now: datetime) -> dict[str, Any]:
    """The ``persons`` row of a newly registered person."""
    data = item.data
    return {
        "asxh_number": number,
        "province": province,
        "pin_hash": item.pin_hash,
        "pin_cipher": item.pin_cipher,
        "full_name": data.full_name,
        "date_of_birth": data.date_of_birth,
        "sex": data.sex,
        "hometown": data.hometown,
        "permanent_address": data.permanent_address,
        "commune": data.commune,
        "provisional": False,
        "created_at": now,
        "updated_at": now,
    }


def _draw_numbers(
    session: Session, province: str, count: int, avoid: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """``count`` unused mã số ASXH of ``province``, none in ``avoid`` (random, redrawn)."""
    chosen: set[str] = set()
    for _ in range(_NUMBER_TRIES):
        wanted = count - len(chosen)
        if wanted == 0:
            break
        draw = {generate_asxh_number(province).value for _ in range(wanted)} - chosen - avoid
        chosen |= draw - present(session, mapped_table(PersonRow), "asxh_number", list(draw))
    if len(chosen) != count:  # pragma: no cover - 10^8 numbers per province
        raise RuntimeError("could not draw unused mã số ASXH")
    return list(chosen)


def _expiry(ends: Sequence[date | None], validity_days: int, today: date) -> date:
    """The card's last day: the longest validity, or the last entitlement's end if earlier."""
    longest = today + timedelta(days=validity_days)
    if all(end is not None for end in ends):
        return min(longest, max(end for end in ends if end is not None))
    return longest


def rejections_csv(session: Session, job_id: int) -> str:
    """The job's error report as CSV: row, field, reason (Vietnamese), reason (English)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "field", "reason_vi", "reason_en"])
    for r in session.scalars(
        select(ImportRejectionRow)
        .where(ImportRejectionRow.job_id == job_id)
        .order_by(ImportRejectionRow.row, ImportRejectionRow.id)
    ):
        writer.writerow([r.row, r.field, r.reason_vi, r.reason_en])
    return out.getvalue()
