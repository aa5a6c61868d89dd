"""The officer console's words (owned by the console pages), merged into ``i18n.MESSAGES``.

Same shape as :data:`asxh_card.service.web.i18n.MESSAGES`: ``key -> (Vietnamese, English)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["CONSOLE_MESSAGES"]

CONSOLE_MESSAGES: Final[Mapping[str, tuple[str, str]]] = {}
