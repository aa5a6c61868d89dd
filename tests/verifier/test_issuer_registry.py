"""The issuer registry file that ``asxh bundle build`` reads before the national root signs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asxh_card._core.keys import PrivateKey
from asxh_card.errors import BundleInvalidError
from asxh_card.trust import load_issuer_registry


def _registry(jwk_file: str = "vn-79.jwk") -> str:
    entry = {
        "id": "vn-79",
        "name": "BHXH TP. Hồ Chí Minh",
        "province": "79",
        "programmes": ["BHYT"],
        "status_base": "https://asxh.example.vn/v1/status-lists/vn-79/",
        "keys": [{"jwk_file": jwk_file, "not_before": 0, "not_after": None}],
    }
    return json.dumps({"issuers": [entry]}, ensure_ascii=False)


def test_registry_reads_keys_from_files(tmp_path: Path) -> None:
    """A registry entry's jwk_file is read beside the registry and normalised to a public JWK."""
    key = PrivateKey.generate()
    (tmp_path / "vn-79.jwk").write_text(json.dumps(key.public_key.to_jwk()))
    (tmp_path / "issuers.json").write_text(_registry())
    [issuer] = load_issuer_registry(tmp_path / "issuers.json")
    assert issuer["province"] == "79"
    assert issuer["keys"][0]["jwk"] == key.public_key.to_jwk()


def test_duplicate_member_in_registry_is_refused(tmp_path: Path) -> None:
    """Scope widening by duplicate member: a second "province" the root would sign unseen.

    A last-wins reader would give the issuer province 01 while a reviewer reading the file top
    down sees 79; the registry is refused instead.
    """
    key = PrivateKey.generate()
    (tmp_path / "vn-79.jwk").write_text(json.dumps(key.public_key.to_jwk()))
    text = _registry().replace('"province": "79",', '"province": "79", "province": "01",')
    (tmp_path / "issuers.json").write_text(text)
    with pytest.raises(BundleInvalidError, match="duplicate"):
        load_issuer_registry(tmp_path / "issuers.json")


def test_duplicate_member_in_jwk_file_is_refused(tmp_path: Path) -> None:
    """Key substitution by duplicate member in a jwk_file ("x" twice): refused, not last-wins."""
    jwk = PrivateKey.generate().public_key.to_jwk()
    other = PrivateKey.generate().public_key.to_jwk()
    text = json.dumps(jwk)[:-1] + f', "x": "{other["x"]}"}}'
    (tmp_path / "vn-79.jwk").write_text(text)
    (tmp_path / "issuers.json").write_text(_registry())
    with pytest.raises(BundleInvalidError, match=r"jwk_file.*duplicate"):
        load_issuer_registry(tmp_path / "issuers.json")


def test_unreadable_registry_names_the_file(tmp_path: Path) -> None:
    """A missing registry file is a BundleInvalidError naming the path."""
    with pytest.raises(BundleInvalidError, match=r"issuers\.json"):
        load_issuer_registry(tmp_path / "issuers.json")


def test_registry_is_read_as_its_schema(tmp_path: Path) -> None:
    """Unknown members, a key with both jwk and jwk_file, or a missing status_base are refused."""
    key = PrivateKey.generate()
    (tmp_path / "vn-79.jwk").write_text(json.dumps(key.public_key.to_jwk()))
    entry = json.loads(_registry())
    cases = []
    unknown = json.loads(json.dumps(entry))
    unknown["issuers"][0]["sha256"] = "00"
    cases.append((unknown, "sha256"))
    both = json.loads(json.dumps(entry))
    both["issuers"][0]["keys"][0]["jwk"] = key.public_key.to_jwk()
    cases.append((both, "exactly one of jwk and jwk_file"))
    no_base = json.loads(json.dumps(entry))
    del no_base["issuers"][0]["status_base"]
    cases.append((no_base, "status_base"))
    for document, message in cases:
        (tmp_path / "issuers.json").write_text(json.dumps(document))
        with pytest.raises(BundleInvalidError, match=message):
            load_issuer_registry(tmp_path / "issuers.json")
