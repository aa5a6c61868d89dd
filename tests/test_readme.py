"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(block: str) -> None:
    """Each ```python block of the README executes without error."""
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})  # noqa: S102 - our own README


def test_readme_has_the_two_commands() -> None:
    """The README opens with the two set-up commands, make run and make test."""
    head = README.read_text(encoding="utf-8")[:1500]
    assert "make run" in head
    assert "make test" in head
