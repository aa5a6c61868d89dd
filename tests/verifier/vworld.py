"""Shared helpers of the verifier tests: a root, two issuers, status lists, cards.

Cards are built with :mod:`asxh_card.card` and lists with :mod:`asxh_card._core.statuslist`
only, so these tests do not depend on the issuing package.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from asxh_card import card as _card
from asxh_card._core.keys import PrivateKey
from asxh_card._core.statuslist import Status, StatusList, StatusRef, sign_status_list
from asxh_card.programmes import Entitlement
from asxh_card.trust import sign_bundle_payload
from asxh_card.verifier import TrustBundle, Verifier, VerifierPolicy

#: 2026-03-01T00:00:00Z: every test runs at this instant unless it says otherwise.
T0 = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
AT = datetime.fromtimestamp(T0, UTC)
DAY = 86_400
BASE_79 = "https://asxh.example.vn/v1/status/vn-79/"
BASE_01 = "https://asxh.example.vn/v1/status/vn-01/"
URI_79 = BASE_79 + "1"
URI_01 = BASE_01 + "1"
LIST_SIZE = 131_072
POLICY_FIELDS = ("freshness_warn", "freshness_max", "leeway", "status_stale", "max_card_lifetime")


def _asxh(prefix: str) -> str:
    from asxh_card.ids import damm_check_digit

    return prefix + str(damm_check_digit(prefix))


@dataclass
class World:
    """Keys, lists and helpers for one test."""

    root: PrivateKey
    key_79: PrivateKey
    key_01: PrivateKey
    lists: dict[str, StatusList] = field(default_factory=dict)
    list_claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    holder: str = ""
    guardian: str = ""
    _tokens: dict[tuple[str, str, bytes], str] = field(default_factory=dict)

    def issuers(self) -> list[dict[str, Any]]:
        return [
            {
                "id": "vn-79",
                "name": "BHXH Thành phố Hồ Chí Minh",
                "province": "79",
                "programmes": ["BHYT", "TGXH", "BHXH", "NCC", "GN", "BHTN"],
                "status_base": BASE_79,
                "keys": [
                    {
                        "jwk": self.key_79.public_key.to_jwk(),
                        "not_before": T0 - 365 * DAY,
                    }
                ],
            },
            {
                "id": "vn-01",
                "name": "BHXH Thành phố Hà Nội",
                "province": "01",
                "programmes": ["BHYT"],
                "status_base": BASE_01,
                "keys": [
                    {
                        "jwk": self.key_01.public_key.to_jwk(),
                        "not_before": T0 - 365 * DAY,
                    }
                ],
            },
        ]

    def status_token(self, uri: str, **overrides: Any) -> str:
        signer = self.key_79 if uri.startswith(BASE_79) else self.key_01
        options: dict[str, Any] = {"issued_at": T0 - 3600, "ttl": 2 * DAY}
        options.update(self.list_claims.get(uri, {}))
        options.update(overrides)
        # ECDSA signatures are randomised: cache so that a bundle and the tokens match.
        cache_key = (uri, repr(sorted(options.items())), self.lists[uri].to_bytes())
        if cache_key not in self._tokens:
            self._tokens[cache_key] = sign_status_list(self.lists[uri], signer, uri=uri, **options)
        return self._tokens[cache_key]

    def status_tokens(self) -> list[str]:
        """The current token of every list of the world."""
        return [self.status_token(uri) for uri in self.lists]

    def payload(
        self,
        *,
        version: int = 1,
        iat: int = T0 - 3600,
        exp: int = T0 + 30 * DAY,
        issuers: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        return {
            "v": 2,
            "version": version,
            "iat": iat,
            "exp": exp,
            "issuers": issuers if issuers is not None else self.issuers(),
        }

    def bundle(self, **kwargs: Any) -> str:
        return sign_bundle_payload(self.payload(**kwargs), self.root)

    def verifier(self, **options: Any) -> Verifier:
        """A verifier from the world's bundle token (or ``bundle=``) and (unless given) all its
        lists' tokens; policy fields as keywords."""
        bundle = options.pop("bundle", None) or self.bundle()
        options.setdefault("status_tokens", self.status_tokens())
        policy = VerifierPolicy(**{f: options.pop(f) for f in POLICY_FIELDS if f in options})
        roots = [self.root.public_key]
        if isinstance(bundle, TrustBundle):
            return Verifier(roots=roots, bundle=bundle, policy=policy, **options)
        return Verifier.from_tokens(bundle, roots=roots, policy=policy, **options)

    def claims(self, **overrides: Any) -> _card.CardClaims:
        """A valid card of vn-79; its entitlements take entries 11-14 of the card's block."""
        fields: dict[str, Any] = {
            "issuer": "vn-79",
            "province": "79",
            "serial": "C0001",
            "issued_at": T0 - 30 * DAY,
            "not_before": T0 - 30 * DAY,
            "expires_at": T0 + 335 * DAY,
            "holder": _card.Holder(self.holder, "Nguyễn Thị Minh Khai", date(1990, 3, 15), "F"),
            "entitlements": (
                Entitlement(
                    "BHYT",
                    date(2026, 1, 1),
                    date(2026, 12, 31),
                    {"level": 2, "coverage": 100, "facility": "79-001"},
                ),
                Entitlement("TGXH", date(2026, 1, 1), None, {"amount": 750_000}),
                Entitlement("NCC", date(2026, 4, 1), None, {"amount": 2_000_000}),
                Entitlement("BHTN", date(2025, 1, 1), date(2025, 12, 31), {"amount": 3_000_000}),
            ),
            "status": StatusRef(10, URI_79),
            "guardian": _card.Guardian(self.guardian, "Trần Văn Bình", "guardian"),
        }
        fields.update(overrides)
        return _card.CardClaims(**fields)

    def card(self, signer: PrivateKey | None = None, **overrides: Any) -> str:
        return _card.qr_text(_card.sign_card(self.claims(**overrides), signer or self.key_79))

    def set_status(self, uri: str, idx: int, status: Status) -> None:
        self.lists[uri][idx] = int(status)


@pytest.fixture(scope="session")
def keys() -> tuple[PrivateKey, PrivateKey, PrivateKey]:
    return PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate()


@pytest.fixture
def world(keys: tuple[PrivateKey, PrivateKey, PrivateKey]) -> World:
    root, key_79, key_01 = keys
    return World(
        root=root,
        key_79=key_79,
        key_01=key_01,
        lists={URI_79: StatusList.empty(LIST_SIZE), URI_01: StatusList.empty(LIST_SIZE)},
        holder=_asxh("7900000001"),
        guardian=_asxh("7900000002"),
    )


MakeCard = Callable[..., str]


def reasons(errors: Sequence[Exception]) -> list[str]:
    return [getattr(e, "reason", "?") for e in errors]


# -- a static HTTP server standing in for the service (ETags, status indexes) ------------


class EtagHandler(SimpleHTTPRequestHandler):
    """Serves files with a strong ETag and answers a matching If-None-Match with 304."""

    requested: list[str]

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.json"
        if not path.is_file():
            self.requested.append(self.path)
            self.send_error(404)
            return
        data = path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.requested.append(self.path + " 304")
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.requested.append(self.path)
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str, list[str]]]:
    """A directory served over HTTP, and the paths requested from it (in order)."""
    served = tmp_path / "www"
    served.mkdir()
    requested: list[str] = []
    handler = type("Handler", (EtagHandler,), {"requested": requested})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def served(http_dir: tuple[Path, str, list[str]]) -> tuple[Path, str]:
    """``http_dir`` without the request log: the served directory and its base URL."""
    return http_dir[0], http_dir[1]
