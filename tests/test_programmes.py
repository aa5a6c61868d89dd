"""Tests of the programme registry, entitlements and the never-on-card rule."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asxh_card._core.statuslist import StatusRef
from asxh_card.errors import EntitlementError
from asxh_card.programmes import (
    AttributeType,
    Entitlement,
    EntitlementState,
    Programme,
    ProgrammeRegistry,
    bhyt_coverage_for_level,
    check_card_fields,
    status_ref_from_claim,
)

if TYPE_CHECKING:
    from pathlib import Path

URI = "https://status.asxh.gov.vn/lists/1"
START = date(2026, 1, 1)
END = date(2026, 12, 31)

VALID_ATTRIBUTES: dict[str, dict[str, int | str]] = {
    "TGXH": {"amount": 750_000},
    "GN": {"kind": "near_poor", "household": "HN-0123"},
    "NCC": {"amount": 2_789_000},
    "BHXH": {"kind": "pensioner"},
    "BHYT": {"level": 2, "coverage": 100, "facility": "01-001"},
    "BHTN": {"amount": 4_200_000},
}


def bundled() -> dict[str, Any]:
    """The bundled registry file as a fresh, mutable JSON object."""
    text = resources.files("asxh_card.data").joinpath("programmes.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def programme_obj(data: dict[str, Any], code: str) -> dict[str, Any]:
    for item in data["programmes"]:
        if item["code"] == code:
            result: dict[str, Any] = item
            return result
    raise AssertionError(code)


def ent(programme: str, **attributes: int | str) -> Entitlement:
    return Entitlement(programme, START, END, attributes)


def bhyt_claim(**overrides: Any) -> list[Any]:
    """The compact wire form [programme, from, to, level, coverage, facility], with overrides."""
    fields: dict[str, Any] = {
        "p": "BHYT",
        "from": "2026-01-01",
        "to": "2026-12-31",
        "level": 2,
        "coverage": 100,
        "facility": "01-001",
    }
    fields.update(overrides)
    return list(fields.values())


# --- registry -------------------------------------------------------------------------------


def test_default_registry_lists_the_programmes() -> None:
    """The bundled registry holds TGXH, GN, NCC, BHXH, BHYT, BHTN and HTXH in that order."""
    registry = ProgrammeRegistry.default()
    assert registry.codes == ("TGXH", "GN", "NCC", "BHXH", "BHYT", "BHTN", "HTXH")
    assert len(registry) == 7
    assert [p.code for p in registry] == list(registry.codes)
    assert "BHYT" in registry
    assert "XX" not in registry
    assert 5 not in registry
    assert repr(registry) == "ProgrammeRegistry(TGXH, GN, NCC, BHXH, BHYT, BHTN, HTXH)"


def test_default_registry_is_cached() -> None:
    """ProgrammeRegistry.default() loads the file once and returns the same object."""
    assert ProgrammeRegistry.default() is ProgrammeRegistry.default()


def test_programme_metadata_is_loaded() -> None:
    """Owners, names, legal basis and the attribute schemas come from the file."""
    registry = ProgrammeRegistry.default()
    owners = {p.code: p.owner for p in registry}
    assert owners["TGXH"] == "MOH"
    assert owners["NCC"] == "MOHA"
    assert owners["BHTN"] == "MOHA"
    assert owners["BHXH"] == owners["BHYT"] == "VSS/MOF"
    gn = registry.get("GN")
    assert gn.notes
    assert gn.attributes["kind"].type is AttributeType.ENUM
    assert gn.attributes["kind"].values == ("poor", "near_poor")
    assert not gn.attributes["household"].required
    bhyt = registry.get("BHYT")
    assert isinstance(bhyt, Programme)
    assert bhyt.name_vi == "Bảo hiểm y tế"
    assert "51/2024/QH15" in bhyt.legal_basis
    assert bhyt.attributes["level"].minimum == 1
    assert bhyt.attributes["level"].maximum == 5
    assert registry.never_on_card_note


def test_get_unknown_programme_names_it() -> None:
    """get() of an unknown code raises EntitlementError naming the code and the known ones."""
    with pytest.raises(EntitlementError, match=r"unknown programme 'XYZ' \(known: TGXH, GN"):
        ProgrammeRegistry.default().get("XYZ")


def test_never_on_card_list_is_bundled() -> None:
    """The bundled never-on-card list holds the sensitive and identifying fields."""
    never = set(ProgrammeRegistry.default().never_on_card)
    assert {"reason", "disability_kind", "hiv_status", "bhyt_group", "pin", "cccd"} <= never
    assert {"address", "phone", "ethnicity", "religion", "ncc_category"} <= never


def test_from_path_loads_a_file(tmp_path: Path) -> None:
    """from_path reads and validates a registry file."""
    path = tmp_path / "reg.json"
    path.write_text(json.dumps(bundled()), encoding="utf-8")
    assert ProgrammeRegistry.from_path(path).codes == ProgrammeRegistry.default().codes
    assert ProgrammeRegistry.from_path(str(path)).codes == ProgrammeRegistry.default().codes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not valid UTF-8 JSON"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (
            b'{"version": 1, "version": 1}',
            (
                r"^programme registry: .*reg\.json: not valid UTF-8 JSON "
                r"\(duplicate member name\(s\): version\)$"
            ),
        ),
        (
            b'{"version": NaN}',
            r"^programme registry: .*reg\.json: not valid UTF-8 JSON \(NaN is not JSON\)$",
        ),
        (b'{"version": 9007199254740993}', r"not valid UTF-8 JSON \(integer outside the safe"),
        (b"\xef\xbb\xbf{}", r"not valid UTF-8 JSON \(byte-order mark"),
        (b"[]", "top level: must be a JSON object"),
    ],
)
def test_from_path_rejects_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    """from_path reads strict JSON only (duplicates, NaN, I-JSON range, BOM): EntitlementError."""
    path = tmp_path / "reg.json"
    path.write_bytes(content)
    with pytest.raises(EntitlementError, match=message):
        ProgrammeRegistry.from_path(path)


def test_from_path_missing_file(tmp_path: Path) -> None:
    """A missing registry file is an EntitlementError, not an OSError."""
    with pytest.raises(EntitlementError, match="cannot read the file"):
        ProgrammeRegistry.from_path(tmp_path / "absent.json")


def _mutate(path: str, value: Any) -> dict[str, Any]:
    """The bundled registry with one item replaced (dotted path; '#' deletes)."""
    data = bundled()
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = programme_obj(data, part) if part.isupper() else node[part]
    if value == "#":
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("version", 2, "'version' must be 1"),
        ("version", True, "'version' must be 1"),
        ("extra", 1, "top level: unknown key 'extra'"),
        ("programmes", "#", "missing key 'programmes'"),
        ("programmes", {}, "programmes: must be a list"),
        ("programmes", [], "lists no programme"),
        ("programmes", [1], r"programmes\[0\]: must be a JSON object"),
        ("never_on_card", "reason", "never_on_card: must be a list of strings"),
        ("never_on_card", ["reason", "--"], "entries must be non-empty names"),
        ("never_on_card_note", 5, "'never_on_card_note' must be a non-empty string"),
        ("BHYT.code", "bhyt", "'code' must be 2-16 characters"),
        ("BHYT.name_vi", " ", "'name_vi' must be a non-empty string"),
        ("BHYT.notes", "x" * 2001, "'notes' is longer than 2000"),
        ("BHYT.colour", "red", "programme BHYT: unknown key 'colour'"),
        ("BHYT.owner", "#", "missing key 'owner'"),
        ("BHYT.attributes", [], "programme BHYT.attributes: must be a JSON object"),
        ("BHYT.attributes.Level", {"type": "int"}, "attribute name 'Level' must be"),
        ("BHYT.attributes.level.type", "float", "'type' must be one of 'int', 'str', 'enum'"),
        ("BHYT.attributes.level.required", 1, "'required' must be true or false"),
        ("BHYT.attributes.level.min", "1", "'min' must be an integer"),
        ("BHYT.attributes.level.max", 0, "'min' is greater than 'max'"),
        ("BHYT.attributes.level.values", ["a"], "unknown key 'values'"),
        ("BHYT.attributes.level.max", "#", "missing key 'max'"),
        ("BHYT.attributes.facility.max_length", 0, "'max_length' must be between 1 and 200"),
        ("BHYT.attributes.facility.pattern", "", "'pattern' must be a non-empty string"),
        ("BHYT.attributes.facility.pattern", "([", "not a valid regular expression"),
        ("GN.attributes.kind.values", [], "'values' must be a non-empty list"),
        ("GN.attributes.kind.values", ["poor", 1], "'values' must be a non-empty list"),
        ("GN.attributes.kind.values", ["poor", "poor"], "'values' has duplicates"),
        (
            "GN.attributes.reason",
            {"type": "enum", "required": False, "values": ["x"]},
            "attribute 'reason' is on the never_on_card list",
        ),
        ("BHYT.constraints", {}, "'constraints' must be a list"),
        ("BHYT.constraints", [5], r"constraints\[0\]: must be a JSON object"),
    ],
)
def test_registry_validation_errors(path: str, value: Any, message: str) -> None:
    """from_mapping refuses each malformed part of a registry with a message naming it."""
    with pytest.raises(EntitlementError, match=message) as info:
        ProgrammeRegistry.from_mapping(_mutate(path, value))
    assert str(info.value).startswith("programme registry: ")


def _bhyt_constraint(**changes: Any) -> dict[str, Any]:
    data = bundled()
    constraint = programme_obj(data, "BHYT")["constraints"][0]
    constraint.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rule": "range"}, "'rule' must be 'lookup'"),
        ({"key": "grade"}, "'key' must name an attribute"),
        ({"value": "level"}, "'value' must name another attribute"),
        ({"table": {}}, "'table' is empty"),
        ({"table": []}, "table: must be a JSON object"),
        ({"table": {"one": 100}}, "table key 'one' is not an integer"),
        ({"table": {"6": 100}}, r"table entry '6': .*must be at most 5"),
        ({"table": {"1": 101}}, r"table entry '1': .*must be at most 100"),
        ({"table": {"1": "100"}}, r"table entry '1': .*must be an integer, got a str"),
        ({"extra": 1}, "unknown key 'extra'"),
    ],
)
def test_registry_constraint_validation(changes: dict[str, Any], message: str) -> None:
    """A malformed lookup constraint (rule, keys, table) is refused when the registry loads."""
    with pytest.raises(EntitlementError, match=message):
        ProgrammeRegistry.from_mapping(_bhyt_constraint(**changes))


def test_registry_refuses_duplicate_programme_codes() -> None:
    """Two programmes with the same code are refused."""
    data = bundled()
    data["programmes"].append(copy.deepcopy(data["programmes"][0]))
    with pytest.raises(EntitlementError, match="programme TGXH: duplicate code"):
        ProgrammeRegistry.from_mapping(data)


def test_seventh_programme_needs_only_data() -> None:
    """A children's programme added in data alone validates, round-trips and checks its schema."""
    data = bundled()
    data["programmes"].append(
        {
            "code": "TE",
            "name_vi": "Trợ cấp trẻ em",
            "name_en": "Child benefit",
            "owner": "MOH",
            "legal_basis": "hypothetical",
            "attributes": {
                "amount": {"type": "int", "required": True, "min": 1, "max": 10_000_000},
                "band": {"type": "enum", "required": False, "values": ["0-5", "6-15"]},
                "school": {
                    "type": "str",
                    "required": False,
                    "pattern": "^S[0-9]{4}$",
                    "max_length": 5,
                },
            },
        }
    )
    registry = ProgrammeRegistry.from_mapping(data)
    assert registry.codes[-1] == "TE"
    child = Entitlement("TE", START, None, {"amount": 500_000, "band": "0-5", "school": "S0001"})
    child.validate(registry)
    assert Entitlement.from_claim(child.to_claim(registry), registry=registry) == child
    with pytest.raises(EntitlementError, match="TE: attribute 'band' must be one of"):
        Entitlement("TE", START, None, {"amount": 1, "band": "16+"}).validate(registry)
    with pytest.raises(EntitlementError, match="unknown programme 'TE'"):
        child.validate()  # the bundled registry does not know it


def test_programme_without_attributes_in_data() -> None:
    """A programme may declare no attributes; then any attribute is unknown."""
    data = bundled()
    data["programmes"].append(
        {
            "code": "DN",
            "name_vi": "x",
            "name_en": "x",
            "owner": "MOH",
            "legal_basis": "x",
            "attributes": {},
        }
    )
    registry = ProgrammeRegistry.from_mapping(data)
    Entitlement("DN", START).validate(registry)
    with pytest.raises(EntitlementError, match=r"DN: unknown attribute 'x' \(allowed: none\)"):
        Entitlement("DN", START, None, {"x": 1}).validate(registry)


def test_lookup_on_enum_key_and_optional_attributes() -> None:
    """A lookup keyed by an enum works, and is skipped when an optional side is absent."""
    data = bundled()
    data["programmes"].append(
        {
            "code": "HOC",
            "name_vi": "Hỗ trợ học nghề",
            "name_en": "Vocational training support",
            "owner": "MOET",
            "legal_basis": "hypothetical",
            "attributes": {
                "tier": {"type": "enum", "required": False, "values": ["a", "b"]},
                "rate": {"type": "int", "required": False, "min": 0, "max": 100},
            },
            "constraints": [
                {"rule": "lookup", "key": "tier", "value": "rate", "table": {"a": 50, "b": 70}}
            ],
        }
    )
    registry = ProgrammeRegistry.from_mapping(data)
    Entitlement("HOC", START, None, {"tier": "b", "rate": 70}).validate(registry)
    Entitlement("HOC", START, None, {"tier": "b"}).validate(registry)
    Entitlement("HOC", START).validate(registry)
    with pytest.raises(EntitlementError, match="HOC: attribute 'rate' must be 50 for tier a"):
        Entitlement("HOC", START, None, {"tier": "a", "rate": 70}).validate(registry)


# --- valid entitlements ---------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(VALID_ATTRIBUTES))
def test_valid_example_per_programme(code: str) -> None:
    """Each programme's typical entitlement validates and round-trips through its claim."""
    entitlement = Entitlement(code, START, END, VALID_ATTRIBUTES[code], StatusRef(3, URI))
    entitlement.validate()
    assert Entitlement.from_claim(entitlement.to_claim(), status=StatusRef(3, URI)) == entitlement


def test_optional_household_may_be_left_out() -> None:
    """GN's household reference is optional."""
    ent("GN", kind="poor").validate()


@pytest.mark.parametrize("facility", ["01-001", "79123", "96-999"])
def test_bhyt_facility_forms(facility: str) -> None:
    """The BHYT facility code is 2 + 3 digits with an optional hyphen."""
    ent("BHYT", level=4, coverage=80, facility=facility).validate()


@pytest.mark.parametrize(("level", "coverage"), [(1, 100), (2, 100), (3, 95), (4, 80), (5, 100)])
def test_bhyt_coverage_for_level(level: int, coverage: int) -> None:
    """bhyt_coverage_for_level follows Table E and each pair validates on a card."""
    assert bhyt_coverage_for_level(level) == coverage
    ent("BHYT", level=level, coverage=coverage, facility="79123").validate()


@pytest.mark.parametrize("level", [0, 6, True, "2"])
def test_bhyt_coverage_for_bad_level(level: Any) -> None:
    """bhyt_coverage_for_level refuses levels outside 1-5 and non-integers."""
    with pytest.raises(EntitlementError, match="BHYT: attribute 'level'"):
        bhyt_coverage_for_level(level)


def test_bhyt_coverage_table_gaps_in_custom_registry() -> None:
    """A registry whose table skips a level, or has no table, says so."""
    registry = ProgrammeRegistry.from_mapping(_bhyt_constraint(table={"1": 100}))
    with pytest.raises(EntitlementError, match="level 2 has no coverage"):
        bhyt_coverage_for_level(2, registry=registry)
    with pytest.raises(EntitlementError, match="'level' has no entry in the 'coverage' table"):
        ent("BHYT", level=2, coverage=100, facility="79123").validate(registry)
    data = bundled()
    del programme_obj(data, "BHYT")["constraints"]
    with pytest.raises(EntitlementError, match="no level/coverage table"):
        bhyt_coverage_for_level(1, registry=ProgrammeRegistry.from_mapping(data))


# --- attribute rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "attributes", "message"),
    [
        ("TGXH", {"amount": 0}, "TGXH: attribute 'amount' must be at least 1"),
        ("TGXH", {"amount": 100_000_001}, "TGXH: attribute 'amount' must be at most 100000000"),
        ("TGXH", {"amount": True}, "TGXH: attribute 'amount' must be an integer, got a boolean"),
        ("TGXH", {"amount": 1.5}, "TGXH: attribute 'amount' must be an integer, got a float"),
        ("TGXH", {"amount": "500000"}, "TGXH: attribute 'amount' must be an integer, got a str"),
        ("TGXH", {}, "TGXH: required attribute 'amount' is missing"),
        ("TGXH", {"amount": 1, "level": 2}, r"TGXH: unknown attribute 'level' \(allowed: amount\)"),
        ("NCC", {"amount": -5}, "NCC: attribute 'amount' must be at least 1"),
        ("BHTN", {"amount": None}, "BHTN: attribute 'amount' must be an integer, got null"),
        ("GN", {"kind": "rich"}, "GN: attribute 'kind' must be one of 'poor', 'near_poor'"),
        ("GN", {"kind": 1}, "GN: attribute 'kind' must be a string, got a int"),
        ("GN", {"household": "H1"}, "GN: required attribute 'kind' is missing"),
        ("GN", {"kind": "poor", "household": "H 1"}, "GN: attribute 'household' does not match"),
        ("GN", {"kind": "poor", "household": ""}, "GN: attribute 'household' does not match"),
        ("GN", {"kind": "poor", "household": "H" * 21}, "'household' is longer than 20"),
        ("BXHX", {"kind": "pensioner"}, "unknown programme 'BXHX'"),
        ("BHXH", {"kind": "Pensioner"}, "BHXH: attribute 'kind' must be one of"),
        ("BHYT", {"level": 6, "coverage": 100, "facility": "01-001"}, "'level' must be at most 5"),
        ("BHYT", {"level": 0, "coverage": 100, "facility": "01-001"}, "'level' must be at least 1"),
        ("BHYT", {"level": 2, "coverage": 100}, "BHYT: required attribute 'facility' is missing"),
        ("BHYT", {"level": 2, "facility": "01-001"}, "required attribute 'coverage' is missing"),
        ("BHYT", {"level": 2, "coverage": 101, "facility": "01-001"}, "'coverage' must be at most"),
        ("BHYT", {"level": 2, "coverage": 100, "facility": "1-001"}, "'facility' does not match"),
        ("BHYT", {"level": 2, "coverage": 100, "facility": "01-001\n"}, "is longer than 6"),
        ("BHYT", {"level": 2, "coverage": 100, "facility": "01001\n"}, "'facility' does not match"),
        # Arabic-Indic digits are \d in Python's default Unicode regexes; the registry uses ASCII.
        (
            "BHYT",
            {"level": 2, "coverage": 100, "facility": "\u0660\u0661\u0660\u0660\u0661"},
            "'facility' does not match",
        ),
    ],
)
def test_attribute_rules(code: str, attributes: dict[str, Any], message: str) -> None:
    """Each attribute rule fails with a message naming the programme, attribute and rule."""
    with pytest.raises(EntitlementError, match=message):
        Entitlement(code, START, END, attributes).validate()


def test_error_messages_do_not_echo_values() -> None:
    """Out-of-range amounts and bad household references are not copied into messages."""
    with pytest.raises(EntitlementError) as info:
        ent("TGXH", amount=123_456_789).validate()
    assert "123456789" not in str(info.value)
    with pytest.raises(EntitlementError) as info:
        ent("GN", kind="poor", household="SECRET HH").validate()
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(("level", "coverage"), [(3, 100), (4, 95), (1, 80), (5, 95), (2, 80)])
def test_bhyt_level_coverage_mismatch(level: int, coverage: int) -> None:
    """A BHYT coverage that does not match the level's Table E percentage is refused."""
    expected = bhyt_coverage_for_level(level)
    with pytest.raises(
        EntitlementError, match=f"BHYT: attribute 'coverage' must be {expected} for level {level}"
    ):
        ent("BHYT", level=level, coverage=coverage, facility="01-001").validate()


def test_dates_must_be_ordered_and_plain_dates() -> None:
    """valid_to before valid_from, or datetimes in place of dates, are refused."""
    with pytest.raises(EntitlementError, match="TGXH: valid_to is before valid_from"):
        Entitlement("TGXH", END, START, {"amount": 1}).validate()
    Entitlement("TGXH", START, START, {"amount": 1}).validate()  # one-day entitlement
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(EntitlementError, match="valid_from must be a date, got a datetime"):
        Entitlement("TGXH", moment, None, {"amount": 1}).validate()
    with pytest.raises(EntitlementError, match="valid_to must be a date, got a str"):
        Entitlement("TGXH", START, "2026-12-31", {"amount": 1}).validate()  # type: ignore[arg-type]


def test_status_is_checked_by_validate() -> None:
    """validate() checks the status reference's type, index and URI."""
    with pytest.raises(EntitlementError, match="status must be a StatusRef"):
        Entitlement("TGXH", START, None, {"amount": 1}, {"idx": 1}).validate()  # type: ignore[arg-type]
    with pytest.raises(EntitlementError, match="'idx' must not be negative"):
        Entitlement("TGXH", START, None, {"amount": 1}, StatusRef(-1, URI)).validate()
    with pytest.raises(EntitlementError, match="'uri' must be an https:// or http://"):
        Entitlement("TGXH", START, None, {"amount": 1}, StatusRef(1, "ftp://x")).validate()


def test_constructor_refuses_non_mapping_attributes_and_bad_programme() -> None:
    """Entitlement() refuses a non-string programme and attributes that are not a str-keyed map."""
    with pytest.raises(EntitlementError, match="attributes must be a mapping with string keys"):
        Entitlement("TGXH", START, None, [("amount", 1)])  # type: ignore[arg-type]
    with pytest.raises(EntitlementError, match="attributes must be a mapping with string keys"):
        Entitlement("TGXH", START, None, {1: 1})  # type: ignore[dict-item]
    with pytest.raises(EntitlementError, match="programme must be a string, got a list"):
        Entitlement(["TGXH"], START)  # type: ignore[arg-type]


def test_attributes_are_immutable_copies() -> None:
    """The stored attributes are a read-only copy of the caller's mapping."""
    source: dict[str, int | str] = {"amount": 500_000}
    entitlement = Entitlement("TGXH", START, None, source)
    source["amount"] = 1
    assert entitlement.attributes["amount"] == 500_000
    with pytest.raises(TypeError):
        entitlement.attributes["amount"] = 2  # type: ignore[index]
    assert hash(entitlement) == hash(Entitlement("TGXH", START, None, {"amount": 500_000}))


# --- never on card --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "reason",
        "Reason",
        "REASON",
        "disability_kind",
        "Disability-Kind",
        "disabilityKind",
        "hivStatus",
        "bhyt_group",
        "BHYT_GROUP",
        "\uff52\uff45\uff41\uff53\uff4f\uff4e",
        "cccd",
        "address",
        "ncc_category",
    ],
)
def test_never_on_card_attribute_refused(key: str) -> None:
    """An attribute on the never-on-card list is refused in any case or spelling."""
    with pytest.raises(EntitlementError, match="may never appear on a card") as info:
        Entitlement("TGXH", START, None, {"amount": 1, key: "x"}).validate()
    assert str(info.value).startswith("TGXH: attribute ")


def test_claim_cannot_carry_a_field_outside_the_schema() -> None:
    """Positional values name only schema attributes: an extra (e.g. sensitive) value is refused."""
    with pytest.raises(EntitlementError, match="4 attribute values for 3 attributes"):
        Entitlement.from_claim([*bhyt_claim(), "HN"])


def test_check_card_fields_walks_nested_structures() -> None:
    """check_card_fields finds a never-on-card key at any depth, in mappings and lists."""
    claims: dict[str, Any] = {
        "sub": "001234567890",
        "name": "Nguyễn Văn A",
        "ent": [bhyt_claim(), {"p": "TGXH", "from": "2026-01-01", "a": {"amount": 1}}],
    }
    check_card_fields(claims)
    claims["ent"][1]["a"]["Reason"] = "disability"
    with pytest.raises(EntitlementError, match=r"field 'ent\[1\]\.a\.Reason' may never appear"):
        check_card_fields(claims)
    with pytest.raises(EntitlementError, match=r"field 'claims\.ent\[1\]\.a\.Reason'"):
        check_card_fields(claims, path="claims")


@pytest.mark.parametrize(
    "claims",
    [
        {"guardian": {"sub": "1", "Address": "Hà Nội"}},
        {"x": ({"y": [{"HIV": True}]},)},
        {"PIN": "001234567890"},
        {"a": [[[{"drug-rehabilitation": 1}]]]},
    ],
)
def test_check_card_fields_refuses(claims: dict[str, Any]) -> None:
    """Sensitive or identifying keys are refused wherever they sit in the claim set."""
    with pytest.raises(EntitlementError, match="may never appear on a card"):
        check_card_fields(claims)


def test_check_card_fields_ignores_values_and_handles_cycles() -> None:
    """Values named like sensitive fields are fine; shared and cyclic containers terminate."""
    shared: dict[str, Any] = {"note": "reason"}
    claims: dict[Any, Any] = {"a": shared, "b": shared, 1: "int key"}
    claims["self"] = claims
    check_card_fields(claims)


def test_check_card_fields_deep_nesting() -> None:
    """Deep nesting does not exhaust the recursion limit."""
    deep: dict[str, Any] = {"religion": 1}
    for _ in range(5000):
        deep = {"x": [deep]}
    with pytest.raises(EntitlementError, match=r"x\[0\]\.religion' may never appear"):
        check_card_fields(deep)


def test_check_card_fields_custom_registry() -> None:
    """check_card_fields uses the registry it is given."""
    data = bundled()
    data["never_on_card"] = ["salary"]
    registry = ProgrammeRegistry.from_mapping(data)
    check_card_fields({"reason": 1}, registry=registry)
    with pytest.raises(EntitlementError, match="'Salary'"):
        check_card_fields({"Salary": 1}, registry=registry)


# --- claims ---------------------------------------------------------------------------------


def test_to_claim_layout() -> None:
    """to_claim gives [programme, from, to|null, values in registry order], trailing gaps cut."""
    entitlement = Entitlement.from_claim(bhyt_claim(), status=StatusRef(5, URI))
    assert entitlement.to_claim() == ["BHYT", "2026-01-01", "2026-12-31", 2, 100, "01-001"]
    assert entitlement.status == StatusRef(5, URI)
    minimal = Entitlement("TGXH", START, None, {"amount": 500_000})
    assert minimal.to_claim() == ["TGXH", "2026-01-01", None, 500_000]
    no_household = Entitlement("GN", START, None, {"kind": "poor"})
    assert no_household.to_claim() == ["GN", "2026-01-01", None, "poor"]


def test_to_claim_refuses_attributes_outside_the_schema() -> None:
    """An attribute the programme does not define cannot be encoded positionally."""
    with pytest.raises(EntitlementError, match="unknown attribute 'extra' cannot be encoded"):
        Entitlement("TGXH", START, None, {"amount": 1, "extra": 2}).to_claim()


def test_absent_optional_attribute_in_the_middle_is_null() -> None:
    """A gap before a present attribute is encoded as null and read back as absent."""
    data = bundled()
    data["programmes"].append(
        {
            "code": "HOCB",
            "name_vi": "x",
            "name_en": "x",
            "owner": "MOET",
            "legal_basis": "x",
            "attributes": {
                "tier": {"type": "enum", "required": False, "values": ["a", "b"]},
                "amount": {"type": "int", "required": True, "min": 1, "max": 10},
            },
        }
    )
    registry = ProgrammeRegistry.from_mapping(data)
    entitlement = Entitlement("HOCB", START, None, {"amount": 5})
    assert entitlement.to_claim(registry) == ["HOCB", "2026-01-01", None, None, 5]
    assert Entitlement.from_claim(["HOCB", "2026-01-01", None, None, 5], registry=registry) == (
        entitlement
    )


def test_round_trip_through_json() -> None:
    """to_claim -> JSON -> from_claim gives back an equal entitlement."""
    original = Entitlement(
        "GN", date(2025, 7, 1), date(2030, 6, 30), {"kind": "poor", "household": "H-1"}
    )
    text = json.dumps(original.to_claim(), separators=(",", ":"))
    assert Entitlement.from_claim(json.loads(text)) == original


def test_open_ended_claim_without_attributes_in_custom_registry() -> None:
    """A claim without 'to' and 'a' parses when the programme needs no attributes."""
    data = bundled()
    data["programmes"].append(
        {
            "code": "VT",
            "name_vi": "x",
            "name_en": "x",
            "owner": "MOET",
            "legal_basis": "x",
            "attributes": {},
        }
    )
    registry = ProgrammeRegistry.from_mapping(data)
    entitlement = Entitlement.from_claim(["VT", "2026-03-01", None], registry=registry)
    assert entitlement.valid_to is None
    assert not entitlement.attributes
    assert entitlement.status is None


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        (None, "must be a JSON array, got null"),
        ({}, "must be a JSON array, got a dict"),
        ("BHYT", "must be a JSON array, got a str"),
        (("BHYT", "2026-01-01", None), "must be a JSON array, got a tuple"),
        (["BHYT", "2026-01-01"], "needs \\[programme, from, to"),
        ([], "needs \\[programme, from, to"),
        (bhyt_claim(p=1), "the programme must be a string, got a int"),
        (bhyt_claim(p=None), "the programme must be a string, got null"),
        (bhyt_claim(p="bhyt"), "unknown programme 'bhyt'"),
        (bhyt_claim(**{"from": 20260101}), "'from' must be a date string YYYY-MM-DD"),
        (bhyt_claim(**{"from": None}), "'from' must be a date string YYYY-MM-DD"),
        (bhyt_claim(**{"from": "20260101"}), "'from' must be a date string YYYY-MM-DD"),
        (bhyt_claim(**{"from": "2026-1-1"}), "'from' must be a date string YYYY-MM-DD"),
        (bhyt_claim(**{"from": "2026-01-01T00:00:00"}), "'from' must be a date string"),
        (bhyt_claim(**{"from": "2026-W01-1"}), "'from' must be a date string"),
        (bhyt_claim(**{"from": "\uff12\uff10\uff12\uff16-01-01"}), "'from' must be a date string"),
        (bhyt_claim(**{"from": "2026-02-30"}), "'from' is not a calendar date"),
        (bhyt_claim(**{"from": "0000-01-01"}), "'from' is not a calendar date"),
        (bhyt_claim(to=20261231), "'to' must be a date string"),
        (bhyt_claim(to="2025-12-31"), "valid_to is before valid_from"),
        ([*bhyt_claim(), "x"], "4 attribute values for 3 attributes"),
        (["GN", "2026-01-01", None, "poor", None], "trailing null attribute value"),
        (bhyt_claim(level=2.0), "attribute 'level' must be an integer or a string, got a float"),
        (bhyt_claim(level=True), "attribute 'level' must be an integer or a string, got a boolean"),
        (bhyt_claim(level=[2]), "attribute 'level' must be an integer or a string, got a list"),
        (bhyt_claim(level=None), "required attribute 'level' is missing"),
        (bhyt_claim(level="2"), "'level' must be an integer, got a str"),
        (bhyt_claim(level=3), "'coverage' must be 95 for level 3"),
    ],
)
def test_from_claim_rejections(claim: Any, message: str) -> None:
    """from_claim refuses malformed claims with an EntitlementError naming the problem."""
    with pytest.raises(EntitlementError, match=message):
        Entitlement.from_claim(claim)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ({}, "must be exactly"),
        ({"status_list": {"idx": 1, "uri": URI}, "x": 1}, "must be exactly"),
        ([], "must be exactly"),
        ({"status_list": []}, "must have exactly 'idx' and 'uri'"),
        ({"status_list": {"idx": 1}}, "must have exactly 'idx' and 'uri'"),
        ({"status_list": {"idx": 1, "uri": URI, "x": 1}}, "must have exactly 'idx' and 'uri'"),
        ({"status_list": {"idx": -1, "uri": URI}}, "'idx' must not be negative"),
        ({"status_list": {"idx": True, "uri": URI}}, "'idx' must be an integer, got a boolean"),
        ({"status_list": {"idx": 1.0, "uri": URI}}, "'idx' must be an integer, got a float"),
        ({"status_list": {"idx": "1", "uri": URI}}, "'idx' must be an integer, got a str"),
        ({"status_list": {"idx": 1, "uri": 5}}, "'uri' must be a string, got a int"),
        ({"status_list": {"idx": 1, "uri": "ftp://a/b"}}, "'uri' must be an https:// or http://"),
        ({"status_list": {"idx": 1, "uri": "https://"}}, "'uri' must be an https:// or http://"),
        ({"status_list": {"idx": 1, "uri": "https://a b"}}, "must be an https:// or http://"),
        ({"status_list": {"idx": 1, "uri": "HTTPS://a"}}, "must be an https:// or http://"),
        ({"status_list": {"idx": 1, "uri": "https://" + "a" * 193}}, "longer than 200"),
    ],
)
def test_status_ref_from_claim_rejections(status: Any, message: str) -> None:
    """status_ref_from_claim accepts exactly {'status_list': {'idx', 'uri'}} and nothing else."""
    with pytest.raises(EntitlementError, match=message):
        status_ref_from_claim(status)


def test_status_ref_from_claim_accepts() -> None:
    """Well-formed status references parse, http included and at the 200-character limit."""
    assert status_ref_from_claim({"status_list": {"idx": 0, "uri": "http://a"}}) == StatusRef(
        0, "http://a"
    )
    long_uri = "https://" + "a" * 192
    assert status_ref_from_claim({"status_list": {"idx": 7, "uri": long_uri}}).uri == long_uri


# --- state_at -------------------------------------------------------------------------------


def test_state_at_boundaries_are_inclusive() -> None:
    """The first and last days are active; the days just outside are not."""
    entitlement = ent("TGXH", amount=1)
    assert entitlement.state_at(date(2025, 12, 31)) is EntitlementState.NOT_YET_VALID
    assert entitlement.state_at(START) is EntitlementState.ACTIVE
    assert entitlement.state_at(date(2026, 6, 15)) is EntitlementState.ACTIVE
    assert entitlement.state_at(END) is EntitlementState.ACTIVE
    assert entitlement.state_at(date(2027, 1, 1)) is EntitlementState.EXPIRED


def test_state_at_open_ended() -> None:
    """Without valid_to an entitlement never expires on its own (the card's exp bounds it)."""
    entitlement = Entitlement("TGXH", START, None, {"amount": 1})
    assert entitlement.state_at(date(2099, 12, 31)) is EntitlementState.ACTIVE
    assert entitlement.state_at(date(2025, 12, 31)) is EntitlementState.NOT_YET_VALID


def test_state_at_refuses_datetime() -> None:
    """state_at wants a calendar date; a datetime is refused rather than compared wrongly."""
    with pytest.raises(EntitlementError, match="day must be a date, got a datetime"):
        ent("TGXH", amount=1).state_at(datetime(2026, 1, 1, tzinfo=UTC))


def test_entitlement_state_values() -> None:
    """The state enum has the five documented string values."""
    assert [s.value for s in EntitlementState] == [
        "active",
        "not_yet_valid",
        "expired",
        "suspended",
        "revoked",
    ]


# --- property test --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)

# Claims shaped like the real thing, so the fuzzing reaches the attribute and status checks.
claim_like = st.dictionaries(
    st.sampled_from(["p", "from", "to", "a", "status", "x"]),
    st.one_of(
        json_values,
        st.sampled_from(["BHYT", "GN", "TGXH", "2026-01-01", "2026-12-31", "2026-13-01"]),
        st.dictionaries(
            st.sampled_from(["level", "coverage", "facility", "kind", "amount", "Reason"]),
            st.one_of(json_values, st.integers(0, 200), st.sampled_from(["poor", "01-001"])),
        ),
        st.fixed_dictionaries(
            {"status_list": st.fixed_dictionaries({"idx": json_values, "uri": json_values})}
        ),
    ),
)


@given(st.one_of(json_values, claim_like))
def test_from_claim_raises_only_entitlement_error(value: Any) -> None:
    """For any JSON-like value from_claim returns an Entitlement or raises EntitlementError."""
    try:
        result = Entitlement.from_claim(value)
    except EntitlementError:
        return
    assert isinstance(result, Entitlement)
    assert Entitlement.from_claim(result.to_claim()) == result


@given(json_values)
def test_status_ref_from_claim_raises_only_entitlement_error(value: Any) -> None:
    """For any JSON-like value status_ref_from_claim returns a StatusRef or EntitlementError."""
    try:
        result = status_ref_from_claim(value)
    except EntitlementError:
        return
    assert isinstance(result, StatusRef)


@given(json_values)
def test_check_card_fields_raises_only_entitlement_error(value: Any) -> None:
    """check_card_fields on any JSON-like mapping returns or raises EntitlementError."""
    with contextlib.suppress(EntitlementError):
        check_card_fields({"root": value})


valid_entitlements = st.one_of(
    st.builds(
        lambda level, facility: {
            "level": level,
            "coverage": bhyt_coverage_for_level(level),
            "facility": facility,
        },
        st.integers(1, 5),
        st.from_regex(r"[0-9]{2}-?[0-9]{3}", fullmatch=True),
    ).map(lambda a: ("BHYT", a)),
    st.integers(1, 100_000_000).map(lambda n: ("TGXH", {"amount": n})),
    st.builds(
        lambda kind, hh: {"kind": kind, **({"household": hh} if hh else {})},
        st.sampled_from(["poor", "near_poor"]),
        st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True) | st.none(),
    ).map(lambda a: ("GN", a)),
)


@given(
    valid_entitlements,
    st.dates(date(1, 1, 1), date(9000, 1, 1)),
    st.integers(0, 1000) | st.none(),
    st.integers(0, 2**40) | st.none(),
)
def test_valid_entitlements_round_trip(
    programme_and_attributes: tuple[str, dict[str, int | str]],
    start: date,
    days: int | None,
    idx: int | None,
) -> None:
    """Any valid entitlement survives to_claim -> JSON -> from_claim unchanged."""
    code, attributes = programme_and_attributes
    end = None if days is None else date.fromordinal(start.toordinal() + days)
    status = None if idx is None else StatusRef(idx, URI)
    original = Entitlement(code, start, end, attributes, status)
    original.validate()
    wire = json.loads(json.dumps(original.to_claim()))
    assert Entitlement.from_claim(wire, status=status) == original


def test_attribute_memo_never_lets_a_boolean_pass_as_an_integer() -> None:
    """The attribute memo keys on value types: True == 1 must not reuse the entry of 1."""
    registry = ProgrammeRegistry.from_mapping(bundled())
    Entitlement("TGXH", START, None, {"amount": 1}).validate(registry)  # remembered
    with pytest.raises(EntitlementError, match="got a boolean"):
        Entitlement("TGXH", START, None, {"amount": True}).validate(registry)


def test_unhashable_attribute_value_is_checked_not_remembered() -> None:
    """An unhashable value (from a careless caller) is refused by the schema, not by a TypeError."""
    registry = ProgrammeRegistry.from_mapping(bundled())
    for _ in range(2):
        with pytest.raises(EntitlementError, match="amount"):
            Entitlement("TGXH", START, None, {"amount": [1]}).validate(registry)


def test_with_status_equals_replace_and_leaves_the_original() -> None:
    """with_status gives what dataclasses.replace gives, sharing the read-only attributes."""
    from dataclasses import replace

    original = Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750_000})
    ref = StatusRef(12, "https://x.example/1")
    copy = original.with_status(ref)
    assert copy == replace(original, status=ref)
    assert copy.status == ref
    assert original.status is None
    assert copy.attributes is original.attributes
    with pytest.raises(AttributeError):
        copy.status = None  # type: ignore[misc]
