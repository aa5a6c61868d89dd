"""Fenced blocks of the project's Markdown docs, read from the files (never copied into tests).

Issue 9 "done when": README.md, docs/trust-bundle.md and docs/verifier.md are followed
literally by a test. Tests take the blocks from here, so an edit to a doc is what is tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TRUST_DOC = ROOT / "docs" / "trust-bundle.md"
VERIFIER_DOC = ROOT / "docs" / "verifier.md"
FOLLOWED_DOCS = (README, TRUST_DOC, VERIFIER_DOC)

_FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One fenced block: its doc, info string (``sh``, ``python offline``, ...), body, heading."""

    doc: Path
    info: str
    body: str
    heading: str

    @property
    def key(self) -> tuple[str, str, str]:
        """What names the block in the coverage table: doc, info string, first line."""
        first = next((line for line in self.body.splitlines() if line.strip()), "")
        return (self.doc.name, self.info, first.strip())


def blocks(doc: Path) -> list[Block]:
    """Every fenced block of ``doc``, in order, with the heading it sits under."""
    text = doc.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        headings = re.findall(r"^#+ (.+)$", text[: match.start()], re.M)
        found.append(
            Block(doc, match["info"].strip(), match["body"], headings[-1] if headings else "")
        )
    return found


def block_under(doc: Path, heading: str, info: str) -> Block:
    """The one block with info string ``info`` under the heading ``heading`` of ``doc``."""
    (found,) = [b for b in blocks(doc) if b.heading == heading and b.info == info]
    return found


def shell_commands(body: str) -> list[str]:
    """The commands of a ``sh`` block: comments dropped, continuation lines joined."""
    commands, current = [], ""
    for raw in body.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands
