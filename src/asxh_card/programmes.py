"""Programmes and entitlements: the programme registry and what an entitlement puts on a card.

A card bundles entitlements (DESIGN.md §2). Each names a programme (TGXH, GN, NCC, BHXH, BHYT,
BHTN, ...), a validity window, a few attributes and its own status-list entry. Which programmes
exist and which attributes each may carry is *data*: ``asxh_card/data/programmes.json``, loaded
by :class:`ProgrammeRegistry`. Adding a programme (children, vocational training) is a data
change; no code here names a programme except :func:`bhyt_coverage_for_level`.

The registry also lists fields that may **never** go on a card. A card is read by whoever it is
shown to, so it says *what* someone is entitled to, never *why*: the reason for social assistance,
a disability, HIV status, drug rehabilitation, an NCC category or a BHYT group code reveal health
or poverty, which Law 91/2025/QH15 and Decree 356/2025/ND-CP (in force 1 Jan 2026) treat as
sensitive personal data; identity numbers and the address stay off the card too.
:func:`check_card_fields` enforces that over a whole claim set.

The wire form of an entitlement (:meth:`Entitlement.to_claim`, docs/wire-format.md) is
positional, in the order the registry lists the programme's attributes::

    ["BHYT", "2026-01-01", "2026-12-31", 2, 100, "01-001"]

Its status entry is not written: it follows from the card's (``asxh_card.card.status_block``).

Everything raised on purpose here is an :class:`~asxh_card.errors.EntitlementError`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeGuard

from asxh_card._core import strictjson
from asxh_card._core.statuslist import MAX_STATUS_URI_LENGTH, StatusRef
from asxh_card._core.timeutil import ISODateError, parse_iso_date
from asxh_card.errors import EntitlementError

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable

__all__ = [
    "AttributeSpec",
    "AttributeType",
    "AttributeValue",
    "Entitlement",
    "EntitlementState",
    "LookupConstraint",
    "Programme",
    "ProgrammeRegistry",
    "bhyt_coverage_for_level",
    "check_card_fields",
    "check_status_fields",
    "check_status_uri",
    "status_ref_from_claim",
]

#: A value an entitlement attribute may take on a card.
AttributeValue: TypeAlias = int | str

#: The only registry format this module reads.
REGISTRY_VERSION: Final = 1

# Programme codes and attribute keys are ASCII and short: they are repeated on every card and
# cost QR space (DESIGN.md §3 size budget).
_PROGRAMME_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,15}")
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")
_ENUM_VALUE_MAX = 32
_STR_MAX_LENGTH = 200
_TEXT_MAX = 2000
# Printable ASCII without spaces: a status-list URI is a plain URL, never an IRI.
_STATUS_URI = re.compile(r"https?://[\x21-\x7e]+")
_REGISTRY_RESOURCE: Final = "programmes.json"


def _show(text: str, limit: int = 40, *, tail: bool = False) -> str:
    """Quote a key or code from the input, cut so that hostile input cannot flood the logs.

    ``tail`` keeps the end (for paths, whose last part names the offending key).
    """
    if len(text) > limit:
        text = "..." + text[-limit:] if tail else text[:limit] + "..."
    return repr(text)


@functools.lru_cache(maxsize=4096)
def _normalise_key(key: str) -> str:
    """Fold a field name to the form compared with the never-on-card list.

    NFKC folds full-width and compatibility letters, casefold folds case, and dropping every
    non-alphanumeric character makes ``disability_kind``, ``Disability-Kind`` and
    ``disabilityKind`` the same name: a sensitive field must not slip through by spelling.
    """
    folded = unicodedata.normalize("NFKC", key).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """isinstance(value, Mapping), with a fast path for dict: ABC checks dominate card parsing."""
    return type(value) is dict or isinstance(value, Mapping)


def _is_int(value: object) -> bool:
    """Tell whether ``value`` is a JSON integer (``bool`` is an ``int`` only in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


class AttributeType(StrEnum):
    """The type of a programme attribute on a card."""

    INT = "int"
    STR = "str"
    ENUM = "enum"


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """The schema of one attribute a programme may put on a card.

    ``minimum``/``maximum`` apply to ``int``; ``values`` to ``enum``; ``pattern`` (matched in
    full, ASCII digits only) and ``max_length`` to ``str``.
    """

    name: str
    type: AttributeType
    required: bool
    minimum: int | None = None
    maximum: int | None = None
    values: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    max_length: int | None = None
    description: str = ""

    def check(self, programme: str, value: object) -> None:
        """Raise :class:`EntitlementError` unless ``value`` satisfies this schema.

        Messages name the programme, the attribute and the rule but never echo the value:
        an amount or a household reference is personal data and error messages end in logs.
        """
        where = f"{programme}: attribute {self.name!r}"
        if self.type is AttributeType.INT:
            if not _is_int(value):
                raise EntitlementError(f"{where} must be an integer, got {_type_name(value)}")
            assert isinstance(value, int)  # noqa: S101 - narrows for mypy; _is_int checked it
            if self.minimum is not None and value < self.minimum:
                raise EntitlementError(f"{where} must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise EntitlementError(f"{where} must be at most {self.maximum}")
            return
        if not isinstance(value, str):
            raise EntitlementError(f"{where} must be a string, got {_type_name(value)}")
        if self.type is AttributeType.ENUM:
            if value not in self.values:
                allowed = ", ".join(repr(v) for v in self.values)
                raise EntitlementError(f"{where} must be one of {allowed}")
            return
        if self.max_length is not None and len(value) > self.max_length:
            raise EntitlementError(f"{where} is longer than {self.max_length} characters")
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            raise EntitlementError(f"{where} does not match the pattern {self.pattern.pattern}")


@dataclass(frozen=True, slots=True, eq=False)
class LookupConstraint:
    """A cross-attribute rule: attribute ``value`` must equal ``table[attributes[key]]``.

    BHYT uses it to tie the coverage percentage to the benefit level (domain-vn §3.2, Table E),
    so a card can never say "level 4, 100 %".
    """

    key: str
    value: str
    table: Mapping[AttributeValue, AttributeValue]
    note: str = ""

    def check(self, programme: str, attributes: Mapping[str, object]) -> None:
        """Raise :class:`EntitlementError` if the pair in ``attributes`` breaks the table."""
        if self.key not in attributes or self.value not in attributes:
            return  # a missing required attribute is reported by the schema check
        key_value = attributes[self.key]
        if not isinstance(key_value, int | str) or key_value not in self.table:
            raise EntitlementError(
                f"{programme}: attribute {self.key!r} has no entry in the {self.value!r} table"
            )
        expected = self.table[key_value]
        actual = attributes[self.value]
        if type(actual) is not type(expected) or actual != expected:
            raise EntitlementError(
                f"{programme}: attribute {self.value!r} must be {expected} for "
                f"{self.key} {key_value} (rule: {self.value} follows {self.key})"
            )


@dataclass(frozen=True, slots=True, eq=False)
class Programme:
    """One programme of the registry: who owns it, on what legal basis, and its card schema."""

    code: str
    name_vi: str
    name_en: str
    owner: str
    legal_basis: str
    attributes: Mapping[str, AttributeSpec]
    constraints: tuple[LookupConstraint, ...] = ()
    operator: str = ""
    notes: str = ""

    def check_attributes(self, attributes: Mapping[str, object]) -> None:
        """Check ``attributes`` against the schema: known keys, valid values, required present."""
        for key, value in attributes.items():
            spec = self.attributes.get(key)
            if spec is None:
                allowed = ", ".join(self.attributes) or "none"
                raise EntitlementError(
                    f"{self.code}: unknown attribute {_show(key)} (allowed: {allowed})"
                )
            spec.check(self.code, value)
        for spec in self.attributes.values():
            if spec.required and spec.name not in attributes:
                raise EntitlementError(f"{self.code}: required attribute {spec.name!r} is missing")
        for constraint in self.constraints:
            constraint.check(self.code, attributes)


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
    _check_keys(spec, where, ("type", "required", *_SPEC_KEYS[kind]), ("description",))
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
    return AttributeSpec(
        name, kind, required, pattern=compiled, max_length=max_length, description=description
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
        ("operator", "notes", "constraints"),
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
                    "(sensitive or identifying data; Law 91/2025/QH15, Decree 356/2025/ND-CP)"
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
            raise EntitlementError(f"unknown programme {_show(code)} (known: {known})")
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


# --------------------------------------------------------------------------------------------
# Status references and never-on-card fields


# URIs that passed the check: a verifier sees the same few status-list URIs on every card.
# Bounded so that a stream of forged cards with random URIs cannot grow it without limit.
_CHECKED_URIS: set[str] = set()
_CHECKED_URIS_MAX = 1024


def check_status_fields(idx: object, uri: object) -> tuple[int, str]:
    """Check a status reference's ``idx`` and ``uri`` (see :func:`status_ref_from_claim`)."""
    if not _is_int(idx):
        raise EntitlementError(f"status reference: 'idx' must be an integer, got {_type_name(idx)}")
    assert isinstance(idx, int)  # noqa: S101 - narrows for mypy
    if idx < 0:
        raise EntitlementError("status reference: 'idx' must not be negative")
    if not isinstance(uri, str):
        raise EntitlementError(f"status reference: 'uri' must be a string, got {_type_name(uri)}")
    return idx, check_status_uri(uri)


def check_status_uri(uri: str) -> str:
    """Return ``uri`` if it may name a status list (http(s), printable ASCII, at most 200)."""
    if uri in _CHECKED_URIS:
        return uri
    if len(uri) > MAX_STATUS_URI_LENGTH:
        raise EntitlementError(
            f"status reference: 'uri' is longer than {MAX_STATUS_URI_LENGTH} characters"
        )
    if _STATUS_URI.fullmatch(uri) is None:
        raise EntitlementError(
            "status reference: 'uri' must be an https:// or http:// URL of printable ASCII"
        )
    if len(_CHECKED_URIS) < _CHECKED_URIS_MAX:
        _CHECKED_URIS.add(uri)
    return uri


def status_ref_from_claim(obj: object) -> StatusRef:
    """Parse ``{"status_list": {"idx": N, "uri": "https://..."}}`` strictly into a StatusRef.

    Exactly those keys; ``idx`` a non-negative integer (not a boolean); ``uri`` an ``https://``
    or ``http://`` URL of at most 200 characters (plain http is acceptable because the status
    list token is itself signed). Anything else raises :class:`EntitlementError`.
    """
    if not _is_mapping(obj) or len(obj) != 1 or "status_list" not in obj:
        raise EntitlementError("status reference must be exactly {'status_list': {...}}")
    inner = obj["status_list"]
    if not _is_mapping(inner) or len(inner) != 2 or "idx" not in inner or "uri" not in inner:
        raise EntitlementError("status reference: 'status_list' must have exactly 'idx' and 'uri'")
    idx, uri = check_status_fields(inner["idx"], inner["uri"])
    return StatusRef(idx=idx, uri=uri)


def check_card_fields(
    mapping: Mapping[str, object],
    *,
    path: str = "",
    registry: ProgrammeRegistry | None = None,
) -> None:
    """Refuse any key, at any depth, that is on the never-on-card list.

    Walks nested mappings and lists (iteratively, so deep input cannot exhaust the stack) and
    compares every key case-insensitively (see :meth:`ProgrammeRegistry.is_never_on_card`).
    ``path`` prefixes the location in the message, e.g. ``"claims"`` gives
    ``claims.ent[0].a.Reason``. Data minimisation: Law 91/2025/QH15, Decree 356/2025/ND-CP.
    """
    reg = ProgrammeRegistry.default() if registry is None else registry
    stack: list[tuple[object, str]] = [(mapping, path)]
    seen: set[int] = set()
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue  # a shared or cyclic container is checked once
        if isinstance(node, Mapping):
            seen.add(id(node))
            for key, value in node.items():
                name = key if isinstance(key, str) else repr(key)
                here = f"{where}.{name}" if where else name
                if isinstance(key, str) and reg.is_never_on_card(key):
                    raise EntitlementError(
                        f"field {_show(here, 120, tail=True)} may never appear on a card "
                        "(sensitive or identifying data; Law 91/2025/QH15, Decree 356/2025/ND-CP)"
                    )
                stack.append((value, here))
        elif isinstance(node, list | tuple):
            seen.add(id(node))
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))


# --------------------------------------------------------------------------------------------
# Entitlements


class EntitlementState(StrEnum):
    """Where an entitlement stands on a given day.

    :meth:`Entitlement.state_at` returns only the first three; the verifier sets ``suspended``
    and ``revoked`` from the entitlement's status-list entry.
    """

    ACTIVE = "active"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


def _empty_attributes() -> Mapping[str, AttributeValue]:
    return MappingProxyType({})


def _claim_date(value: object, key: str) -> date:
    try:
        return parse_iso_date(value)
    except ISODateError as exc:
        raise EntitlementError(f"entitlement claim: {key!r} {exc}") from None


def _check_day(value: object, name: str, programme: str) -> None:
    # A datetime is a date subclass, but comparing one with a date raises TypeError and its
    # isoformat() is not the wire form: the card's dates are Vietnamese calendar dates.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise EntitlementError(f"{programme}: {name} must be a date, got {_type_name(value)}")


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One programme on a card: what, from when to when, a few attributes, and a status entry.

    ``valid_to`` is inclusive; ``None`` means open-ended (bounded by the card's ``exp``).
    ``attributes`` is copied into a read-only mapping. Construction does not validate: call
    :meth:`validate` (``from_claim`` does).
    """

    programme: str
    valid_from: date
    valid_to: date | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=_empty_attributes, hash=False)
    status: StatusRef | None = None

    def __post_init__(self) -> None:
        """Freeze the attributes so a validated entitlement cannot change afterwards."""
        # Typed as object: these guard callers that ignore the annotations, which the
        # registry lookups below would otherwise turn into TypeError or KeyError.
        programme: object = self.programme
        attributes: object = self.attributes
        if not isinstance(programme, str):
            raise EntitlementError(f"programme must be a string, got {_type_name(programme)}")
        if not _is_mapping(attributes) or not all(isinstance(k, str) for k in attributes):
            raise EntitlementError(f"{programme}: attributes must be a mapping with string keys")
        object.__setattr__(self, "attributes", MappingProxyType(dict(attributes)))

    def with_status(self, status: StatusRef) -> Entitlement:
        """A copy of the entitlement with ``status`` as its status entry.

        ``dataclasses.replace`` would run ``__post_init__`` again and copy the attributes a
        second time; they are already a read-only mapping, so the copy shares them. The card
        model gives every entitlement its entry this way, on each issue and each parse.
        """
        copy = object.__new__(Entitlement)
        for name in ("programme", "valid_from", "valid_to", "attributes"):
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "status", status)
        return copy

    def validate(self, registry: ProgrammeRegistry | None = None) -> None:
        """Raise :class:`EntitlementError` unless this entitlement may go on a card.

        Checks: the programme is in the registry; the dates are dates and ``valid_to`` is not
        before ``valid_from``; the status reference is well formed; no attribute is on the
        never-on-card list; every attribute is in the programme's schema and valid; required
        attributes are present; cross-attribute rules (BHYT level/coverage) hold.
        """
        reg = ProgrammeRegistry.default() if registry is None else registry
        programme = reg.get(self.programme)
        code = programme.code
        _check_day(self.valid_from, "valid_from", code)
        if self.valid_to is not None:
            _check_day(self.valid_to, "valid_to", code)
            if self.valid_to < self.valid_from:
                raise EntitlementError(f"{code}: valid_to is before valid_from")
        if self.status is not None:
            if not isinstance(self.status, StatusRef):
                raise EntitlementError(f"{code}: status must be a StatusRef")
            check_status_fields(self.status.idx, self.status.uri)
        reg.check_entitlement_attributes(programme, self.attributes)

    def state_at(self, day: date) -> EntitlementState:
        """``active``, ``not_yet_valid`` or ``expired`` on ``day`` (both ends inclusive).

        Pass a Vietnamese calendar date (``asxh_card._core.timeutil.vn_date``), not a datetime.
        """
        _check_day(day, "day", self.programme)
        if day < self.valid_from:
            return EntitlementState.NOT_YET_VALID
        if self.valid_to is not None and day > self.valid_to:
            return EntitlementState.EXPIRED
        return EntitlementState.ACTIVE

    def to_claim(self, registry: ProgrammeRegistry | None = None) -> list[Any]:
        """Return the compact card wire form (DESIGN.md §3, docs/wire-format.md)::

            [programme, from, to | null, attribute values...]

        Attribute values are positional, in the order the registry lists the programme's
        attributes; an absent optional attribute is ``null`` and trailing absent ones are left
        out. The status entry is not written here: it follows from the card's status block.
        """
        reg = ProgrammeRegistry.default() if registry is None else registry
        programme = reg.get(self.programme)
        unknown = [k for k in self.attributes if k not in programme.attributes]
        if unknown:
            raise EntitlementError(
                f"{programme.code}: unknown attribute {_show(unknown[0])} cannot be encoded"
            )
        values = [self.attributes.get(name) for name in programme.attributes]
        while values and values[-1] is None:
            values.pop()
        return [
            self.programme,
            self.valid_from.isoformat(),
            None if self.valid_to is None else self.valid_to.isoformat(),
            *values,
        ]

    @classmethod
    def from_claim(
        cls,
        obj: object,
        *,
        registry: ProgrammeRegistry | None = None,
        status: StatusRef | None = None,
    ) -> Entitlement:
        """Parse and validate the compact wire form strictly (see :meth:`to_claim`).

        Refuses anything but a JSON array ``[programme, from, to | null, values...]``, non-ISO
        dates, booleans or floats for integers, more values than the programme has attributes,
        a trailing ``null`` (one card, one encoding), and anything :meth:`validate` refuses.
        ``status`` is the entry the card's status block gives this entitlement. Raises only
        :class:`EntitlementError`, whatever JSON-like value it is given.
        """
        if type(obj) is not list:
            raise EntitlementError(f"entitlement claim must be a JSON array, got {_type_name(obj)}")
        if len(obj) < 3:
            raise EntitlementError("entitlement claim: needs [programme, from, to | null, ...]")
        programme_code, raw_from, raw_to, *values = obj
        if not isinstance(programme_code, str):
            raise EntitlementError(
                f"entitlement claim: the programme must be a string, got "
                f"{_type_name(programme_code)}"
            )
        reg = ProgrammeRegistry.default() if registry is None else registry
        programme = reg.get(programme_code)
        valid_from = _claim_date(raw_from, "from")
        valid_to = None if raw_to is None else _claim_date(raw_to, "to")
        names = tuple(programme.attributes)
        if len(values) > len(names):
            raise EntitlementError(
                f"{programme.code}: {len(values)} attribute values for {len(names)} attributes"
            )
        if values and values[-1] is None:
            raise EntitlementError(f"{programme.code}: trailing null attribute value")
        attributes: dict[str, AttributeValue] = {}
        for name, value in zip(names, values, strict=False):
            if value is None:
                continue
            if not (_is_int(value) or isinstance(value, str)):
                raise EntitlementError(
                    f"{programme.code}: attribute {_show(name)} must be an integer or a string, "
                    f"got {_type_name(value)}"
                )
            attributes[name] = value
        entitlement = cls(programme_code, valid_from, valid_to, attributes, status)
        entitlement.validate(reg)
        return entitlement
