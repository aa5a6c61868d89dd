"""The README's Python examples run as written."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


# ``expression   # <Python literal>``: the README states what the expression gives.
# ``name = expression   # <literal>`` states the value bound to ``name``.
_STATED_RESULT = re.compile(
    r"^(?:(?P<target>\w+) = )?(?P<expr>[^#=\s][^#]*?)\s{2,}#\s*(?P<result>[('\"0-9].*)$"
)


def _with_stated_results_asserted(block: str) -> tuple[str, int]:
    """The block with each stated result turned into an assertion, and how many there were.

    A stated string ending in ``...`` is a prefix; comments that are not literals (``e.g.``,
    prose) are left alone.
    """
    lines, asserted = [], 0
    for line in block.splitlines():
        match = _STATED_RESULT.match(line)
        try:
            stated = ast.literal_eval(match["result"]) if match else None
        except (ValueError, SyntaxError):
            stated = None
        if match is None or stated is None:
            lines.append(line)
            continue
        asserted += 1
        expr = match["expr"].strip()
        if match["target"]:
            lines.append(line)
            expr = match["target"]
        if isinstance(stated, str) and stated.endswith("..."):
            lines.append(f"assert ({expr}).startswith({stated[:-3]!r}), ({expr})")
        else:
            lines.append(f"assert ({expr}) == {stated!r}, ({expr})")
    return "\n".join(lines), asserted


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(block: str) -> None:
    """Each ```python block of the README executes, and gives the results its comments state."""
    code, _ = _with_stated_results_asserted(block)
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})  # noqa: S102 - our own README


def test_readme_states_checked_results() -> None:
    """The tour's stated results are really checked (the PIN fields and the QR text prefix)."""
    assert sum(_with_stated_results_asserted(block)[1] for block in BLOCKS) >= 2


def test_readme_has_the_two_commands() -> None:
    """The README opens with the two set-up commands, make run and make test."""
    head = README.read_text(encoding="utf-8")[:1500]
    assert "make run" in head
    assert "make test" in head
