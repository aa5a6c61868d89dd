"""Fixtures of the verifier tests; the helpers live in ``vworld.py`` beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib does not put test folders on sys.path; the helper module is shared.
sys.path.insert(0, str(Path(__file__).parent))

from vworld import http_dir, keys, served, world

__all__ = ["http_dir", "keys", "served", "world"]
