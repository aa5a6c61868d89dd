"""The ``asxh`` command line (the ``cli`` extra: ``pip install 'asxh-card[cli]'``).

Each area registers its sub-commands from its own module; heavy dependencies (rendering, the
service) are imported inside the commands, so ``asxh verify`` runs with the ``cli`` extra alone.
Without typer (a base install that embeds the verifier) the ``asxh`` script prints which extra
to install and exits 2. Exit codes: 0 success, 1 the thing checked is invalid, 2 usage error
(``asxh verify``: 3 cannot check).
"""

from __future__ import annotations

import sys

__all__ = ["MISSING_CLI_MESSAGE", "app", "main"]

#: What ``asxh`` prints on a base install (Vietnamese first).
MISSING_CLI_MESSAGE = (
    "Lệnh asxh cần gói bổ sung 'cli': pip install 'asxh-card[cli]' (thiếu {name}).\n"
    "The asxh command needs the 'cli' extra: pip install 'asxh-card[cli]' ({name} is missing).\n"
    "The library itself (from asxh_card import Verifier) works without it."
)

try:
    # Each import registers that area's sub-commands on ``app`` (in this order in ``--help``).
    from asxh_card.cli import bhyt, demo, issue, keys, ops, service, status, trust, verify  # noqa: F401
    from asxh_card.cli._app import app
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by the wheel test
    if exc.name not in {"typer", "rich", "click"}:
        raise
    _missing: str | None = exc.name
else:
    _missing = None


def main() -> None:
    """Entry point of the ``asxh`` script."""
    if _missing is not None:  # pragma: no cover - exercised by the wheel test
        print(MISSING_CLI_MESSAGE.format(name=_missing), file=sys.stderr)
        raise SystemExit(2)
    app()
