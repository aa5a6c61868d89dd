"""The ``asxh`` command line.

Each area registers its sub-commands from its own module; heavy dependencies (rendering, the
service) are imported inside the commands, so the base install still runs ``asxh verify``.
Exit codes: 0 success, 1 the thing checked is invalid, 2 usage error.
"""

from __future__ import annotations

from importlib import import_module

from asxh_card.cli._app import app

# Sub-command modules, registered in this order in ``asxh --help``. A module that is not there
# yet (work in progress) is skipped rather than breaking the whole command line.
_COMMAND_MODULES = ("demo", "keys", "issue", "trust", "verify", "service")
for _name in _COMMAND_MODULES:
    try:
        import_module(f"asxh_card.cli.{_name}")
    except ModuleNotFoundError as _exc:  # pragma: no cover - only while a module is missing
        if _exc.name != f"asxh_card.cli.{_name}":
            raise

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``asxh`` script."""
    app()
