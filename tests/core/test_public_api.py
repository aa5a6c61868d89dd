"""Issue 14 items 1-3: the public shape of the package (safe by default, one error tree, no
private names across modules, an unverified card that hands out no claims)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
from datetime import date
from pathlib import Path

import pytest

import asxh_card
from asxh_card import hazmat
from asxh_card._core.keys import JWKError, PrivateKey, PublicKey
from asxh_card._core.statuslist import StatusRef
from asxh_card.card import CardClaims, Holder, UncheckedCard, VerifiedClaims
from asxh_card.errors import (
    AsxhError,
    BadSignatureError,
    InputTypeError,
    InvalidInputError,
    MalformedError,
    Outcome,
    UnknownKeyError,
)
from asxh_card.ids import damm_check_digit
from asxh_card.programmes import Entitlement

SRC = Path(asxh_card.__file__).resolve().parent
NOW = 1_772_323_200  # 2026-03-01T00:00:00Z


def _number(body: str) -> str:
    return body + str(damm_check_digit(body))


def _claims(issuer: str = "vn-79", province: str = "79") -> CardClaims:
    return CardClaims(
        issuer=issuer,
        province=province,
        serial="S0001",
        issued_at=NOW - 86_400,
        not_before=NOW - 86_400,
        expires_at=NOW + 86_400 * 30,
        holder=Holder(_number("7900000001"), "Nguyễn Văn An", date(1990, 1, 2), "M"),
        entitlements=(Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750_000}),),
        status=StatusRef(7, f"https://asxh.example.vn/v1/status-lists/{issuer}/1"),
    )


def test_top_level_leads_with_the_verifier() -> None:
    """The package exports the Verifier and its policy; the bundle-skipping primitives are not
    at the top level but in the clearly named low-level module ``asxh_card.hazmat``."""
    from asxh_card.verifier import Verifier, VerifierPolicy

    assert asxh_card.Verifier is Verifier
    assert asxh_card.VerifierPolicy is VerifierPolicy
    assert "Verifier" in (asxh_card.__doc__ or "").split("::")[0]
    for name in ("sign_card", "verify_card"):
        assert name not in asxh_card.__all__
        assert not hasattr(asxh_card, name), name
        assert name in hazmat.__all__
    assert "trust bundle" in (hazmat.__doc__ or "")


def test_hazmat_lookup_by_issuer_and_kid_refuses_a_card_claiming_another_issuer() -> None:
    """Attack: vn-79's key signs a card claiming issuer vn-01. The README's (issuer, kid) lookup
    refuses it; a lookup by kid alone (the old README) would have accepted it."""
    key = PrivateKey.generate()
    forged = asxh_card.qr_text(hazmat.sign_card(_claims("vn-01", "01"), key))
    issuer_keys = {("vn-79", key.kid): key.public_key}
    with pytest.raises(UnknownKeyError):
        hazmat.verify_card(forged, keys=lambda iss, kid: issuer_keys.get((iss, kid)), now=NOW)
    # The lookup the old README showed accepts the forged issuer: the reason for the change.
    accepted = hazmat.verify_card(
        forged, keys=lambda _iss, kid: key.public_key if kid == key.kid else None, now=NOW
    )
    assert accepted.issuer == "vn-01"


def _package_modules() -> list[str]:
    names = [asxh_card.__name__]
    for info in pkgutil.walk_packages(asxh_card.__path__, prefix="asxh_card."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue  # Alembic scripts (run by alembic), `python -m` entry points (run the CLI)
        names.append(info.name)
    return names


def test_every_exception_class_of_the_package_derives_from_the_root() -> None:
    """Issue 14 item 2: one error tree. Every exception class defined anywhere in the package
    (core, verifier, issuing, service, CLI) is an AsxhError; 11 were not (7 ValueErrors in
    _core, JWKError among them, and 4 in the service)."""
    outside = []
    for name in _package_modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            mine = obj.__module__ == name and issubclass(obj, BaseException)
            if mine and not issubclass(obj, AsxhError):
                outside.append(f"{name}.{obj.__qualname__}")
    assert outside == []


def test_jwk_error_escaping_a_public_method_is_in_the_tree() -> None:
    """``PublicKey.from_jwk`` lets JWKError escape: it is an InvalidInputError (and ValueError)."""
    with pytest.raises(JWKError) as caught:
        PublicKey.from_jwk({"kty": "RSA", "n": "AQAB", "e": "AQAB"})
    assert isinstance(caught.value, InvalidInputError)
    assert isinstance(caught.value, AsxhError)
    assert isinstance(caught.value, ValueError)


def test_input_type_error_is_a_type_error_in_the_tree() -> None:
    """A wrong argument type is catchable as TypeError and as the package's InvalidInputError."""
    assert issubclass(InputTypeError, TypeError)
    assert issubclass(InputTypeError, InvalidInputError)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False


def _private_imports(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("asxh_card"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    target = f"{node.module}.{alias.name}"
                    # Importing a private *module* of a package (``_core.jws``) is layout, not a
                    # private name of another module.
                    # Siblings of one package (programmes/*, issuing/render/*) share its private
                    # helpers; the package is the unit. Across packages, never.
                    importer = ".".join(("asxh_card", *path.relative_to(SRC).with_suffix("").parts))
                    if (
                        not _is_module(target)
                        and importer.rpartition(".")[0] != (node.module.rpartition(".")[0])
                    ):
                        found.append(f"{path.relative_to(SRC)}: {target}")
    return found


def test_no_private_names_imported_across_modules() -> None:
    """Issue 14 item 3: no module imports a private name from another package (the verifier
    imported ``card._UncheckedCard``); a package's own modules may share its private helpers."""
    found = [hit for path in sorted(SRC.rglob("*.py")) for hit in _private_imports(path)]
    assert found == []


def test_unchecked_card_hands_out_no_claims_before_the_signature() -> None:
    """The public unverified-card type tells which key to fetch (issuer, kid) and nothing else;
    claims come only from ``verify(key)``, which checks the signature first."""
    key, other = PrivateKey.generate(), PrivateKey.generate()
    text = asxh_card.qr_text(hazmat.sign_card(_claims(), key))
    card = UncheckedCard(text)
    assert (card.issuer, card.kid) == ("vn-79", key.kid)
    public = {name for name in dir(card) if not name.startswith("_")}
    assert public == {"issuer", "kid", "verify"}
    with pytest.raises(BadSignatureError):
        card.verify(other.public_key)
    verified = card.verify(key.public_key)
    assert isinstance(verified, VerifiedClaims)
    assert verified.holder.name == "Nguyễn Văn An"
    assert verified.claims.iss == "vn-79"
    assert "vn-79" in repr(card)
    with pytest.raises(MalformedError):
        UncheckedCard(b"asxh:/00")  # type: ignore[arg-type]


def test_hazmat_verify_card_reports_a_lookup_bug_as_internal_not_malformed() -> None:
    """A bug in the key lookup (a TypeError) is the verifier's side failing: internal_error,
    outcome cannot_check; it used to be reported as a malformed card."""
    key = PrivateKey.generate()
    text = asxh_card.qr_text(hazmat.sign_card(_claims(), key))

    def broken(_iss: str, _kid: str) -> PublicKey:
        raise TypeError("lookup bug")

    with pytest.raises(asxh_card.VerificationError) as caught:
        hazmat.verify_card(text, keys=broken, now=NOW)
    assert caught.value.reason == "internal_error"
    assert caught.value.outcome is Outcome.CANNOT_CHECK


def test_every_core_module_is_under_the_layering_contracts() -> None:
    """Issue 14 item 4: the import-linter contracts that keep the core free of web, database,
    image and CLI code (and of the verifier, issuing, service, CLI) list every core module, so
    a new module of the core cannot slip out of them."""
    import tomllib

    contracts = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"
    ]["importlinter"]["contracts"]
    upper = {"cli", "issuing", "service", "verifier"}
    core = {
        f"asxh_card.{info.name}"
        for info in pkgutil.iter_modules([str(SRC)])
        # __main__ runs the CLI; data holds resource files only (no code to import anything).
        if info.name not in upper and info.name not in {"__main__", "data"}
    }
    core_contracts = [c for c in contracts if c["name"].startswith("the core ")]
    assert len(core_contracts) == 2
    for contract in core_contracts:
        assert set(contract["source_modules"]) == core, contract["name"]
