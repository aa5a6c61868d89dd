"""Issue 9 "done when": a production-shaped world with no root key on the service host.

The national root key lives only in this test (the offline ceremony machine). The service runs
for real (uvicorn on a local port, so ``asxh bundle publish`` and ``asxh bundle pull`` talk HTTP
to it) with ``self_signed_bundles`` off and only the root's *public* key pinned. The story:
revoke before any bundle is refused (fail closed); the ceremony signs a bundle from the issuers'
public keys and an operator publishes it; a service point pulls and verifies offline; a
revocation republishes the list with the issuer's key only; the next pull makes the offline
verifier refuse the card; an older list copied back by hand is refused (rollback); and after a
key rotation the new key is not in the bundle, so a revocation answers 503 and changes nothing.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from asxh_card._core.keys import PrivateKey
from asxh_card.cli import app as cli
from asxh_card.errors import RevokedError, StatusListRollbackError
from asxh_card.trust import build_bundle
from asxh_card.verifier import BundleStore, Verifier

runner = CliRunner()
TRUST_DOC = Path(__file__).resolve().parents[2] / "docs" / "trust-bundle.md"


def _service_helpers() -> Any:
    # tests/service/conftest.py, by path: "conftest" names the top-level one.
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_service_conftest", Path(__file__).with_name("conftest.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_helpers = _service_helpers()
build_service = _helpers.build_service
Service = Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str, Path]]:
    """The service (no root key, root public key pinned), its public URL, the root key dir."""
    tmp = tmp_path_factory.mktemp("world")
    ceremony = tmp / "ceremony"
    ceremony.mkdir()
    root = PrivateKey.generate()  # never written where the service can read it
    (ceremony / "root.jwk").write_text(json.dumps(root.public_key.to_jwk()))
    (tmp / "pinned").mkdir()
    pinned = tmp / "pinned" / "root.jwk"
    shutil.copy(ceremony / "root.jwk", pinned)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    for service in build_service(
        tmp / "svc",
        f"sqlite:///{tmp / 'svc.db'}",
        "sqlite",
        public_url=url,
        self_signed_bundles=False,
        root_public_key_file=pinned,
    ):
        server = uvicorn.Server(
            uvicorn.Config(service.app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        service._root = root  # type: ignore[attr-defined]  # the ceremony's, not the service's
        try:
            yield service, url, ceremony
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def _card(service: Service) -> dict[str, Any]:
    number = service.register()
    service.grant("off79", number, service.BHYT)
    return service.issue("off79", number)


def _ceremony(service: Service, url: str, ceremony: Path, version: int) -> Path:
    """The offline ceremony: issuers' public keys (JWKS) and status bases, signed by the root."""
    jwks = service.client.get("/.well-known/jwks.json").json()["keys"]
    issuers = []
    for issuer in ("vn-79", "vn-01"):
        row = service.call("admin", "GET", "/v1/admin/issuers").json()
        info = next(i for i in row if i["id"] == issuer)
        keys = [
            {
                "jwk": {k: v for k, v in key.items() if k in ("kty", "crv", "x", "y")},
                "not_before": 0,
            }
            for key in jwks
            if key["iss"] == issuer
        ]
        issuers.append(
            {
                "id": issuer,
                "name": info["name"],
                "province": info["province"],
                "programmes": sorted(info["programmes"]),
                "status_base": f"{url}/v1/status-lists/{issuer}/",
                "keys": keys,
            }
        )
    now = int(time.time())
    token, _ = build_bundle(
        root=service._root,  # type: ignore[attr-defined]
        issuers=issuers,
        version=version,
        issued_at=now - 5,
        expires_at=now + 7 * 86_400,
    )
    out = ceremony / f"bundle-{version}.jwt"
    out.write_text(token + "\n")
    return out


def test_revoke_republish_pull_refuse_without_a_root_key(
    world: tuple[Service, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """revoke -> list re-signed by the issuer key -> asxh bundle pull -> offline refusal."""
    service, url, ceremony = world
    # No root key anywhere on the service host; the service does not sign bundles.
    assert not service.ctx.keyring.root_available()
    assert not service.ctx.settings.effective_root_key_file.exists()
    assert service.client.get("/v1/trust-bundle").status_code == 503
    card = _card(service)
    # Fail closed: without a published bundle no key may sign the list, so no revocation.
    early = service.call(
        "off79", "POST", f"/v1/cards/{card['serial']}/revoke", json={"reason_code": "lost"}
    )
    assert early.status_code == 503, early.text
    assert service.call("off79", "GET", f"/v1/cards/{card['serial']}").json()["state"] == "active"

    # The ceremony's bundle, uploaded by an operator with asxh bundle publish.
    bundle_file = _ceremony(service, url, ceremony, 1)
    monkeypatch.setenv("ASXH_ACCESS_TOKEN", service.token("admin"))
    # docs/trust-bundle.md "Commands", the publish line as written (the token and the address
    # swapped for this service's); test_docs_trust.py runs the block's other lines.
    (documented,) = [
        line.split(" #", 1)[0]
        for line in TRUST_DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("ASXH_ACCESS_TOKEN=")
    ]
    assert documented.startswith("ASXH_ACCESS_TOKEN=... asxh bundle publish bundle.jwt --url ")
    args = documented.split()[2:]
    args = [str(bundle_file) if a == "bundle.jwt" else a for a in args]
    args = [url if a == "https://asxh.gov.vn" else a for a in args]
    published = runner.invoke(cli, args)
    assert published.exit_code == 0, published.output
    again = runner.invoke(cli, ["bundle", "publish", str(bundle_file), "--url", url])
    assert again.exit_code == 1
    assert "bundle_rollback" in again.output
    forged = _ceremony_with_other_root(bundle_file)
    refused = service.call(
        "admin",
        "POST",
        "/v1/admin/trust-bundle",
        content=forged,
        headers={"Content-Type": "application/jwt"},
    )
    assert refused.status_code == 422
    assert refused.json()["reason"] == "bundle_invalid"

    # A service point syncs and verifies offline.
    point = tmp_path / "point"
    pull = ["bundle", "pull", f"{url}/v1/trust-bundle", "--root", str(ceremony / "root.jwk")]
    result = runner.invoke(cli, [*pull, "--dir", str(point)])
    assert result.exit_code == 0, result.output
    roots = [service._root.public_key]  # type: ignore[attr-defined]
    assert (
        Verifier.from_directory(point, roots=roots).verify(card["qr_text"]).serial
        == (card["serial"])
    )
    list_file = BundleStore(point).status_path(card["status"]["uri"])
    before_revocation = list_file.read_bytes()

    # Revocation: 2xx only once the published list shows it, signed by the issuer's key.
    revoked = service.call(
        "off79", "POST", f"/v1/cards/{card['serial']}/revoke", json={"reason_code": "lost"}
    )
    assert revoked.status_code == 200, revoked.text
    result = runner.invoke(cli, [*pull, "--dir", str(point)])
    assert result.exit_code == 0, result.output
    with pytest.raises(RevokedError):
        Verifier.from_directory(point, roots=roots).verify(card["qr_text"])
    verify = runner.invoke(
        cli,
        ["verify", "--bundle", str(point), "--root", str(ceremony / "root.jwk"), card["qr_text"]],
    )
    assert verify.exit_code == 1, verify.output

    # Rollback: the older list copied back by hand is refused, not believed.
    list_file.write_bytes(before_revocation)
    with pytest.raises(StatusListRollbackError):
        Verifier.from_directory(point, roots=roots)

    # Rotation without a ceremony: the new key is not in the bundle, the old key's window
    # closed at rotation, so no key may sign the list: the revocation is refused, nothing moves.
    other = _card(service)
    rotated = service.call("admin", "POST", "/v1/admin/issuers/vn-79/keys", json={"alg": "ES256"})
    assert rotated.status_code == 201, rotated.text
    refused_revoke = service.call(
        "off79", "POST", f"/v1/cards/{other['serial']}/revoke", json={"reason_code": "lost"}
    )
    assert refused_revoke.status_code == 503, refused_revoke.text
    assert service.call("off79", "GET", f"/v1/cards/{other['serial']}").json()["state"] == (
        "active"
    )
    # The next ceremony publishes the new key; revocation works again.
    monkeypatch.setenv("ASXH_ACCESS_TOKEN", service.token("admin"))
    assert (
        runner.invoke(
            cli, ["bundle", "publish", str(_ceremony(service, url, ceremony, 2)), "--url", url]
        ).exit_code
        == 0
    )
    revoked = service.call(
        "off79", "POST", f"/v1/cards/{other['serial']}/revoke", json={"reason_code": "lost"}
    )
    assert revoked.status_code == 200, revoked.text


def _ceremony_with_other_root(bundle_file: Path) -> bytes:
    """The same payload signed by a root nobody pinned."""
    from asxh_card._core import jws as _jws
    from asxh_card.bundle import BUNDLE_LIMITS, BUNDLE_TYP
    from asxh_card.trust import sign_bundle_payload

    parsed = _jws.parse_compact(
        bundle_file.read_text().strip(), limits=BUNDLE_LIMITS, typ=BUNDLE_TYP
    )
    payload = _jws.decode_payload(parsed, limits=BUNDLE_LIMITS)
    payload["version"] = 9
    return sign_bundle_payload(payload, PrivateKey.generate()).encode()
