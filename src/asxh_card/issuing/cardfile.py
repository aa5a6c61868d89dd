"""The JSON description of a card (``asxh issue CARD.json``; one per line in a ``.jsonl`` batch).

Documented in ``docs/issuing.md``; ``examples/card.json`` is a complete example::

    {
      "issuer": "vn-79", "province": "79",
      "holder": {"asxh_number": "79 1234 5678 5", "name": "...", "date_of_birth": "1958-03-02",
                 "sex": "F"},
      "entitlements": [
        {"programme": "BHYT", "from": "2026-01-01", "to": "2026-12-31",
         "attributes": {"level": 2, "coverage": 100, "facility": "79-123"}}
      ],
      "guardian": {"asxh_number": "...", "name": "...", "relation": "guardian"},
      "status": {"idx": 31337, "uri": "https://..."},
      "validity": {"not_before": "2026-01-01", "expires": "2030-12-31"}
    }

Parsing is strict (unknown members are refused, so a misspelt optional field cannot silently
vanish) and every error names the source, the field and the rule:
``card.json: holder.date_of_birth: must be a date YYYY-MM-DD``. Structural errors raise
:class:`CardFileError`; the rules of issuance (valid mã số, never-on-card fields, windows, size)
are the :class:`~asxh_card.issuing.issuer.Issuer`'s.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from asxh_card import card as _card
from asxh_card._core.statuslist import StatusRef
from asxh_card.errors import InvalidInputError
from asxh_card.issuing.issuer import CardRequest, Moment
from asxh_card.programmes import Entitlement

__all__ = ["CardDescription", "CardFileError", "parse_card_description", "parse_card_json"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# "status" is required too, but checked by _Parser.status, which says how to get one.
_TOP = ({"issuer", "province", "holder", "entitlements", "validity"}, {"guardian", "status"})
_HOLDER = ({"asxh_number", "name", "date_of_birth", "sex"}, set[str]())
# No per-entitlement status: an entitlement's entry follows the card's (card.py, status block).
_ENTITLEMENT = ({"programme", "from"}, {"to", "attributes"})
_GUARDIAN = ({"asxh_number", "name"}, {"relation"})
_STATUS = ({"idx", "uri"}, set[str]())
_STATUS_HINT_EN = (
    "the card's index in its issuer's status list, without which it could never be revoked; "
    "make a list with `asxh status new` and give each card a free index: docs/issuing.md"
)
_STATUS_HINT_VI = (
    "vị trí của thẻ trong danh sách trạng thái của cơ quan cấp, thiếu nó thì thẻ không bao giờ "
    "thu hồi được; tạo danh sách bằng `asxh status new` và cho mỗi thẻ một vị trí còn trống: "
    "docs/issuing.md"
)
_VALIDITY = ({"expires"}, {"not_before"})


class CardFileError(InvalidInputError):
    """A card description is not well formed: ``source: field: rule``."""


@dataclass(frozen=True, slots=True)
class CardDescription:
    """A parsed description: who issues (issuer id, province) and the :class:`CardRequest`."""

    issuer: str
    province: str
    request: CardRequest


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, rule: str) -> CardFileError:
        return CardFileError(f"{self.source}: {where}: {rule}")

    def obj(self, value: object, where: str, members: tuple[set[str], set[str]]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be an object")
        required, optional = members
        for key in value:
            if key not in required | optional:
                allowed = ", ".join(sorted(required | optional))
                raise self.fail(where, f"unknown member {key!r} (allowed: {allowed})")
        for key in sorted(required):
            if key not in value:
                raise self.fail(where, f"missing member {key!r}")
        return value

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "must be a non-empty string")
        return value

    def day(self, value: object, where: str) -> date:
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise self.fail(where, "must be a date YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(where, "is not a calendar date") from None

    def moment(self, value: object, where: str) -> Moment:
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            return self.day(value, where)
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise self.fail(where, "must be a date or an ISO 8601 date-time") from None
            if moment.tzinfo is None:
                raise self.fail(where, "a date-time needs a UTC offset, e.g. +07:00")
            return moment
        raise self.fail(where, "must be a date YYYY-MM-DD or an ISO 8601 date-time")

    def status(self, value: object, where: str) -> StatusRef:
        if value is None:
            # Required: a card without a status entry could never be revoked (DESIGN.md §4).
            raise CardFileError(
                f"{self.source}: {where}: required ({_STATUS_HINT_EN})",
                message_vi=f"{self.source}: {where}: bắt buộc ({_STATUS_HINT_VI})",
            )
        raw = self.obj(value, where, _STATUS)
        idx = raw["idx"]
        if type(idx) is not int or idx < 0:
            raise self.fail(f"{where}.idx", "must be a non-negative integer")
        return StatusRef(idx=idx, uri=self.text(raw["uri"], f"{where}.uri"))

    def entitlement(self, value: object, where: str) -> Entitlement:
        raw = self.obj(value, where, _ENTITLEMENT)
        attributes = raw.get("attributes", {})
        if not isinstance(attributes, dict):
            raise self.fail(f"{where}.attributes", "must be an object")
        for key, item in attributes.items():
            if isinstance(item, bool) or not isinstance(item, int | str):
                raise self.fail(f"{where}.attributes.{key}", "must be an integer or a string")
        return Entitlement(
            programme=self.text(raw["programme"], f"{where}.programme"),
            valid_from=self.day(raw["from"], f"{where}.from"),
            valid_to=self.day(raw["to"], f"{where}.to") if raw.get("to") is not None else None,
            attributes=attributes,
        )

    def description(self, value: object) -> CardDescription:
        raw = self.obj(value, "card", _TOP)
        holder = self.obj(raw["holder"], "holder", _HOLDER)
        sex = holder["sex"]
        if sex not in ("M", "F"):
            raise self.fail("holder.sex", "must be 'M' or 'F'")
        ents = raw["entitlements"]
        if not isinstance(ents, list) or not ents:
            raise self.fail("entitlements", "must be a non-empty list")
        guardian = None
        if raw.get("guardian") is not None:
            gdn = self.obj(raw["guardian"], "guardian", _GUARDIAN)
            relation = gdn.get("relation", "guardian")
            if relation not in ("guardian", "authorised"):
                raise self.fail("guardian.relation", "must be 'guardian' or 'authorised'")
            guardian = _card.Guardian(
                asxh_number=self.text(gdn["asxh_number"], "guardian.asxh_number"),
                name=self.text(gdn["name"], "guardian.name"),
                relation=relation,
            )
        validity = self.obj(raw["validity"], "validity", _VALIDITY)
        not_before = validity.get("not_before")
        request = CardRequest(
            holder=_card.Holder(
                asxh_number=self.text(holder["asxh_number"], "holder.asxh_number"),
                name=self.text(holder["name"], "holder.name"),
                date_of_birth=self.day(holder["date_of_birth"], "holder.date_of_birth"),
                sex=sex,
            ),
            entitlements=tuple(
                self.entitlement(e, f"entitlements[{i}]") for i, e in enumerate(ents)
            ),
            expires=self.moment(validity["expires"], "validity.expires"),
            not_before=(
                self.moment(not_before, "validity.not_before") if not_before is not None else None
            ),
            guardian=guardian,
            status=self.status(raw.get("status"), "status"),
        )
        return CardDescription(
            issuer=self.text(raw["issuer"], "issuer"),
            province=self.text(raw["province"], "province"),
            request=request,
        )


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def parse_card_description(value: object, *, source: str = "card") -> CardDescription:
    """Parse a description already loaded from JSON; raises :class:`CardFileError`."""
    try:
        return _Parser(source).description(value)
    except CardFileError:
        raise
    except InvalidInputError as exc:  # e.g. Entitlement's own type guards
        raise CardFileError(f"{source}: {exc}") from None


def parse_card_json(text: str | bytes, *, source: str = "card") -> CardDescription:
    """Parse the JSON text of a description (duplicate members refused)."""
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CardFileError(f"{source}: not valid JSON ({exc})") from None
    return parse_card_description(value, source=source)
