"""The programme registry: reading ``data/programmes.json`` strictly, and looking programmes up.

Which programmes exist and which attributes each may carry is *data*; every constructor of
:class:`ProgrammeRegistry` validates the registry itself and raises
:class:`~asxh_card.errors.EntitlementError` naming the broken part.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from asxh_card._core import strictjson
from asxh_card._core.timeutil import ISODateError, parse_iso_date
from asxh_card.errors import EntitlementError
from asxh_card.programmes._common import (
    AttributeValue,
    _is_int,
    _is_mapping,
    _normalise_key,
    _show,
)
from asxh_card.programmes.schema import (
    AmountRule,
    AttributeSpec,
    AttributeType,
    LookupConstraint,
    Programme,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable

    from asxh_card.programmes.entitlement import Entitlement

__all__ = ["REGISTRY_VERSION", "ProgrammeRegistry", "bhyt_coverage_for_level"]

#: The only registry format this module reads.
REGISTRY_VERSION: Final = 1

# Programme codes and attribute keys are ASCII and short: they are repeated on every card and
# cost QR space (DESIGN.md §3 size budget).
_PROGRAMME_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,15}")
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")
_ENUM_VALUE_MAX = 32
_STR_MAX_LENGTH = 200
_TEXT_MAX = 2000
_REGISTRY_RESOURCE: Final = "programmes.json"

# --------------------------------------------------------------------------------------------
# Reading the registry file


def _registry_error(where: str, problem: str) -> EntitlementError:
    return EntitlementError(f"programme registry: {where}: {problem}")


def _as_object(obj: object, where: str) -> Mapping[str, object]:
    if not _is_mapping(obj) or not all(isinstance(k, str) for k in obj):
        raise _registry_error(where, "must be a JSON object")
    return obj


def _check_keys(
    obj: Mapping[str, object], where: str, required: Iterable[str], optional: Iterable[str]
) -> None:
    required = tuple(required)
    allowed = set(required) | set(optional)
    for key in obj:
        if key not in allowed:
            raise _registry_error(where, f"unknown key {_show(key)}")
    for key in required:
        if key not in obj:
            raise _registry_error(where, f"missing key {key!r}")


def _text(obj: Mapping[str, object], key: str, where: str, *, optional: bool = False) -> str:
    value = obj.get(key, "" if optional else None)
    if not isinstance(value, str) or (not optional and not value.strip()):
        raise _registry_error(where, f"{key!r} must be a non-empty string")
    if len(value) > _TEXT_MAX:
        raise _registry_error(where, f"{key!r} is longer than {_TEXT_MAX} characters")
    return value


def _int_field(obj: Mapping[str, object], key: str, where: str) -> int:
    value = obj.get(key)
    if not _is_int(value):
        raise _registry_error(where, f"{key!r} must be an integer")
    assert isinstance(value, int)  # noqa: S101 - narrows for mypy; _is_int checked it
    return value


_SPEC_KEYS: Final[Mapping[AttributeType, tuple[str, ...]]] = MappingProxyType(
    {
        AttributeType.INT: ("min", "max"),
        AttributeType.ENUM: ("values",),
        AttributeType.STR: ("pattern", "max_length"),
    }
)


def _parse_attribute(name: str, obj: object, where: str) -> AttributeSpec:
    spec = _as_object(obj, where)
    raw_type = spec.get("type")
    if not isinstance(raw_type, str) or raw_type not in set(AttributeType):
        allowed = ", ".join(repr(t.value) for t in AttributeType)
        raise _registry_error(where, f"'type' must be one of {allowed}")
    kind = AttributeType(raw_type)
    optional = ("description", "normalise") if kind is AttributeType.STR else ("description",)
    _check_keys(spec, where, ("type", "required", *_SPEC_KEYS[kind]), optional)
    required = spec["required"]
    if not isinstance(required, bool):
        raise _registry_error(where, "'required' must be true or false")
    description = _text(spec, "description", where, optional=True)
    if kind is AttributeType.INT:
        minimum = _int_field(spec, "min", where)
        maximum = _int_field(spec, "max", where)
        if minimum > maximum:
            raise _registry_error(where, "'min' is greater than 'max'")
        return AttributeSpec(
            name, kind, required, minimum=minimum, maximum=maximum, description=description
        )
    if kind is AttributeType.ENUM:
        values = spec["values"]
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and 0 < len(v) <= _ENUM_VALUE_MAX for v in values)
        ):
            raise _registry_error(
                where, f"'values' must be a non-empty list of strings of 1-{_ENUM_VALUE_MAX} chars"
            )
        if len(set(values)) != len(values):
            raise _registry_error(where, "'values' has duplicates")
        return AttributeSpec(name, kind, required, values=tuple(values), description=description)
    max_length = _int_field(spec, "max_length", where)
    if not 0 < max_length <= _STR_MAX_LENGTH:
        raise _registry_error(where, f"'max_length' must be between 1 and {_STR_MAX_LENGTH}")
    pattern = spec["pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise _registry_error(where, "'pattern' must be a non-empty string")
    try:
        # re.ASCII: "\d" in a facility-code pattern must not accept Arabic-Indic or other digits.
        compiled = re.compile(pattern, re.ASCII)
    except re.error as exc:
        raise _registry_error(
            where, f"'pattern' is not a valid regular expression ({exc})"
        ) from exc
    normalise = spec.get("normalise", "")
    if normalise not in ("", "facility"):
        raise _registry_error(where, "'normalise' must be 'facility'")
    assert isinstance(normalise, str)  # noqa: S101 - checked above
    return AttributeSpec(
        name,
        kind,
        required,
        pattern=compiled,
        max_length=max_length,
        description=description,
        normalise=normalise,
    )


def _day(value: object, where: str, key: str) -> date:
    try:
        return parse_iso_date(value)
    except ISODateError as exc:
        raise _registry_error(where, f"{key!r} {exc}") from None


def _parse_amount_rule(
    obj: object, where: str, attributes: Mapping[str, AttributeSpec]
) -> AmountRule:
    raw = _as_object(obj, where)
    _check_keys(raw, where, ("attribute", "levels", "coefficients"), ("note",))
    attribute = raw["attribute"]
    if not isinstance(attribute, str) or attributes.get(attribute) is None:
        raise _registry_error(where, "'attribute' must name an attribute of the programme")
    if attributes[attribute].type is not AttributeType.INT:
        raise _registry_error(where, "'attribute' must be an integer attribute")
    levels_obj = raw["levels"]
    if not isinstance(levels_obj, list) or not levels_obj:
        raise _registry_error(where, "'levels' must be a non-empty list")
    levels: list[tuple[date, int]] = []
    for i, level in enumerate(levels_obj):
        here = f"{where}.levels[{i}]"
        item = _as_object(level, here)
        _check_keys(item, here, ("from", "base"), ("source",))
        start = _day(item["from"], here, "from")
        base = _int_field(item, "base", here)
        if base <= 0 or (levels and start <= levels[-1][0]):
            raise _registry_error(here, "bases must be positive and in increasing date order")
        levels.append((start, base))
    coefficients = raw["coefficients"]
    if (
        not isinstance(coefficients, list)
        or not coefficients
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coefficients)
        or min(coefficients) <= 0
    ):
        raise _registry_error(where, "'coefficients' must be a non-empty list of positive numbers")
    return AmountRule(
        attribute,
        tuple(levels),
        tuple(float(c) for c in coefficients),
        _text(raw, "note", where, optional=True),
    )


def _parse_constraint(
    obj: object, where: str, attributes: Mapping[str, AttributeSpec]
) -> LookupConstraint:
    raw = _as_object(obj, where)
    _check_keys(raw, where, ("rule", "key", "value", "table"), ("note",))
    if raw["rule"] != "lookup":
        raise _registry_error(where, "'rule' must be 'lookup'")
    key, value = raw["key"], raw["value"]
    if not isinstance(key, str) or key not in attributes:
        raise _registry_error(where, "'key' must name an attribute of the programme")
    if not isinstance(value, str) or value not in attributes or value == key:
        raise _registry_error(where, "'value' must name another attribute of the programme")
    table_obj = _as_object(raw["table"], f"{where}.table")
    if not table_obj:
        raise _registry_error(where, "'table' is empty")
    key_spec, value_spec = attributes[key], attributes[value]
    table: dict[AttributeValue, AttributeValue] = {}
    for raw_key, raw_value in table_obj.items():
        # JSON object keys are strings; an int attribute's table is keyed by its decimal form.
        entry: AttributeValue = raw_key
        if key_spec.type is AttributeType.INT:
            if re.fullmatch(r"-?[0-9]{1,18}", raw_key) is None:
                raise _registry_error(where, f"table key {_show(raw_key)} is not an integer")
            entry = int(raw_key)
        try:
            key_spec.check("table", entry)
            value_spec.check("table", raw_value)
        except EntitlementError as exc:
            raise _registry_error(where, f"table entry {_show(raw_key)}: {exc}") from exc
        assert isinstance(raw_value, int | str)  # noqa: S101 - value_spec.check narrowed it
        table[entry] = raw_value
    return LookupConstraint(
        key, value, MappingProxyType(table), _text(raw, "note", where, optional=True)
    )


def _parse_programme(obj: object, where: str) -> Programme:
    raw = _as_object(obj, where)
    code = raw.get("code")
    if not isinstance(code, str) or _PROGRAMME_CODE.fullmatch(code) is None:
        raise _registry_error(
            where, "'code' must be 2-16 characters A-Z, 0-9, _ starting with a letter"
        )
    where = f"programme {code}"  # from here on, messages name the programme
    _check_keys(
        raw,
        where,
        ("code", "name_vi", "name_en", "owner", "legal_basis", "attributes"),
        ("operator", "notes", "constraints", "effective_from", "amount_rule"),
    )
    attributes_obj = _as_object(raw["attributes"], f"{where}.attributes")
    attributes: dict[str, AttributeSpec] = {}
    for name, spec in attributes_obj.items():
        if _ATTRIBUTE_NAME.fullmatch(name) is None:
            raise _registry_error(
                where, f"attribute name {_show(name)} must be 1-16 characters a-z, 0-9, _"
            )
        attributes[name] = _parse_attribute(name, spec, f"{where}.attributes.{name}")
    constraints_obj = raw.get("constraints", [])
    if not isinstance(constraints_obj, list):
        raise _registry_error(where, "'constraints' must be a list")
    constraints = tuple(
        _parse_constraint(c, f"{where}.constraints[{i}]", attributes)
        for i, c in enumerate(constraints_obj)
    )
    return Programme(
        code=code,
        name_vi=_text(raw, "name_vi", where),
        name_en=_text(raw, "name_en", where),
        owner=_text(raw, "owner", where),
        legal_basis=_text(raw, "legal_basis", where),
        attributes=MappingProxyType(attributes),
        constraints=constraints,
        operator=_text(raw, "operator", where, optional=True),
        notes=_text(raw, "notes", where, optional=True),
        effective_from=(
            _day(raw["effective_from"], where, "effective_from")
            if "effective_from" in raw
            else None
        ),
        amount_rule=(
            _parse_amount_rule(raw["amount_rule"], f"{where}.amount_rule", attributes)
            if "amount_rule" in raw
            else None
        ),
    )


#: The bundled registry is under 10 KB; the cap stops a wrong path (a log, an image) early.
_REGISTRY_MAX_BYTES = 1 << 20


def _load_json(data: bytes, source: str) -> object:
    # The project's strict JSON (duplicate members, NaN, I-JSON integers, BOM, depth): the
    # registry decides what a card may carry, so it is read as strictly as the card itself.
    try:
        return strictjson.loads(data, max_size=_REGISTRY_MAX_BYTES)
    except strictjson.StrictJSONError as exc:
        raise _registry_error(source, f"not valid UTF-8 JSON ({exc})") from None


#: Bounded, so that a stream of forged cards with random attributes cannot grow the memo.
_MAX_REMEMBERED_SETS = 8192


class ProgrammeRegistry:
    """The programmes a card may carry and the fields it may never carry.

    Build it with :meth:`default` (the bundled ``programmes.json``, loaded once), :meth:`from_path`
    or :meth:`from_mapping`; every constructor validates the registry itself and raises
    :class:`EntitlementError` naming the broken part. The registry is immutable.
    ``code in registry`` tests a programme code; iterating yields :class:`Programme` objects in
    file order.
    """

    __slots__ = (
        "_never",
        "_never_normalised",
        "_parsed_claims",
        "_programmes",
        "_valid_attribute_sets",
        "never_on_card_note",
    )

    def __init__(
        self,
        programmes: Iterable[Programme],
        never_on_card: Iterable[str],
        *,
        never_on_card_note: str = "",
    ) -> None:
        """Build a registry from parsed programmes (most callers want :meth:`from_mapping`)."""
        never = tuple(never_on_card)
        for name in never:
            if not _normalise_key(name):
                raise _registry_error("never_on_card", "entries must be non-empty names")
        self._never: tuple[str, ...] = never
        self._never_normalised = frozenset(_normalise_key(n) for n in never)
        self.never_on_card_note = never_on_card_note
        table: dict[str, Programme] = {}
        for programme in programmes:
            if programme.code in table:
                raise _registry_error(f"programme {programme.code}", "duplicate code")
            for name in programme.attributes:
                # The schema itself must not let a sensitive field onto a card.
                if self.is_never_on_card(name):
                    raise _registry_error(
                        f"programme {programme.code}",
                        f"attribute {name!r} is on the never_on_card list",
                    )
            table[programme.code] = programme
        if not table:
            raise _registry_error("programmes", "the registry lists no programme")
        self._programmes: Mapping[str, Programme] = MappingProxyType(table)
        # Attribute sets that passed check_entitlement_attributes: cards repeat a handful of them
        # (the same BHYT level and facility, the same monthly amounts), and the check is pure.
        self._valid_attribute_sets: dict[tuple[object, ...], None] = {}
        # Entitlement claims that parsed, for parse_typed_claim (same reasoning, one step up).
        self._parsed_claims: dict[tuple[object, ...], Entitlement] = {}

    @classmethod
    def default(cls) -> ProgrammeRegistry:
        """Return the registry bundled with the package (``data/programmes.json``), cached."""
        return _default_registry()

    @classmethod
    def from_mapping(cls, obj: object) -> ProgrammeRegistry:
        """Validate and load a registry from its JSON form (as produced by ``json.load``)."""
        raw = _as_object(obj, "top level")
        _check_keys(
            raw, "top level", ("version", "programmes", "never_on_card"), ("never_on_card_note",)
        )
        if not _is_int(raw["version"]) or raw["version"] != REGISTRY_VERSION:
            raise _registry_error("top level", f"'version' must be {REGISTRY_VERSION}")
        never = raw["never_on_card"]
        if not isinstance(never, list) or not all(isinstance(n, str) for n in never):
            raise _registry_error("never_on_card", "must be a list of strings")
        programmes = raw["programmes"]
        if not isinstance(programmes, list):
            raise _registry_error("programmes", "must be a list")
        return cls(
            (_parse_programme(p, f"programmes[{i}]") for i, p in enumerate(programmes)),
            never,
            never_on_card_note=_text(raw, "never_on_card_note", "top level", optional=True),
        )

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ProgrammeRegistry:
        """Validate and load a registry from a JSON file."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise _registry_error(str(path), f"cannot read the file ({exc.strerror})") from exc
        return cls.from_mapping(_load_json(data, str(path)))

    @property
    def codes(self) -> tuple[str, ...]:
        """The programme codes, in file order."""
        return tuple(self._programmes)

    @property
    def never_on_card(self) -> tuple[str, ...]:
        """Field names that may never appear on a card (compared after :func:`_normalise_key`)."""
        return self._never

    def check_entitlement_attributes(
        self, programme: Programme, attributes: Mapping[str, object]
    ) -> None:
        """Refuse never-on-card keys, then check ``attributes`` against ``programme``'s schema.

        Memoised on (programme, attribute names, value types, values): the type is part of the key
        because ``True == 1`` in Python, and a boolean must never pass as an integer.
        """
        try:
            memo_key: tuple[object, ...] | None = (
                programme.code,
                *[(k, v.__class__, v) for k, v in attributes.items()],
            )
            if memo_key in self._valid_attribute_sets:
                return
        except TypeError:  # an unhashable value: check it, but do not remember it
            memo_key = None
        for key in attributes:
            # Checked before the schema so the message says why, not just "unknown".
            if self.is_never_on_card(key):
                raise EntitlementError(
                    f"{programme.code}: attribute {_show(key)} may never appear on a card "
                    "(sensitive or identifying data; Law 91/2025/QH15, Decree 356/2025/ND-CP)",
                    message_vi=(
                        f"{programme.code}: trường {_show(key)} không bao giờ được ghi lên thẻ "
                        "(dữ liệu nhạy cảm hoặc định danh; Luật 91/2025/QH15, Nghị định "
                        "356/2025/NĐ-CP)."
                    ),
                )
        programme.check_attributes(attributes)
        if memo_key is not None and len(self._valid_attribute_sets) < _MAX_REMEMBERED_SETS:
            self._valid_attribute_sets[memo_key] = None

    def parse_typed_claim(self, claim: Sequence[int | str | None]) -> Entitlement:
        """:meth:`Entitlement.from_claim` (without a status entry), memoised on the claim.

        For card verification: ``claim`` comes from the card's wire schema, which has already
        refused booleans and floats, so the claim's values alone can be the memo key
        (``True == 1`` could not mix two claims up). The returned entitlement is immutable and
        shared; successes only are remembered, in a bounded table.
        """
        key = tuple(claim)
        entitlement = self._parsed_claims.get(key)
        if entitlement is None:
            # Imported here: the entitlement module builds on this one (a cache miss only).
            from asxh_card.programmes.entitlement import Entitlement  # noqa: PLC0415

            entitlement = Entitlement.from_claim(list(claim), registry=self)
            if len(self._parsed_claims) >= _MAX_REMEMBERED_SETS:
                self._parsed_claims.clear()
            self._parsed_claims[key] = entitlement
        return entitlement

    def is_never_on_card(self, key: str) -> bool:
        """Tell whether ``key`` may never go on a card (in any case or with any separator)."""
        return _normalise_key(key) in self._never_normalised

    def get(self, code: str) -> Programme:
        """Return the programme with ``code``; :class:`EntitlementError` if there is none."""
        programme = self._programmes.get(code)
        if programme is None:
            known = ", ".join(self._programmes)
            raise EntitlementError(
                f"unknown programme {_show(code)} (known: {known})",
                message_vi=f"Không có chế độ {_show(code)} (các chế độ hiện có: {known}).",
            )
        return programme

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._programmes

    def __iter__(self) -> Iterator[Programme]:
        return iter(self._programmes.values())

    def __len__(self) -> int:
        return len(self._programmes)

    def __repr__(self) -> str:
        return f"ProgrammeRegistry({', '.join(self._programmes)})"


@functools.cache
def _default_registry() -> ProgrammeRegistry:
    data = resources.files("asxh_card.data").joinpath(_REGISTRY_RESOURCE).read_bytes()
    return ProgrammeRegistry.from_mapping(_load_json(data, _REGISTRY_RESOURCE))


def bhyt_coverage_for_level(level: int, *, registry: ProgrammeRegistry | None = None) -> int:
    """Return the share (percent) of covered costs the BHYT fund pays at ``level`` (1-5).

    Read from the registry's BHYT level/coverage table (domain-vn §3.2, Table E): 1 and 2 pay
    100 %, 3 pays 95 %, 4 pays 80 %, 5 pays 100 % including costs outside the benefit scope.
    The 2026 reform (Resolution 261/2025/QH15) moved groups between levels, not the percentages.
    """
    programme = (ProgrammeRegistry.default() if registry is None else registry).get("BHYT")
    for constraint in programme.constraints:
        if constraint.key == "level" and constraint.value == "coverage":
            programme.attributes["level"].check("BHYT", level)
            coverage = constraint.table.get(level)
            if not _is_int(coverage):
                raise EntitlementError(f"BHYT: level {level} has no coverage in the registry")
            assert isinstance(coverage, int)  # noqa: S101 - narrows for mypy
            return coverage
    raise EntitlementError("BHYT: the registry has no level/coverage table")
