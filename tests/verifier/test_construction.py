"""Issue 14 item 5 and issue 9 §4: how a Verifier is built (no I/O, nothing guessed, typed
factories, a policy object) and how it treats its caller's mistakes."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from vworld import AT, T0, URI_01, URI_79, World

from asxh_card import keystore
from asxh_card._core.keys import PrivateKey
from asxh_card.bundle import KeyEntry, parse_bundle
from asxh_card.errors import (
    BundleInvalidError,
    InputTypeError,
    InternalVerifierError,
    InvalidInputError,
    Outcome,
    UnknownKeyError,
)
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.trust import sign_bundle_payload
from asxh_card.verifier import BundleStore, Verifier, VerifierPolicy

_OPENED: list[str] = []
_WATCHING = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCHING[0] and event in {"open", "os.listdir", "os.scandir", "socket.connect"}:
        _OPENED.append(f"{event} {args[0]!r}")


sys.addaudithook(_audit)


def _tokens(world: World) -> dict[str, str]:
    return {uri: world.status_token(uri) for uri in (URI_79, URI_01)}


def test_constructor_does_no_io(world: World) -> None:
    """Building a Verifier from objects opens no file and no socket (audit hooks watch)."""
    roots = [world.root.public_key]
    bundle = parse_bundle(world.bundle(), roots=roots)
    tokens = _tokens(world)
    Verifier(roots=roots, bundle=bundle, status_tokens=tokens)  # warm the registry's cache
    _OPENED.clear()
    _WATCHING[0] = True
    try:
        verifier = Verifier(roots=roots, bundle=bundle, status_tokens=tokens)
        result = verifier.verify(world.card(), at=AT)
    finally:
        _WATCHING[0] = False
    assert _OPENED == []
    assert result.serial == "C0001"


@pytest.mark.parametrize("guess", ["token", "path-str", "path"])
def test_constructor_guesses_nothing(world: World, tmp_path: Path, guess: str) -> None:
    """A token or a path handed to the constructor is refused with a clear InputTypeError
    naming the factory; it used to be told apart by sniffing an ``eyJ`` prefix."""
    token = world.bundle()
    (tmp_path / "bundle.jwt").write_text(token)
    bundle = {"token": token, "path-str": str(tmp_path), "path": tmp_path}[guess]
    with pytest.raises(InputTypeError, match="from_tokens") as caught:
        Verifier(roots=[world.root.public_key], bundle=bundle)  # type: ignore[arg-type]
    assert isinstance(caught.value, TypeError)


def test_factories_accept_str_and_path(world: World, tmp_path: Path) -> None:
    """``from_directory`` takes a str or a Path; ``from_tokens`` takes str or bytes."""
    token = world.bundle()
    roots = [world.root.public_key]
    BundleStore(tmp_path).install(token, _tokens(world), roots=roots, now=T0)
    for verifier in (
        Verifier.from_directory(str(tmp_path), roots=roots),
        Verifier.from_directory(tmp_path, roots=roots),
        Verifier.from_tokens(token, roots=roots, status_tokens=_tokens(world)),
        Verifier.from_tokens(token.encode(), roots=roots, status_tokens=_tokens(world)),
    ):
        assert verifier.verify(world.card(), at=AT).bundle_version == 1
    with pytest.raises(BundleInvalidError) as caught:
        Verifier.from_directory(tmp_path / "nowhere", roots=roots)
    assert caught.value.outcome is Outcome.CANNOT_CHECK
    with pytest.raises(InputTypeError):
        Verifier.from_directory(42, roots=roots)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError):
        Verifier.from_tokens(tmp_path, roots=roots)  # type: ignore[arg-type]


def test_readme_snippet_with_str_paths(world: World, tmp_path: Path, monkeypatch) -> None:
    """The README's snippet passes str paths to load_public_key and from_directory; the str
    root path crashed (``'str' object has no attribute 'read_bytes'``)."""
    BundleStore(tmp_path).install(
        world.bundle(), _tokens(world), roots=[world.root.public_key], now=T0
    )
    (tmp_path / "root.jwk").write_text(json.dumps(world.root.public_key.to_jwk()))
    monkeypatch.chdir(tmp_path)
    root = keystore.load_public_key("root.jwk")
    verifier = Verifier.from_directory(str(tmp_path), roots=[root])
    assert verifier.verify(world.card(), at=AT).holder.name == "Nguyễn Thị Minh Khai"
    with pytest.raises(InputTypeError):
        keystore.load_public_key(None)  # type: ignore[arg-type]


def test_passphrase_as_str(tmp_path: Path) -> None:
    """A passphrase given as str works like its UTF-8 bytes (write, generate and load)."""
    phrase = "cụm mật khẩu dài đủ"
    key = keystore.generate_key_file(str(tmp_path / "k.pem"), phrase)
    assert keystore.load_private_key(str(tmp_path / "k.pem"), phrase).kid == key.kid
    assert keystore.load_private_key(tmp_path / "k.pem", phrase.encode()).kid == key.kid
    other = PrivateKey.generate()
    keystore.write_private_key(tmp_path / "o.pem", other, phrase)
    assert keystore.load_private_key(tmp_path / "o.pem", phrase).kid == other.kid
    with pytest.raises(InputTypeError):
        keystore.load_private_key(tmp_path / "o.pem", 12345)  # type: ignore[arg-type]


def test_policy_object_is_validated() -> None:
    """VerifierPolicy is frozen and checked at construction with the package's errors."""
    policy = VerifierPolicy()
    assert policy.leeway == 300
    assert policy.status_stale == "refuse"
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.leeway = 0  # type: ignore[misc]
    with pytest.raises(InvalidInputError, match="freshness_warn"):
        VerifierPolicy(freshness_warn=timedelta(days=8))
    with pytest.raises(InvalidInputError, match="status_stale"):
        VerifierPolicy(status_stale="ignore")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="negative"):
        VerifierPolicy(leeway=-1)
    with pytest.raises(InputTypeError):
        VerifierPolicy(leeway="300")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError):
        VerifierPolicy(freshness_max=7)  # type: ignore[arg-type]


def test_policy_is_applied(world: World) -> None:
    """The policy's leeway reaches the checks: a card 100 s before its nbf passes with the
    default 300 s leeway and fails with 0."""
    card = world.card(not_before=T0 + 100)
    assert world.verifier().verify(card, at=AT).serial == "C0001"
    strict = Verifier.from_tokens(
        world.bundle(), roots=[world.root.public_key], policy=VerifierPolicy(leeway=0)
    )
    assert strict.policy.leeway == 0
    with pytest.raises(Exception, match="not valid yet"):
        strict.verify(card, at=AT)


@pytest.mark.parametrize("roots", [None, "root", [], ["not a key"]])
def test_roots_must_be_a_list_of_public_keys(world: World, roots: Any) -> None:
    """A missing, empty or wrong ``roots`` is a clear InputTypeError, not a later crash."""
    with pytest.raises(InputTypeError, match="roots"):
        Verifier.from_tokens(world.bundle(), roots=roots)


def test_bundle_object_is_verified_again(world: World) -> None:
    """Issue 9 §4, attack: the caller hands the Verifier a TrustBundle object it edited (the
    attacker's key added to vn-79). The object is verified again from its signed token, so the
    attacker's card is refused; before, an object whose root_kid was pinned was taken as is."""
    roots = [world.root.public_key]
    genuine = parse_bundle(world.bundle(), roots=roots)
    attacker = PrivateKey.generate()
    issuer = genuine.issuers["vn-79"]
    keys = {**issuer.keys, attacker.kid: KeyEntry(attacker.public_key, T0 - 86_400 * 60, None)}
    edited = dataclasses.replace(
        genuine,
        issuers={**genuine.issuers, "vn-79": dataclasses.replace(issuer, keys=keys)},
    )
    verifier = Verifier(roots=roots, bundle=edited, status_tokens=world.status_tokens())
    with pytest.raises(UnknownKeyError):
        verifier.verify(world.card(signer=attacker), at=AT)
    assert verifier.verify(world.card(), at=AT).serial == "C0001"


def test_bundle_object_signed_by_another_root_is_refused(world: World, tmp_path: Path) -> None:
    """Attack: a bundle signed by an unpinned root, relabelled with the pinned root's kid, is
    refused by the Verifier and by BundleStore.install (both took it as is before)."""
    rogue = PrivateKey.generate()
    rogue_bundle = parse_bundle(
        sign_bundle_payload(world.payload(), rogue), roots=[rogue.public_key]
    )
    relabelled = dataclasses.replace(rogue_bundle, root_kid=world.root.kid)
    roots = [world.root.public_key]
    with pytest.raises(BundleInvalidError):
        Verifier(roots=roots, bundle=relabelled)
    with pytest.raises(BundleInvalidError):
        BundleStore(tmp_path).install(relabelled, {}, roots=roots, now=T0)
    assert not (tmp_path / "bundle.jwt").exists()


@pytest.mark.parametrize("at", ["2026-03-01T00:00:00+00:00", 1_772_323_200, "now"])
def test_at_of_the_wrong_type_is_a_type_error(world: World, at: Any) -> None:
    """Issue 9 §4: ``at`` as a string or a number raises InputTypeError (a TypeError and an
    AsxhError), not an AttributeError from deep inside."""
    verifier = world.verifier()
    with pytest.raises(InputTypeError, match="aware datetime"):
        verifier.verify(world.card(), at=at)
    with pytest.raises(TypeError):
        verifier.bundle_warnings(at=at)


def test_naive_at_is_refused(world: World) -> None:
    """A naive ``at`` is ambiguous by seven hours here: InvalidInputError."""
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        world.verifier().verify(world.card(), at=datetime(2026, 3, 1))  # noqa: DTZ001


class _BrokenRegistry(ProgrammeRegistry):
    """A registry with a bug: the verifier's own side fails, not the card."""

    def parse_typed_claim(self, claim: Any) -> Any:  # noqa: ARG002
        raise AttributeError("registry bug")


def test_verifier_bug_is_internal_error_not_malformed(world: World) -> None:
    """Issue 14 item 2: an AttributeError inside verification is internal_error with outcome
    cannot_check; it used to be reported to the clerk as a malformed card."""
    data = resources.files("asxh_card.data").joinpath("programmes.json").read_text("utf-8")
    broken = _BrokenRegistry.from_mapping(json.loads(data))
    assert isinstance(broken, _BrokenRegistry)
    verifier = world.verifier(registry=broken)
    with pytest.raises(InternalVerifierError) as caught:
        verifier.verify(world.card(), at=AT)
    assert caught.value.reason == "internal_error"
    assert caught.value.outcome is Outcome.CANNOT_CHECK
    assert "THẺ KHÔNG HỢP LỆ" not in caught.value.headline("vi")
