"""Issue 11 §5 under the fail-closed trust model: rotation, retirement and compromise, end to end.

Production-shaped: the service holds no root key. The national root key is made by
``asxh root init`` in a "ceremony" directory the service never reads; each ceremony takes the
registry the service exports (``asxh keys registry``), signs it with ``asxh bundle build`` and an
administrator uploads it (``POST /v1/admin/trust-bundle``). Cards are checked by the offline
verifier (``Verifier.from_tokens`` with the published bundle and status lists), never by the
service itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from asxh_card import card as _card
from asxh_card._core.keys import PublicKey
from asxh_card._core.statuslist import StatusRef
from asxh_card._core.timeutil import VN_TZ, utc_now
from asxh_card.cli import app as cli
from asxh_card.errors import KeyOutsideWindowError, RevokedError, UnknownKeyError
from asxh_card.issuing.issuer import Issuer
from asxh_card.programmes import Entitlement
from asxh_card.service.db import session_scope
from asxh_card.service.models import CardRow, IssuerKeyRow, PersonRow
from asxh_card.service.rotation import cards_signed_by
from asxh_card.verifier import Verifier

from .conftest import Service, build_service, cli_env
from .test_import import EXAMPLE, people_rows, run_import, write_csv

runner = CliRunner()
ROOT_PASSPHRASE = "the national root passphrase"


@dataclass
class World:
    """The service, its CLI environment and the offline ceremony's directory."""

    service: Service
    env: dict[str, str]
    ceremony: Path
    version: int = 0

    @property
    def root(self) -> PublicKey:
        """The pinned root public key (what verifiers hold)."""
        return PublicKey.from_jwk(json.loads((self.ceremony / "root.jwk").read_text()))

    def cli(self, *args: str) -> Any:
        """Run ``asxh ARGS`` with the service's settings."""
        return runner.invoke(cli, list(args), env=self.env)

    def ceremony_round(self) -> str:
        """Registry from the service -> ``asxh bundle build`` offline -> upload; the token."""
        self.version += 1
        registry = self.ceremony / f"issuers-{self.version}.json"
        exported = self.cli("keys", "registry", "--out", str(registry))
        assert exported.exit_code == 0, exported.output
        bundle = self.ceremony / f"bundle-{self.version}.jwt"
        built = runner.invoke(
            cli,
            [
                "bundle",
                "build",
                "--root-key",
                str(self.ceremony / "root.pem"),
                "--issuers",
                str(registry),
                "--version",
                str(self.version),
                "--out",
                str(bundle),
            ],
            env={**self.env, "ASXH_ROOT_PASSPHRASE": ROOT_PASSPHRASE},
        )
        assert built.exit_code == 0, built.output
        token = bundle.read_text().strip()
        uploaded = self.service.call(
            "admin",
            "POST",
            "/v1/admin/trust-bundle",
            content=token,
            headers={"Content-Type": "application/jwt"},
        )
        assert uploaded.status_code in (200, 201), uploaded.text
        return token

    def verifier(self) -> Verifier:
        """An offline verifier from what a service point downloads: bundle and status lists."""
        client = self.service.client
        bundle = client.get("/v1/trust-bundle")
        assert bundle.status_code == 200, bundle.text
        lists = {}
        for uri in client.get("/v1/status-lists/vn-79/").json()["lists"]:
            response = client.get(uri.removeprefix("http://testserver"))
            assert response.status_code == 200, response.text
            lists[uri] = response.text.strip()
        return Verifier.from_tokens(bundle.text.strip(), roots=[self.root], status_tokens=lists)

    def registry_kids(self) -> set[str]:
        """The kids of vn-79 the service's registry export would put in the next bundle."""
        result = self.cli("keys", "registry")
        assert result.exit_code == 0, result.output
        issuers = json.loads(result.stdout)["issuers"]
        return {
            PublicKey.from_jwk(k["jwk"]).kid
            for i in issuers
            if i["id"] == "vn-79"
            for k in i["keys"]
        }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A service with no root key, the root's public key pinned, issuer vn-79 and bundle v1."""
    ceremony = tmp_path / "ceremony"
    ceremony.mkdir()
    made = runner.invoke(
        cli,
        ["root", "init", "--out", str(ceremony / "root.pem")],
        env={"ASXH_ROOT_PASSPHRASE": ROOT_PASSPHRASE},
    )
    assert made.exit_code == 0, made.output
    pinned = tmp_path / "pinned-root.jwk"
    pinned.write_bytes((ceremony / "root.jwk").read_bytes())
    for service in build_service(
        tmp_path / "svc",
        f"sqlite:///{tmp_path / 'svc.db'}",
        "sqlite",
        self_signed_bundles=False,
        root_public_key_file=pinned,
    ):
        assert not service.ctx.keyring.root_available()
        env = {**cli_env(service.ctx), "ASXH_ROOT_PUBLIC_KEY_FILE": str(pinned)}
        env.pop("ASXH_ROOT_KEY_FILE", None)
        world = World(service=service, env=env, ceremony=ceremony)
        world.ceremony_round()
        yield world


def _cards(world: World) -> dict[str, CardRow]:
    with session_scope(world.service.ctx.sessions) as session:
        rows = session.scalars(select(CardRow).where(CardRow.issuer_id == "vn-79")).all()
        for row in rows:
            session.expunge(row)
        return {r.serial: r for r in rows}


def _key(world: World, state: str) -> IssuerKeyRow:
    with session_scope(world.service.ctx.sessions) as session:
        row = session.scalars(
            select(IssuerKeyRow)
            .where(IssuerKeyRow.issuer_id == "vn-79", IssuerKeyRow.state == state)
            .order_by(IssuerKeyRow.id.desc())
        ).first()
        assert row is not None
        session.expunge(row)
        return row


def _forge(world: World, key: IssuerKeyRow, card: CardRow) -> str:
    """A card for ``card``'s holder signed now with ``key``'s private key (a thief's card)."""
    with session_scope(world.service.ctx.sessions) as session:
        person = session.get(PersonRow, card.person_id)
        assert person is not None
        holder = _card.Holder(
            asxh_number=person.asxh_number,
            name=person.full_name,
            date_of_birth=person.date_of_birth,
            sex=person.sex,  # type: ignore[arg-type]
        )
    thief = Issuer(issuer_id="vn-79", province="79", signer=world.service.ctx.keyring.signer(key))
    issued = thief.issue(
        holder,
        (
            Entitlement(
                "TGXH", datetime(2026, 1, 1, tzinfo=VN_TZ).date(), None, {"amount": 750_000}
            ),
        ),
        expires=utc_now() + timedelta(days=365),
        status=StatusRef(idx=card.status_idx, uri=_status_uri(world, card)),
    )
    return issued.qr_text


def _status_uri(world: World, card: CardRow) -> str:
    return f"{world.service.ctx.settings.public_url}/v1/status-lists/vn-79/{card.status_list_id}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(VN_TZ).isoformat(timespec="seconds")


def test_prepublished_rotation_switches_without_a_ceremony_and_old_cards_stay_valid(
    world: World, tmp_path: Path
) -> None:
    """``asxh keys rotate --at T``: the next key goes into the bundle before T; until T the old
    key signs, from T the new one signs cards and status lists with no new bundle; cards of
    both keys verify offline. Attack: a card signed with the old key after its cut-off (a
    leaked retired key) is refused as outside the key's window."""
    run_import(world.service.ctx, write_csv(tmp_path / "a.csv", people_rows(2, seed=21)))
    old = _key(world, "active")
    # The steps before the switch (rotate, ceremony, an import) must all finish before it: 4 s
    # was too short on a loaded CI machine, so leave a wide margin.
    switch = (utc_now() + timedelta(seconds=15)).replace(microsecond=0)
    rotated = world.cli("keys", "rotate", "--issuer", "vn-79", "--at", _iso(switch))
    assert rotated.exit_code == 0, rotated.output
    assert world.cli("keys", "rotate", "--issuer", "vn-79", "--at", _iso(switch)).exit_code == 1
    past = world.cli("keys", "rotate", "--issuer", "vn-79", "--at", "2020-01-01T00:00:00+07:00")
    assert past.exit_code == 1
    assert "phải ở tương lai" in " ".join(past.output.split())
    new = _key(world, "active")
    assert new.kid != old.kid
    assert new.not_before == switch
    assert _key(world, "retiring").not_after == switch
    assert world.registry_kids() == {old.kid, new.kid}
    world.ceremony_round()  # the next key is published ahead of its window

    # Before the switch the old key still signs.
    run_import(world.service.ctx, write_csv(tmp_path / "b.csv", people_rows(1, seed=22)))
    assert {c.kid for c in _cards(world).values()} == {old.kid}
    time.sleep(max(0.0, (switch - datetime.now(UTC)).total_seconds()) + 1.1)

    # After it, with no ceremony: new cards and status lists are signed with the new key.
    run_import(world.service.ctx, write_csv(tmp_path / "c.csv", people_rows(2, seed=23)))
    cards = _cards(world)
    by_key = {kid: [s for s, c in cards.items() if c.kid == kid] for kid in (old.kid, new.kid)}
    assert (len(by_key[old.kid]), len(by_key[new.kid])) == (3, 2)
    gone = by_key[old.kid][0]
    revoked = world.service.call(
        "off79", "POST", f"/v1/cards/{gone}/revoke", json={"reason_code": "lost"}
    )
    assert revoked.status_code == 200, revoked.text

    verifier = world.verifier()
    for serial in by_key[old.kid][1:] + by_key[new.kid]:
        assert verifier.verify(cards[serial].qr_text).serial == serial
    with pytest.raises(RevokedError):
        verifier.verify(cards[gone].qr_text)
    with pytest.raises(KeyOutsideWindowError):
        verifier.verify(_forge(world, old, cards[by_key[old.kid][1]]))


def test_retiring_takes_a_cut_off_and_cards_signed_before_it_stay_valid(
    world: World, tmp_path: Path
) -> None:
    """Retiring sets a key's cut-off: refused before its window (a Vietnamese 422), before
    cards it signed (they would be stranded), or when no other key signs after it (the lists
    need one). Cards signed before the cut-off verify offline with the next bundle; the key
    leaves the registry once none of its cards is current."""
    time.sleep(1.1)  # the cards are signed a second after the key's window opened
    run_import(world.service.ctx, write_csv(tmp_path / "a.csv", people_rows(2, seed=31)))
    old = _key(world, "active")
    bad = world.service.call(
        "admin",
        "POST",
        f"/v1/admin/issuers/vn-79/keys/{old.kid}/retire",
        json={"at": "2020-01-01T00:00:00+07:00"},
    )
    assert bad.status_code == 422, bad.text
    assert "sớm hơn" in bad.json()["detail_vi"]
    alone = world.cli("keys", "retire", "--issuer", "vn-79", "--kid", old.kid)
    assert alone.exit_code == 1
    assert "rotate first" in " ".join(alone.output.split())
    rotated = world.service.call("admin", "POST", "/v1/admin/issuers/vn-79/keys", json={})
    assert rotated.status_code == 201, rotated.text
    new = _key(world, "active")
    early = world.cli(
        "keys", "retire", "--issuer", "vn-79", "--kid", old.kid, "--at", _iso(old.not_before)
    )
    assert early.exit_code == 1
    assert "signed after the cut-off" in " ".join(early.output.split())
    retired = world.cli("keys", "retire", "--issuer", "vn-79", "--kid", old.kid)
    assert retired.exit_code == 0, retired.output
    assert world.registry_kids() == {old.kid, new.kid}  # its cards live: verifiers need it
    world.ceremony_round()
    run_import(world.service.ctx, write_csv(tmp_path / "b.csv", people_rows(1, seed=32)))
    cards = _cards(world)
    assert sorted(c.kid == new.kid for c in cards.values()) == [False, False, True]
    verifier = world.verifier()
    for serial, card in cards.items():
        assert verifier.verify(card.qr_text).serial == serial
    for serial, card in cards.items():
        if card.kid == old.kid:
            revoked = world.service.call(
                "off79", "POST", f"/v1/cards/{serial}/revoke", json={"reason_code": "lost"}
            )
            assert revoked.status_code == 200, revoked.text
    assert world.registry_kids() == {new.kid}


def test_compromised_key_cards_are_reissued_and_old_ones_fail_verification(
    world: World, tmp_path: Path
) -> None:
    """Attack: a stolen issuer key. ``asxh keys compromised`` removes it at once and makes a new
    key; revoking needs a bundle naming the new key, so it waits (exit 3) until the emergency
    ceremony's bundle is uploaded; run again, it re-issues every card the key signed. The offline
    verifier then refuses the old cards and the thief's, and accepts the re-issued ones."""
    run_import(world.service.ctx, EXAMPLE)
    old = _cards(world)
    (kid,) = {c.kid for c in old.values()}
    stolen = _key(world, "active")
    listing = tmp_path / "pairs.txt"
    args = ["keys", "compromised", "--issuer", "vn-79", "--kid", kid, "--list", str(listing)]

    first = world.cli(*args)
    assert first.exit_code == 3, first.output
    assert f"{len(old)} cards wait" in first.output
    assert not listing.exists()
    assert {c.state for c in _cards(world).values()} == {"active"}
    kids = world.registry_kids()
    assert kid not in kids
    assert len(kids) == 1
    world.ceremony_round()  # the emergency ceremony: the new key in, the stolen one out

    second = world.cli(*args)
    assert second.exit_code == 0, second.output
    pairs = [line.split() for line in listing.read_text().splitlines()]
    assert sorted(a for a, _ in pairs) == sorted(old)
    after = _cards(world)
    with session_scope(world.service.ctx.sessions) as session:
        assert cards_signed_by(session, "vn-79", kid) == []
    assert {after[a].state for a, _ in pairs} == {"revoked"}
    assert {after[a].reason_code for a, _ in pairs} == {"key_compromise"}
    assert {after[b].kid for _, b in pairs} == kids
    assert world.cli(*args).exit_code == 0  # nothing left: a third run changes nothing
    assert len(listing.read_text().splitlines()) == len(old)

    verifier = world.verifier()
    for a, b in pairs:
        assert verifier.verify(after[b].qr_text).serial == b
        with pytest.raises(UnknownKeyError):
            verifier.verify(after[a].qr_text)
    with pytest.raises(UnknownKeyError):
        verifier.verify(_forge(world, stolen, after[pairs[0][0]]))


def test_compromise_over_http_waits_for_the_bundle_then_reissues(world: World) -> None:
    """``POST /v1/admin/issuers/{id}/keys/{kid}/compromise``: ``waiting`` until the bundle
    naming ``new_kid`` is uploaded (``GET /v1/admin/registry`` feeds the ceremony), then the
    cards are re-issued in batches (``remaining``)."""
    service = world.service
    serials = []
    for _ in range(3):
        number = service.register()
        service.grant("off79", number, service.BHYT)
        serials.append(service.issue("off79", number)["serial"])
    kid = _key(world, "active").kid
    url = f"/v1/admin/issuers/vn-79/keys/{kid}/compromise"
    waiting = service.call("admin", "POST", url).json()
    assert waiting["waiting"] is True
    assert waiting["remaining"] == 3
    assert waiting["reissued"] == []
    registry = service.call("admin", "GET", "/v1/admin/registry").json()
    published = {
        PublicKey.from_jwk(k["jwk"]).kid
        for i in registry["issuers"]
        if i["id"] == "vn-79"
        for k in i["keys"]
    }
    assert published == {waiting["new_kid"]}
    assert service.call("off79", "GET", "/v1/admin/registry").status_code == 403
    world.ceremony_round()
    first = service.call("admin", "POST", url, params={"batch": 2}).json()
    assert (first["waiting"], len(first["reissued"]), first["remaining"]) == (False, 2, 1)
    rest = service.call("admin", "POST", url, params={"batch": 2}).json()
    assert (len(rest["reissued"]), rest["remaining"]) == (1, 0)
    reissued = {p["old"] for p in first["reissued"] + rest["reissued"]}
    assert reissued == set(serials)
