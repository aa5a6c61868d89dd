"""README.md, docs/trust-bundle.md and docs/verifier.md, followed literally (issue 9 "done when").

Every fenced block of the three docs is listed in :data:`COVERAGE` with the test that runs it;
a block added to a doc without a test fails :func:`test_every_block_of_the_followed_docs_is_run`.
The blocks are read from the docs (``docblocks.py``), never copied here. Only these swaps are
made: a temporary directory for ``/var/lib/asxh``, a local HTTP server for the documented
``http(s)://`` addresses, and ``examples/`` linked into the working directory.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import io
import json
import re
import shlex
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from docblocks import (
    FOLLOWED_DOCS,
    README,
    ROOT,
    TRUST_DOC,
    VERIFIER_DOC,
    Block,
    block_under,
    blocks,
    shell_commands,
)
from PIL import Image
from typer.testing import CliRunner

from asxh_card import card as _card
from asxh_card._core.keys import PrivateKey
from asxh_card._core.statuslist import StatusList, StatusRef, sign_status_list
from asxh_card.bundle import BundleDocument, parse_bundle
from asxh_card.cli import app
from asxh_card.hazmat import verify_card
from asxh_card.ids import damm_check_digit
from asxh_card.issuing import Issuer
from asxh_card.issuing.render import card_png
from asxh_card.keystore import load_private_key
from asxh_card.programmes import Entitlement
from asxh_card.trust import sign_bundle_payload
from asxh_card.verifier import Verifier, VerifierPolicy

runner = CliRunner()

#: Each block of the followed docs (doc, info string, first line) -> the test that runs it.
COVERAGE: dict[tuple[str, str, str], str] = {
    # make test is this suite; make run is `asxh serve --demo` (Makefile checked here, the
    # command run by tests/service/test_runtime.py::test_serve_demo_prints_how_to_log_in).
    ("README.md", "sh", "make run"): "tests/verifier/test_docs_followed.py::"
    "test_readme_make_targets_are_what_the_readme_says",
    ("README.md", "python", "from datetime import date"): "tests/test_readme.py::"
    "test_readme_python_block_runs",
    ("README.md", "sh", "export ASXH_KEY_PASSPHRASE='a long passphrase'"): "tests/verifier/"
    "test_docs_followed.py::test_readme_issuing_commands_run_as_written",
    ("README.md", "sh", "asxh bundle pull http://127.0.0.1:8000/v1/trust-bundle"): "tests/"
    "verifier/test_docs_followed.py::test_sync_and_verify_commands_run_as_written",
    ("README.md", "python offline", "from asxh_card import"): "tests/verifier/test_docs.py::"
    "test_verifier_snippet_runs_as_written",
    ("README.md", "sh", "asxh db upgrade"): "tests/service/test_readme_operations.py::"
    "test_readme_operations_commands_run_as_written",
    ("trust-bundle.md", "json", "{"): "tests/verifier/test_docs_followed.py::"
    "test_bundle_payload_example_is_a_bundle_verifiers_accept",
    ("trust-bundle.md", "", "DIR/bundle.jwt"): "tests/verifier/test_docs_followed.py::"
    "test_sync_and_verify_commands_run_as_written",
    # asxh bundle publish, the one line not run there, runs as written in test_trust_world.
    ("trust-bundle.md", "sh", "# once, offline"): "tests/verifier/test_docs_trust.py::"
    "test_trust_bundle_commands_run_as_documented",
    ("verifier.md", "python offline", "from asxh_card import"): "tests/verifier/test_docs.py::"
    "test_verifier_snippet_runs_as_written",
    ("verifier.md", "sh", "asxh verify --bundle /var/lib/asxh"): "tests/verifier/"
    "test_docs_followed.py::test_sync_and_verify_commands_run_as_written",
    ("verifier.md", "python", "Verifier(*, roots"): "tests/verifier/test_docs_followed.py::"
    "test_verifier_api_synopsis_matches_the_code",
    ("verifier.md", "", "asxh verify [--bundle FILE|DIR]"): "tests/verifier/"
    "test_docs_followed.py::test_asxh_verify_synopsis_matches_its_options",
    ("verifier.md", "json", '{"format": 1'): "tests/verifier/test_docs_followed.py::"
    "test_sync_and_verify_commands_run_as_written",
}


def _covered_by(block: Block) -> str | None:
    doc, info, first = block.key
    for (c_doc, c_info, c_first), test in COVERAGE.items():
        if (doc, info) == (c_doc, c_info) and first.startswith(c_first):
            return test
    return None


def test_every_block_of_the_followed_docs_is_run() -> None:
    """Every fenced block of README.md, docs/trust-bundle.md and docs/verifier.md is named in
    COVERAGE with a test that exists; every COVERAGE entry still matches a block."""
    found = [b for doc in FOLLOWED_DOCS for b in blocks(doc)]
    assert len(found) == len(COVERAGE)
    uncovered = [b.key for b in found if _covered_by(b) is None]
    assert not uncovered, f"blocks without a test that runs them: {uncovered}"
    for test in COVERAGE.values():
        path, name = test.split("::")
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in names, test


def test_readme_make_targets_are_what_the_readme_says() -> None:
    """README: `make run` starts the demo service, `make test` runs lint (ruff), type checks
    (mypy) and the suite (this suite is what `make test` runs)."""
    block = blocks(README)[0]
    assert shell_commands(block.body) == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run: .*\n\t\$\(BIN\)/asxh serve --demo$", makefile, re.M)
    assert re.search(r"^test: lint typecheck pytest$", makefile, re.M)
    assert "ruff check" in makefile
    assert "mypy" in makefile


def _run(command: str, swaps: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run one documented command: ``export K=V`` and ``K=V cmd`` set the environment,
    ``asxh ...`` runs the CLI in-process. Returns the CLI result (None for an export)."""
    for old, new in swaps.items():
        command = command.replace(old, new)
    args = shlex.split(command)
    if args[0] == "export":
        name, value = args[1].split("=", 1)
        monkeypatch.setenv(name, value)
        return None
    while "=" in args[0]:
        name, value = args.pop(0).split("=", 1)
        monkeypatch.setenv(name, value)
    assert args[0] == "asxh", command
    return runner.invoke(app, args[1:], catch_exceptions=False)


def test_readme_issuing_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README "Issuing and printing a card": the passphrase, `asxh keys generate`, `asxh issue
    examples/card.json` exit 0 and `out/` holds the files the README lists; the QR text is a
    card signed by the new key (with its status reference)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    commands = shell_commands(block_under(README, "Issuing and printing a card", "sh").body)
    assert [c.split()[:2] for c in commands] == [
        ["export", "ASXH_KEY_PASSPHRASE='a"],
        ["asxh", "keys"],
        ["asxh", "issue"],
    ]
    for command in commands:
        result = _run(command, {}, monkeypatch)
        assert result is None or result.exit_code == 0, (command, result.output)
    passphrase = shlex.split(commands[0])[1].split("=", 1)[1]
    key = load_private_key("keys/vn-79.pem", passphrase)
    out = tmp_path / "out"
    (text_file,) = out.glob("*.txt")
    serial = text_file.stem
    suffixes = {p.name[len(serial) :] for p in out.iterdir()}
    # "<serial>.txt (QR text), .jwt, -qr.png/-qr.svg, -barcode.png/.svg, -card.png, -print.pdf"
    assert suffixes == {
        ".txt",
        ".jwt",
        "-qr.png",
        "-qr.svg",
        "-barcode.png",
        "-barcode.svg",
        "-card.png",
        "-print.pdf",
    }
    claims = verify_card(
        text_file.read_text().strip(),
        keys=lambda iss, kid: key.public_key if (iss, kid) == ("vn-79", key.kid) else None,
    )
    assert claims.serial == serial
    assert claims.status == StatusRef(90121, "https://status.asxh.gov.vn/lists/79/1")


def _number(body: str) -> str:
    return body + str(damm_check_digit(body))


def test_sync_and_verify_commands_run_as_written(
    served: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README "Verifying a card offline" (`asxh bundle pull`, `asxh verify` of a card photo)
    and docs/verifier.md's `asxh verify ... photo.jpg`, as written, against a service stand-in:
    both exit 0 (valid). The pulled directory is exactly docs/trust-bundle.md's layout, and
    `asxh verify --json` prints the members docs/verifier.md shows."""
    www, base = served
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    sync = tmp_path / "var-lib-asxh"
    sync.mkdir()
    now = int(time.time())
    root, key = PrivateKey.generate(), PrivateKey.generate("ES256")
    (work / "root.jwk").write_text(json.dumps(root.public_key.to_jwk()))
    status_base = f"{base}/v1/status-lists/vn-79/"
    uri = status_base + "1"
    # A card photo: the card face of a card with a guardian, as a JPEG.
    issued = Issuer(issuer_id="vn-79", province="79", signer=key).issue(
        _card.Holder(_number("7900000001"), "Nguyễn Thị Hoa", date(1960, 1, 2), "F"),
        [
            Entitlement(
                "BHYT",
                date(2026, 1, 1),
                date(2030, 12, 31),
                {"level": 2, "coverage": 100, "facility": "79-001"},
            )
        ],
        guardian=_card.Guardian(_number("7900000002"), "Trần Văn Bình", "guardian"),
        status=StatusRef(4711, uri),
        not_before=date(2026, 1, 1),
        expires=date(2030, 12, 31),
    )
    photo = Image.open(io.BytesIO(card_png(issued.claims, issued.qr_text))).convert("RGB")
    photo.save(work / "card-photo.jpg", quality=90)
    photo.save(work / "photo.jpg", quality=90)
    # What the service serves: a bundle 30 h old (so `asxh verify --json` has a warning), the
    # issuer's status index and its list, signed by the issuer key.
    iat = now - 30 * 3600
    payload = {
        "v": 2,
        "version": 1,
        "iat": iat,
        "exp": now + 30 * 86_400,
        "issuers": [
            {
                "id": "vn-79",
                "name": "BHXH Thành phố Hồ Chí Minh",
                "province": "79",
                "programmes": ["BHYT"],
                "status_base": status_base,
                "keys": [{"jwk": key.public_key.to_jwk(), "not_before": iat - 86_400}],
            }
        ],
    }
    (www / "v1" / "status-lists" / "vn-79").mkdir(parents=True)
    (www / "v1" / "trust-bundle").write_text(sign_bundle_payload(payload, root))
    (www / "v1" / "status-lists" / "vn-79" / "1").write_text(
        sign_status_list(StatusList.empty(131_072), key, uri=uri, issued_at=now - 60, ttl=3600)
    )
    (www / "v1" / "status-lists" / "vn-79" / "index.json").write_text(json.dumps({"lists": [uri]}))
    swaps = {"http://127.0.0.1:8000": base, "/var/lib/asxh": str(sync)}

    readme = shell_commands(block_under(README, "Verifying a card offline", "sh").body)
    assert [c.split()[:2] for c in readme] == [["asxh", "bundle"], ["asxh", "verify"]]
    for command in readme:
        result = _run(command, swaps, monkeypatch)
        assert result.exit_code == 0, (command, result.output)
    assert "Nguyễn Thị Hoa" in result.output
    assert "THẺ HỢP LỆ" in result.output

    (command,) = shell_commands(block_under(VERIFIER_DOC, "Verifier SDK", "sh").body)
    result = _run(command, swaps, monkeypatch)
    assert result.exit_code == 0, (command, result.output)
    assert "Nguyễn Thị Hoa" in result.output

    # docs/trust-bundle.md "Local directory and rollback state": these files and no others.
    layout = block_under(TRUST_DOC, "Local directory and rollback state", "").body
    documented = [line.split()[0] for line in layout.splitlines() if line.strip()]
    assert documented == ["DIR/bundle.jwt", "DIR/status/<sha256(uri)[:40]>.jwt", "DIR/state.json"]
    digest = hashlib.sha256(uri.encode()).hexdigest()[:40]
    expected = {p.replace("DIR/", "").replace("<sha256(uri)[:40]>", digest) for p in documented}
    assert {str(p.relative_to(sync)) for p in sync.rglob("*") if p.is_file()} == expected

    # docs/verifier.md "`asxh verify`": the --json object has the documented members.
    doc_json = json.loads(block_under(VERIFIER_DOC, "`asxh verify`", "json").body)
    result = _run(command.replace("asxh verify", "asxh verify --json"), swaps, monkeypatch)
    assert result.exit_code == 0, result.output
    real = json.loads(result.output)
    _assert_same_shape(doc_json, real, "$")
    for member in ("format", "valid", "outcome", "reason"):
        assert real[member] == doc_json[member], member


def _assert_same_shape(doc: Any, real: Any, where: str) -> None:
    """The documented JSON and the real output have the same members at every level."""
    if isinstance(doc, dict):
        assert isinstance(real, dict), where
        assert set(doc) == set(real), (where, sorted(doc), sorted(real))
        for name, value in doc.items():
            _assert_same_shape(value, real[name], f"{where}.{name}")
    elif isinstance(doc, list):
        assert isinstance(real, list), where
        assert real, f"{where}: the real output has no item to compare"
        _assert_same_shape(doc[0], real[0], f"{where}[0]")


def test_bundle_payload_example_is_a_bundle_verifiers_accept() -> None:
    """docs/trust-bundle.md "Payload (format 2)": the example, with real public keys where it
    says "..." and times around now, is a `BundleDocument` and, signed by a root, a bundle the
    verifier accepts with the documented issuer, base and key windows."""
    example = json.loads(block_under(TRUST_DOC, "Payload (format 2)", "json").body)
    keys = []
    for entry in example["issuers"][0]["keys"]:
        assert entry["jwk"]["x"] == "..."
        key = PrivateKey.generate("ES256")
        entry["jwk"] = key.public_key.to_jwk()
        keys.append(key)
    msgspec.convert(example, BundleDocument, strict=True)
    root = PrivateKey.generate()
    bundle = parse_bundle(sign_bundle_payload(example, root), roots=[root.public_key])
    (issuer,) = bundle.issuers.values()
    assert issuer.id == "vn-79"
    assert issuer.owns_status_uri(example["issuers"][0]["status_base"] + "1")
    first, second = (issuer.keys[k.kid] for k in keys)
    switch = example["issuers"][0]["keys"][1]["not_before"]
    assert first.covers(switch - 1)
    assert not first.covers(switch)
    assert second.covers(switch)
    # Accepted by a Verifier at the bundle's own time (its dates are in the past today).
    at = datetime.fromtimestamp(example["iat"], UTC)
    Verifier(roots=[root.public_key], bundle=bundle, clock=lambda: at).bundle_warnings()


def _doc_signature(line: str) -> tuple[str, inspect.Signature]:
    """``Name.meth(params) -> T  # note`` of the synopsis as (name, signature)."""
    match = re.fullmatch(r"(?P<name>[\w.]+)\((?P<params>.*)\)(?: -> [^#]*)?\s*(?:#.*)?", line)
    assert match, line
    tree = ast.parse(f"def _({match['params']}): pass")
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    params = []
    args = func.args
    defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(args.args, defaults, strict=True):
        params.append((arg.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, default))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append((arg.arg, inspect.Parameter.KEYWORD_ONLY, default))
    env = {"timedelta": timedelta}
    signature = inspect.Signature(
        [
            inspect.Parameter(
                name,
                kind,
                default=inspect.Parameter.empty
                if default is None
                else eval(ast.unparse(default), env),  # noqa: S307 - our own doc
            )
            for name, kind, default in params
        ]
    )
    return match["name"], signature


def _real_signature(name: str) -> inspect.Signature:
    owner, _, attr = name.partition(".")
    target: Any = {"Verifier": Verifier, "VerifierPolicy": VerifierPolicy, "verifier": Verifier}[
        owner
    ]
    signature = inspect.signature(getattr(target, attr) if attr else target)
    params = [p for p in signature.parameters.values() if p.name not in {"self", "cls"}]
    # Positional-only and positional-or-keyword read alike in the synopsis.
    return inspect.Signature(
        [
            p.replace(annotation=inspect.Parameter.empty, kind=inspect.Parameter.KEYWORD_ONLY)
            if p.kind is inspect.Parameter.KEYWORD_ONLY
            else p.replace(
                annotation=inspect.Parameter.empty, kind=inspect.Parameter.POSITIONAL_OR_KEYWORD
            )
            for p in params
        ]
    )


def test_verifier_api_synopsis_matches_the_code() -> None:
    """docs/verifier.md "`Verifier`": every call of the synopsis has the real parameters, in
    order, keyword-only where the code says so, with the real defaults."""
    body = block_under(VERIFIER_DOC, "`Verifier`", "python").body
    calls, current = [], ""
    for line in body.splitlines():
        code = line.split("  #", 1)[0].rstrip()
        current = f"{current} {code.strip()}".strip() if current else code.strip()
        if current.count("(") == current.count(")"):
            calls.append(current)
            current = ""
    assert current == ""
    names = []
    for call in calls:
        name, documented = _doc_signature(call)
        names.append(name)
        real = _real_signature(name)
        assert [(p.name, p.kind) for p in documented.parameters.values()] == [
            (p.name, p.kind) for p in real.parameters.values()
        ], name
        for param in documented.parameters.values():
            if param.default is not inspect.Parameter.empty:
                assert real.parameters[param.name].default == param.default, (name, param.name)
    assert names == [
        "Verifier",
        "Verifier.from_directory",
        "Verifier.from_tokens",
        "VerifierPolicy",
        "verifier.verify",
        "verifier.verify_image",
        "verifier.bundle_warnings",
    ]


def test_asxh_verify_synopsis_matches_its_options() -> None:
    """docs/verifier.md "`asxh verify`": every option of the synopsis line is an option of
    `asxh verify` (its --help lists it), and `asxh verify` has no option the line leaves out."""
    (line,) = block_under(VERIFIER_DOC, "`asxh verify`", "").body.strip().splitlines()
    documented = set(re.findall(r"\[(--[a-z-]+)", line))
    assert documented == {"--bundle", "--root", "--json", "--lang", "--at"}
    helped = runner.invoke(app, ["verify", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert helped.exit_code == 0
    offered = set(re.findall(r"(--[a-z][a-z-]+)", helped.output)) - {"--help"}
    assert offered == documented
