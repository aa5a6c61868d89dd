"""The ASXH HTTP service: registry, entitlements, issuance, revocation, status lists, trust.

Build the app with :func:`asxh_card.service.app.create_app` from a
:class:`~asxh_card.service.settings.Settings` (read from ``ASXH_*`` environment variables by
:meth:`~asxh_card.service.settings.Settings.from_env`). Nothing here reads the environment or
opens a database at import time.
"""

from __future__ import annotations
