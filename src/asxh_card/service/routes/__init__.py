"""HTTP routes, one module per area."""

from __future__ import annotations
