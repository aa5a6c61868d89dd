"""Happy paths, entitlement states, status, freshness and the service-point helpers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from vworld import AT, DAY, T0, URI_01, URI_79, World

from asxh_card._core.statuslist import Status
from asxh_card.errors import (
    BundleStaleError,
    ClockBeforeBundleError,
    MalformedError,
    Reason,
    RevokedError,
    StatusListInvalidError,
    SuspendedError,
)
from asxh_card.programmes import EntitlementState
from asxh_card.verifier import Verifier


def test_valid_card_gives_holder_issuer_and_entitlement_states(world: World) -> None:
    result = world.verifier().verify(world.card(), at=AT)
    assert result.valid
    assert result.holder.asxh_number == world.holder
    assert result.holder.name == "Nguyễn Thị Minh Khai"
    assert result.issuer.id == "vn-79"
    assert result.issuer.province == "79"
    assert result.guardian is not None
    assert result.guardian.asxh_number == world.guardian
    assert result.serial == "C0001"
    assert result.bundle_version == 1
    assert result.warnings == ()
    states = {e.programme: e.state for e in result.entitlements}
    assert states == {
        "BHYT": EntitlementState.ACTIVE,
        "TGXH": EntitlementState.ACTIVE,
        "NCC": EntitlementState.NOT_YET_VALID,
        "BHTN": EntitlementState.EXPIRED,
    }
    assert result.validity.expires_at.timestamp() == T0 + 335 * DAY


def test_bare_token_is_accepted(world: World) -> None:
    """The bare compact JWS verifies as well as the QR text."""
    from asxh_card import card as _card

    token = _card.sign_card(world.claims(), world.key_79)
    assert world.verifier().verify(token, at=AT).serial == "C0001"


@pytest.mark.parametrize("padding", ["\n", " ", "\t", "\r\n", "\u00a0", "\u2003"])
def test_whitespace_around_the_card_text_is_refused(world: World, padding: str) -> None:
    """Issue 9 §4: like its peers, the verifier refuses whitespace around the card's text.

    Before, it stripped it silently: the text a clerk's scanner hands over must be the card.
    """
    verifier = world.verifier()
    for text in (world.card() + padding, padding + world.card()):
        with pytest.raises(MalformedError, match="whitespace") as caught:
            verifier.verify(text, at=AT)
        assert caught.value.reason == "malformed"
        assert caught.value.outcome == "invalid"


def test_verifier_from_bytes_path_and_directory(world: World, tmp_path) -> None:
    from asxh_card.verifier import BundleStore

    token = world.bundle()
    tokens = {uri: world.status_token(uri) for uri in (URI_79, URI_01)}
    roots = [world.root.public_key]
    BundleStore(tmp_path).install(token, tokens, roots=roots, now=T0)
    for verifier in (
        Verifier.from_directory(tmp_path, roots=roots),
        Verifier.from_directory(str(tmp_path), roots=roots),
        Verifier.from_tokens(token.encode(), roots=roots, status_tokens=tokens),
        Verifier.from_tokens(token, roots=roots, status_tokens=tokens),
    ):
        assert verifier.verify(world.card(), at=AT).bundle_version == 1


def test_store_reinstall_repairs_a_damaged_status_list_file(world: World, tmp_path) -> None:
    """A damaged list file stops the verifier; installing the same list again rewrites it."""
    from asxh_card.verifier import BundleStore

    token = world.bundle()
    tokens = {uri: world.status_token(uri) for uri in (URI_79, URI_01)}
    roots = [world.root.public_key]
    store = BundleStore(tmp_path)
    store.install(token, tokens, roots=roots, now=T0)
    damaged = store.status_path(URI_79)
    damaged.write_text(tokens[URI_79][:-10])
    with pytest.raises(StatusListInvalidError):
        Verifier.from_directory(tmp_path, roots=roots)
    assert store.install(token, tokens, roots=roots, now=T0).version == 1
    assert damaged.read_text() == tokens[URI_79]
    assert Verifier.from_directory(tmp_path, roots=roots).verify(world.card(), at=AT).valid


def test_one_revoked_programme_leaves_the_others(world: World) -> None:
    world.set_status(URI_79, 12, Status.REVOKED)  # TGXH
    world.set_status(URI_79, 11, Status.SUSPENDED)  # BHYT
    result = world.verifier().verify(world.card(), at=AT)
    states = {e.programme: e.state for e in result.entitlements}
    assert states["TGXH"] is EntitlementState.REVOKED
    assert states["BHYT"] is EntitlementState.SUSPENDED
    assert states["NCC"] is EntitlementState.NOT_YET_VALID
    assert result.bhyt_at(date(2026, 3, 1)) is None
    assert not result.may_collect(collector=world.holder)


def test_revoked_card_invalidates_every_programme(world: World) -> None:
    world.set_status(URI_79, 10, Status.REVOKED)
    with pytest.raises(RevokedError) as info:
        world.verifier().verify(world.card(), at=AT)
    assert info.value.reason is Reason.REVOKED


def test_suspended_card_is_refused(world: World) -> None:
    world.set_status(URI_79, 10, Status.SUSPENDED)
    with pytest.raises(SuspendedError) as info:
        world.verifier().verify(world.card(), at=AT)
    assert info.value.reason == "suspended"


def test_bundle_older_than_a_day_warns(world: World) -> None:
    at = AT + timedelta(days=2)
    # The status lists have a 2-day ttl; give them a longer one for this test.
    world.list_claims[URI_79] = {"ttl": 30 * DAY}
    verifier = world.verifier()
    result = verifier.verify(world.card(), at=at)
    assert [w.code for w in result.warnings] == ["bundle_old"]
    assert "giờ" in result.warnings[0].message("vi")


def test_bundle_older_than_seven_days_is_refused(world: World) -> None:
    with pytest.raises(BundleStaleError) as info:
        world.verifier().verify(world.card(), at=AT + timedelta(days=8))
    assert info.value.reason == "bundle_stale"


def test_freshness_limits_are_configurable(world: World) -> None:
    world.list_claims[URI_79] = {"ttl": 30 * DAY}
    verifier = world.verifier(freshness_max=timedelta(days=14), freshness_warn=timedelta(days=10))
    assert verifier.verify(world.card(), at=AT + timedelta(days=8)).warnings == ()
    with pytest.raises(BundleStaleError):
        world.verifier(
            freshness_max=timedelta(hours=1), freshness_warn=timedelta(minutes=30)
        ).verify(world.card(), at=AT + timedelta(hours=2))


def test_bundle_past_its_expiry_is_refused(world: World) -> None:
    verifier = world.verifier(bundle=world.bundle(exp=T0 + 3600), freshness_max=timedelta(days=30))
    with pytest.raises(BundleStaleError):
        verifier.verify(world.card(), at=AT + timedelta(hours=2))


def test_device_clock_before_the_bundle_issue_time_is_refused(world: World) -> None:
    """The bundle's iat is a floor for the device clock (DESIGN.md §4)."""
    verifier = world.verifier()
    with pytest.raises(ClockBeforeBundleError) as info:
        verifier.verify(world.card(), at=AT - timedelta(hours=2))
    assert info.value.reason == "clock_before_bundle"
    # Within the 5-minute leeway it is accepted.
    assert verifier.verify(world.card(), at=AT - timedelta(seconds=3600 + 200)).valid


def test_clock_is_injected(world: World) -> None:
    verifier = world.verifier(clock=lambda: AT)
    assert verifier.verify(world.card()).checked_at == AT


def test_bhyt_at_gives_level_coverage_and_facility(world: World) -> None:
    result = world.verifier().verify(world.card(), at=AT)
    cover = result.bhyt_at(date(2026, 6, 1))
    assert cover is not None
    assert (cover.level, cover.coverage, cover.facility) == (2, 100, "79-001")
    assert result.bhyt_at(date(2027, 1, 1)) is None
    assert result.bhyt_at() is not None


def test_may_collect_tgxh_holder_and_guardian_only(world: World) -> None:
    result = world.verifier().verify(world.card(), at=AT)
    assert result.may_collect("TGXH", collector=world.holder)
    spaced = (
        f"{world.guardian[:2]} {world.guardian[2:6]} {world.guardian[6:10]} {world.guardian[10]}"
    )
    assert result.may_collect("TGXH", collector=spaced)
    assert not result.may_collect("TGXH", collector="01000000018")
    assert not result.may_collect("NCC", collector=world.holder)  # not yet valid
    assert result.may_collect("NCC", collector=world.holder, at=date(2026, 4, 1))
    assert not result.may_collect("GN", collector=world.holder)  # not on the card


def test_json_object_shape(world: World) -> None:
    data = world.verifier().verify(world.card(), at=AT).to_json()
    assert set(data) == {
        "format",
        "valid",
        "outcome",
        "reason",
        "checked_at",
        "bundle_version",
        "serial",
        "issuer",
        "holder",
        "guardian",
        "validity",
        "entitlements",
        "warnings",
    }
    assert data["valid"] is True
    assert data["reason"] is None
    assert data["holder"]["date_of_birth"] == "1990-03-15"
    assert data["entitlements"][0] == {
        "programme": "BHYT",
        "state": "active",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "attributes": {"level": 2, "coverage": 100, "facility": "79-001"},
    }


def test_verification_day_is_the_vietnamese_calendar_day() -> None:
    """The day used for entitlement states is vn_date of the verification time, to the second.

    Around Vietnamese midnight (17:00 UTC) the UTC date and the Vietnamese date differ; an
    entitlement ending on a Vietnamese date must end at its local midnight, not at UTC's.
    """
    from datetime import UTC, datetime

    from asxh_card._core.timeutil import vn_date, vn_day

    midnight_vn = int(datetime(2026, 12, 31, 17, 0, tzinfo=UTC).timestamp())
    for seconds in (0, 1_000_000_007, midnight_vn - 1, midnight_vn, midnight_vn + 1, T0):
        assert vn_day(seconds) == vn_date(datetime.fromtimestamp(seconds, UTC))
    assert vn_day(midnight_vn) == date(2027, 1, 1)
