"""The offline :class:`Verifier` (DESIGN.md §4): a card checked against a signed trust bundle.

Order of checks in :meth:`Verifier.verify` (cheapest and most general first):

1. device clock and bundle: the clock must not be before the bundle's ``iat`` (minus leeway):
   :class:`~asxh_card.errors.ClockBeforeBundleError`; the bundle must be before its ``exp`` and
   younger than ``freshness_max``: :class:`~asxh_card.errors.BundleStaleError`; older than
   ``freshness_warn`` adds a warning;
2. QR text to token, structural JWS parse (size limits first, DESIGN.md §5);
3. issuer by ``iss`` (:class:`~asxh_card.errors.UnknownIssuerError`), then key by ``kid`` among
   *that issuer's* keys only (:class:`~asxh_card.errors.UnknownKeyError`), so another issuer's
   key never verifies a card;
4. algorithm from the key, signature;
5. strict claims: the card's wire schema and the claim checks of :mod:`asxh_card.card`
   (the same as :meth:`CardClaims.from_claims`; docs/wire-format.md "Encoding and decoding");
6. the key's signing window covers the card's ``iat``; province and programmes within the
   issuer's scope;
7. ``nbf``/``exp`` with leeway;
8. the card's status-list entry (revoked / suspended invalidate the whole card);
9. each entitlement's state: revoked or suspended from its own status entry, otherwise by its
   dates on the Vietnamese calendar day of the verification.

Nothing but a :class:`~asxh_card.errors.VerificationError` escapes for a card (the verifier's
own failures are :class:`~asxh_card.errors.InternalVerifierError`, outcome ``cannot_check``,
never ``malformed``); a caller's wrong argument (a naive or string ``at``) is an
:class:`~asxh_card.errors.InvalidInputError`. Nothing here opens a network connection, and the
constructor reads no file: :meth:`Verifier.from_directory` reads a synced directory,
:meth:`Verifier.from_tokens` takes the tokens, and both hand the constructor verified objects.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from asxh_card._core.claims import DEFAULT_LEEWAY, check_times
from asxh_card._core.keys import PublicKey
from asxh_card._core.statuslist import Status, StatusRef
from asxh_card._core.timeutil import as_aware, utc_now, vn_day
from asxh_card.bundle import (
    LoadedStatusList,
    TrustBundle,
    load_status_list,
    parse_bundle,
    pinned_bundle,
)
from asxh_card.card import UncheckedCard
from asxh_card.errors import (
    AsxhError,
    BundleStaleError,
    CardLifetimeError,
    ClockBeforeBundleError,
    InputTypeError,
    InternalVerifierError,
    InvalidInputError,
    IssuerOutOfScopeError,
    KeyOutsideWindowError,
    MalformedError,
    Outcome,
    RevokedError,
    StatusListInvalidError,
    StatusListMissingError,
    StatusListStaleError,
    SuspendedError,
    UnknownIssuerError,
    UnknownKeyError,
    VerificationError,
)
from asxh_card.programmes import EntitlementState, ProgrammeRegistry
from asxh_card.verifier.result import (
    CardValidity,
    EntitlementResult,
    IssuerInfo,
    VerificationResult,
    VerificationWarning,
)
from asxh_card.verifier.store import BUNDLE_FILE, STATUS_DIR, BundleStore

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["BUNDLE_FILE", "DEFAULT_MAX_CARD_LIFETIME", "STATUS_DIR", "Verifier", "VerifierPolicy"]

#: The longest card lifetime (``exp - iat``) a verifier accepts by default: 10 years.
DEFAULT_MAX_CARD_LIFETIME = timedelta(days=3653)

# Plain ints: compared for every card and entitlement, and an IntEnum lookup costs more.
_REVOKED, _SUSPENDED = int(Status.REVOKED), int(Status.SUSPENDED)

StatusPolicy = Literal["refuse", "warn"]


@dataclass(frozen=True, slots=True)
class VerifierPolicy:
    """How strict a :class:`Verifier` is: freshness limits, clock leeway, stale-list handling.

    ``freshness_warn`` / ``freshness_max``: the bundle age (from its ``iat``) that adds a
    warning / makes every verification ``cannot_check`` (``bundle_stale``). ``leeway``: clock
    skew in seconds allowed on ``nbf``, ``exp``, the bundle and status-list times.
    ``status_stale``: ``"refuse"`` (default) makes a card whose status list is past its ``exp``
    or ``ttl`` ``cannot_check`` (``status_list_stale``); ``"warn"`` only adds a warning.
    Invalid values raise :class:`~asxh_card.errors.InvalidInputError` at construction.
    """

    freshness_warn: timedelta = timedelta(hours=24)
    freshness_max: timedelta = timedelta(days=7)
    leeway: int = DEFAULT_LEEWAY
    status_stale: StatusPolicy = "refuse"
    #: The longest card lifetime (``exp - iat``) accepted; beyond it ``lifetime_too_long``.
    max_card_lifetime: timedelta = DEFAULT_MAX_CARD_LIFETIME

    def __post_init__(self) -> None:
        for name in ("freshness_warn", "freshness_max", "max_card_lifetime"):
            if not isinstance(getattr(self, name), timedelta):
                raise InputTypeError(f"{name} must be a datetime.timedelta")
        if type(self.leeway) is not int:
            raise InputTypeError("leeway must be an int (seconds)")
        if self.leeway < 0 or self.freshness_warn < timedelta(0):
            raise InvalidInputError("leeway and freshness_warn must not be negative")
        if self.freshness_warn > self.freshness_max:
            raise InvalidInputError("freshness_warn must not exceed freshness_max")
        if self.max_card_lifetime <= timedelta(0):
            raise InvalidInputError("max_card_lifetime must be positive")
        if self.status_stale not in ("refuse", "warn"):
            raise InvalidInputError("status_stale must be 'refuse' or 'warn'")


def _checked_roots(roots: Iterable[PublicKey]) -> list[PublicKey]:
    if isinstance(roots, PublicKey | str | bytes) or not isinstance(roots, Iterable):
        raise InputTypeError("roots must be a list of PublicKey objects (load_public_key)")
    checked = list(roots)
    if not checked or not all(isinstance(r, PublicKey) for r in checked):
        raise InputTypeError("roots must be a non-empty list of PublicKey objects")
    return checked


def _moment(at: datetime) -> datetime:
    """``at`` checked: an aware datetime (a naive one is ambiguous by 7 hours here)."""
    if not isinstance(at, datetime):
        raise InputTypeError(f"at must be an aware datetime, not {type(at).__name__}")
    return as_aware(at)


@functools.lru_cache(maxsize=1024)
def _utc(seconds: int) -> datetime:
    # Cards of one batch share iat, nbf and exp: a handful of distinct values per day.
    return datetime.fromtimestamp(seconds, UTC)


class Verifier:
    """Verifies ASXH cards offline against pinned root keys and a signed trust bundle.

    Build one with :meth:`from_directory` (a directory synced by ``asxh bundle pull``) or
    :meth:`from_tokens` (the bundle token and status-list tokens in memory). The constructor
    itself does no I/O and guesses nothing: ``bundle`` is a :class:`TrustBundle`, whose
    signature is checked again against ``roots`` (an object the verifier did not load itself
    is never trusted as is), and ``status_tokens`` holds status-list tokens (a sequence, or a
    mapping whose values are tokens). Each must be acceptable under the bundle
    (:func:`~asxh_card.bundle.load_status_list`: under its issuer's status base, signed by that
    issuer's key inside its window, at least 131,072 2-bit entries, ``exp`` and/or ``ttl``), or
    construction fails (:class:`~asxh_card.errors.StatusListInvalidError`); of two lists for one
    URI the newer (``iat``) is kept. A card whose list is not held cannot be checked
    (:class:`~asxh_card.errors.StatusListMissingError`).

    ``policy`` (:class:`VerifierPolicy`) sets freshness, leeway and stale-list handling;
    ``clock`` returns the current aware datetime (tests inject one); ``registry`` is the
    programme registry (default: the bundled one).
    """

    def __init__(
        self,
        *,
        roots: Iterable[PublicKey],
        bundle: TrustBundle,
        status_tokens: Mapping[str, str] | Iterable[str] | None = None,
        policy: VerifierPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        registry: ProgrammeRegistry | None = None,
    ) -> None:
        if not isinstance(bundle, TrustBundle):
            raise InputTypeError(
                "bundle must be a TrustBundle; use Verifier.from_tokens(token, ...) for a token "
                "or Verifier.from_directory(path, ...) for a synced directory"
            )
        pinned = _checked_roots(roots)
        self._setup(
            pinned,
            pinned_bundle(bundle, roots=pinned),
            status_tokens=status_tokens,
            policy=policy,
            clock=clock,
            registry=registry,
        )

    def _setup(
        self,
        roots: list[PublicKey],
        bundle: TrustBundle,
        *,
        status_tokens: Mapping[str, str] | Iterable[str] | None,
        policy: VerifierPolicy | None,
        clock: Callable[[], datetime] | None,
        registry: ProgrammeRegistry | None,
    ) -> None:
        policy = policy or VerifierPolicy()
        if not isinstance(policy, VerifierPolicy):
            raise InputTypeError("policy must be a VerifierPolicy")
        if status_tokens is not None and (
            isinstance(status_tokens, str | bytes) or not isinstance(status_tokens, Iterable)
        ):
            raise InputTypeError("status_tokens must be a list of status-list tokens")
        self._roots = roots
        self._policy = policy
        self._freshness_warn = int(policy.freshness_warn.total_seconds())
        self._freshness_max = int(policy.freshness_max.total_seconds())
        self._leeway = policy.leeway
        self._status_stale = policy.status_stale
        self._clock = clock or utc_now
        self._registry = registry or ProgrammeRegistry.default()
        self._max_lifetime = int(policy.max_card_lifetime.total_seconds())
        self._bundle = bundle
        given = status_tokens or ()
        self._load(bundle, given.values() if isinstance(given, Mapping) else given)

    @classmethod
    def from_tokens(
        cls,
        bundle: str | bytes,
        *,
        roots: Iterable[PublicKey],
        status_tokens: Mapping[str, str] | Iterable[str] | None = None,
        policy: VerifierPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        registry: ProgrammeRegistry | None = None,
    ) -> Verifier:
        """A verifier from the bundle token and the status-list tokens (URI or SHA-256 → token).

        Raises :class:`~asxh_card.errors.BundleInvalidError` or
        :class:`~asxh_card.errors.StatusListInvalidError` (outcome ``cannot_check``).
        """
        if not isinstance(bundle, str | bytes):
            raise InputTypeError("bundle must be the bundle token (str or bytes)")
        pinned = _checked_roots(roots)
        verifier = cls.__new__(cls)
        # The token is verified here, once: no second signature check in __init__.
        verifier._setup(
            pinned,
            parse_bundle(bundle, roots=pinned),
            status_tokens=status_tokens,
            policy=policy,
            clock=clock,
            registry=registry,
        )
        return verifier

    @classmethod
    def from_directory(
        cls,
        path: str | os.PathLike[str],
        *,
        roots: Iterable[PublicKey],
        policy: VerifierPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        registry: ProgrammeRegistry | None = None,
    ) -> Verifier:
        """A verifier from a synced directory (``DIR/bundle.jwt``, ``DIR/status/*.jwt``).

        ``path`` is a ``str`` or a path object. A missing or unreadable ``bundle.jwt`` raises
        :class:`~asxh_card.errors.BundleInvalidError`, a bad list file
        :class:`~asxh_card.errors.StatusListInvalidError`, a bundle or list older than
        ``DIR/state.json`` remembers :class:`~asxh_card.errors.BundleRollbackError` /
        :class:`~asxh_card.errors.StatusListRollbackError` (all outcome ``cannot_check``).
        """
        if not isinstance(path, str | os.PathLike):
            raise InputTypeError("path must be a str or a path object")
        pinned = _checked_roots(roots)
        # Refuses an older bundle or list than DIR/state.json remembers (rollback).
        bundle, tokens = BundleStore(Path(path)).load(roots=pinned)
        verifier = cls.__new__(cls)
        verifier._setup(
            pinned, bundle, status_tokens=tokens, policy=policy, clock=clock, registry=registry
        )
        return verifier

    # -- loading -----------------------------------------------------------------------------

    def _load(self, bundle: TrustBundle, tokens: Iterable[str]) -> None:
        lists: dict[str, LoadedStatusList] = {}
        for token in tokens:
            loaded = load_status_list(token, bundle)
            held = lists.get(loaded.uri)
            if held is None or loaded.issued_at > held.issued_at:
                lists[loaded.uri] = loaded
        self._lists = lists
        self._issuer_info = {
            issuer_id: IssuerInfo(issuer.id, issuer.name, issuer.province)
            for issuer_id, issuer in bundle.issuers.items()
        }

    @property
    def policy(self) -> VerifierPolicy:
        """The policy in use."""
        return self._policy

    @property
    def bundle(self) -> TrustBundle:
        """The trust bundle in use."""
        return self._bundle

    @property
    def bundle_version(self) -> int:
        """The version of the trust bundle in use."""
        return self._bundle.version

    def bundle_warnings(self, at: datetime | None = None) -> tuple[VerificationWarning, ...]:
        """Check the clock and the bundle's freshness at ``at`` (default: now) without a card.

        Raises what :meth:`verify` would raise for the bundle; returns the warnings otherwise.
        A service point calls this at start-up to tell the clerk to sync early.
        """
        now = int(_moment(at).timestamp()) if at is not None else int(self._clock().timestamp())
        return self._check_bundle(now)

    # -- verification ------------------------------------------------------------------------

    def _check_bundle(self, now: int) -> tuple[VerificationWarning, ...]:
        bundle = self._bundle
        if now < bundle.issued_at - self._leeway:
            raise ClockBeforeBundleError(
                f"device time {now} is before the bundle's iat {bundle.issued_at}"
            )
        if now > bundle.expires_at + self._leeway:
            raise BundleStaleError(f"the bundle (version {bundle.version}) is past its exp")
        age = now - bundle.issued_at
        if age > self._freshness_max:
            raise BundleStaleError(
                f"the bundle (version {bundle.version}) is {age // 3600} h old; "
                f"the limit is {self._freshness_max // 3600} h"
            )
        if age > self._freshness_warn:
            return (
                VerificationWarning(
                    "bundle_old",
                    f"Gói dữ liệu tin cậy đã {age // 3600} giờ chưa cập nhật; hãy đồng bộ sớm.",
                    f"The trust bundle is {age // 3600} h old; sync it soon.",
                ),
            )
        return ()

    def _status_block(
        self, ref: StatusRef, count: int, issuer: str, now: int, warnings: list[VerificationWarning]
    ) -> list[int]:
        """The card's entry and its entitlements' entries (the status block)."""
        if not self._bundle.issuers[issuer].owns_status_uri(ref.uri):
            # Otherwise issuer B would decide whether issuer A's cards are revoked: the card
            # itself is wrong, so invalid, not "cannot check".
            raise StatusListInvalidError(
                "the card's status list is not under its issuer's status base",
                outcome=Outcome.INVALID,
            )
        loaded = self._lists.get(ref.uri)
        if loaded is None:
            raise StatusListMissingError(f"no status list {ref.uri[:200]} is held; sync first")
        stale = loaded.stale_at(now, self._leeway)
        if stale is not None:
            if self._status_stale == "refuse":
                raise StatusListStaleError(f"the status list is {stale}")
            warnings.append(
                VerificationWarning(
                    "status_list_stale",
                    "Danh sách trạng thái thẻ đã quá cũ; kết quả thu hồi có thể chưa cập nhật.",
                    f"The status list is {stale}; revocations may be missing.",
                )
            )
        try:
            values = loaded.status_list.values(ref.idx, count)
        except IndexError:
            raise StatusListInvalidError(
                f"status entries {ref.idx}..{ref.idx + count - 1} outside the list "
                f"(size {loaded.status_list.size})"
            ) from None
        if max(values) > _SUSPENDED:
            raise StatusListInvalidError(f"undefined status value {max(values)}")
        return values

    def verify(self, text: str, *, at: datetime | None = None) -> VerificationResult:
        """Verify a card from its QR text (``asxh:/...``) or bare token at ``at`` (default now).

        ``text`` must be exactly the card's text: whitespace around it is refused (``malformed``),
        as peers do; strip what a scanner or a file adds before calling. Returns a
        :class:`VerificationResult`; raises a :class:`~asxh_card.errors.VerificationError`
        subclass whose ``reason`` says why not and whose ``outcome`` is ``invalid`` or
        ``cannot_check``. A naive or non-datetime ``at`` raises
        :class:`~asxh_card.errors.InvalidInputError` (:class:`~asxh_card.errors.InputTypeError`
        for a wrong type).
        """
        moment = _moment(at) if at is not None else self._clock()
        now = int(moment.timestamp())
        try:
            return self._verify(text, moment, now)
        except VerificationError:
            raise
        except (AsxhError, ValueError) as exc:
            # Defence in depth: DESIGN.md §5 lets nothing but VerificationError escape.
            raise MalformedError(f"{type(exc).__name__}: {exc}"[:200]) from None
        except Exception as exc:
            raise InternalVerifierError(f"{type(exc).__name__}: {exc}"[:200]) from exc

    def _verify(self, text: str, moment: datetime, now: int) -> VerificationResult:
        bundle = self._bundle
        warnings = list(self._check_bundle(now))
        if not isinstance(text, str):
            raise MalformedError("the card must be given as text")
        if text[:1].isspace() or text[-1:].isspace():
            raise MalformedError("whitespace around the card text (strip it before verifying)")
        card = UncheckedCard(text)
        issuer_id = card.issuer
        issuer = bundle.issuers.get(issuer_id)
        if issuer is None:
            raise UnknownIssuerError(f"issuer {issuer_id[:40]!r} is not in the trust bundle")
        kid = card.kid
        key = issuer.keys.get(kid)
        if key is None:
            raise UnknownKeyError(f"issuer {issuer_id!r} has no key {kid[:64]!r}")
        checked = card.verify(key.key, self._registry)
        claims = checked.claims
        if not key.covers(claims.iat):
            raise KeyOutsideWindowError(f"card iat {claims.iat} outside the key's window")
        if claims.prov != issuer.province:
            raise IssuerOutOfScopeError(
                f"issuer {issuer.id!r} signs for province {issuer.province}, not {claims.prov}"
            )
        entitlements = checked.entitlements
        if not checked.programmes <= issuer.programmes:
            outside = ", ".join(sorted(checked.programmes - issuer.programmes))
            raise IssuerOutOfScopeError(f"issuer {issuer.id!r} may not sign {outside}")
        if claims.exp - claims.iat > self._max_lifetime:
            # A leaked key signs a backdated card inside its window: the lifetime bounds it.
            raise CardLifetimeError(
                f"the card lives {(claims.exp - claims.iat) // 86_400} days; "
                f"the limit is {self._max_lifetime // 86_400}"
            )
        check_times(claims.iat, claims.nbf, claims.exp, now=now, leeway=self._leeway)
        # One lookup for the card and all its entitlements: their entries are consecutive.
        # Every card has a status reference (the codec refuses one without: DESIGN.md §4).
        status = checked.status
        card_value, *entitlement_values = self._status_block(
            status, 1 + len(entitlements), issuer_id, now, warnings
        )
        if card_value == _REVOKED:
            raise RevokedError("the card is revoked in its status list")
        if card_value == _SUSPENDED:
            raise SuspendedError("the card is suspended in its status list")
        day = vn_day(now)
        results = []
        for position, (entitlement, value) in enumerate(
            zip(entitlements, entitlement_values, strict=True)
        ):
            # Entitlement.state_at, inlined: this loop runs for every entitlement of every card.
            if value == _REVOKED:
                state = EntitlementState.REVOKED
            elif value == _SUSPENDED:
                state = EntitlementState.SUSPENDED
            elif day < entitlement.valid_from:
                state = EntitlementState.NOT_YET_VALID
            elif entitlement.valid_to is not None and day > entitlement.valid_to:
                state = EntitlementState.EXPIRED
            else:
                state = EntitlementState.ACTIVE
            results.append(
                EntitlementResult(
                    programme=entitlement.programme,
                    valid_from=entitlement.valid_from,
                    valid_to=entitlement.valid_to,
                    attributes=entitlement.attributes,
                    state=state,
                    status=StatusRef(status.idx + 1 + position, status.uri),
                )
            )
        return VerificationResult(
            holder=checked.holder,
            issuer=self._issuer_info[issuer_id],
            validity=CardValidity(
                issued_at=_utc(claims.iat),
                not_before=_utc(claims.nbf),
                expires_at=_utc(claims.exp),
            ),
            serial=claims.jti,
            guardian=checked.guardian,
            entitlements=tuple(results),
            checked_at=moment,
            bundle_version=bundle.version,
            warnings=tuple(warnings),
        )

    def verify_image(
        self, image: str | os.PathLike[str] | bytes | Image, *, at: datetime | None = None
    ) -> VerificationResult:
        """Read the card's QR from an image (path, bytes or Pillow image) and verify it.

        Needs the ``scan`` extra (Pillow, zxing-cpp), imported only here. A photo without a
        readable ASXH QR raises :class:`~asxh_card.errors.MalformedError` with a message a clerk
        understands.
        """
        from asxh_card.verifier.image import read_card_qr  # noqa: PLC0415 - optional extra

        return self.verify(read_card_qr(image), at=at)
