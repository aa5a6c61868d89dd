"""The ``asxh`` command line.

Each area registers its sub-commands from its own module; heavy dependencies (rendering, the
service) are imported inside the commands, so the base install still runs ``asxh verify``.
Exit codes: 0 success, 1 the thing checked is invalid, 2 usage error.
"""

from __future__ import annotations

# Each import registers that area's sub-commands on ``app`` (in this order in ``asxh --help``).
from asxh_card.cli import bhyt, demo, issue, keys, ops, service, status, trust, verify  # noqa: F401
from asxh_card.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``asxh`` script."""
    app()
