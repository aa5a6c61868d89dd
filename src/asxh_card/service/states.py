"""Card and entitlement states and the one table of the changes between them.

A card is ``active``, ``suspended`` or ``revoked``; an entitlement also ``ended`` (its window
closed by an officer). :data:`TRANSITIONS` lists every allowed change and the status-list
value it writes; anything else is a :class:`~asxh_card.service.errors.TransitionError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from asxh_card._core.statuslist import Status
from asxh_card.service.errors import TransitionError

__all__ = [
    "ACTION_VI",
    "CURRENT",
    "STATE_VI",
    "TRANSITIONS",
    "Action",
    "CardState",
    "EntitlementState",
    "State",
    "transition",
]


class State(StrEnum):
    """Every state a card or an entitlement can be in (as stored in the database)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    ENDED = "ended"


#: The states of a card (a card is never "ended": it expires).
CardState = State
#: The states of an entitlement.
EntitlementState = State


class Action(StrEnum):
    """A status change an officer asks for."""

    REVOKE = "revoke"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    END = "end"


#: States in which a card or entitlement still counts (may be changed, shown as current).
CURRENT: Final = (State.ACTIVE, State.SUSPENDED)

#: (current state, action) -> (new state, status-list value written). The one table.
TRANSITIONS: Final[Mapping[tuple[State, Action], tuple[State, Status]]] = {
    (State.ACTIVE, Action.REVOKE): (State.REVOKED, Status.REVOKED),
    (State.SUSPENDED, Action.REVOKE): (State.REVOKED, Status.REVOKED),
    (State.ACTIVE, Action.SUSPEND): (State.SUSPENDED, Status.SUSPENDED),
    (State.SUSPENDED, Action.REINSTATE): (State.ACTIVE, Status.VALID),
    (State.ACTIVE, Action.END): (State.ENDED, Status.REVOKED),
    (State.SUSPENDED, Action.END): (State.ENDED, Status.REVOKED),
}


#: Vietnamese words for the states, actions and objects of a refused change.
STATE_VI: Final[Mapping[State, str]] = {
    State.ACTIVE: "đang có hiệu lực",
    State.SUSPENDED: "đang bị tạm dừng",
    State.REVOKED: "đã bị thu hồi",
    State.ENDED: "đã kết thúc",
}
ACTION_VI: Final[Mapping[Action, str]] = {
    Action.REVOKE: "thu hồi",
    Action.SUSPEND: "tạm dừng",
    Action.REINSTATE: "khôi phục",
    Action.END: "kết thúc",
}
_WHAT_VI: Final[Mapping[str, str]] = {"card": "thẻ", "entitlement": "chế độ được hưởng"}


def transition(current: str, action: Action | str, what: str) -> tuple[State, Status]:
    """The new state and status value of ``what`` (card, entitlement) after ``action``."""
    step = Action(action)
    state = State(current)
    allowed = TRANSITIONS.get((state, step))
    if allowed is None or (what == "card" and step is Action.END):
        article = "an" if state.value[:1] in "aeiou" else "a"
        raise TransitionError(
            f"cannot {step.value} {article} {state.value} {what}",
            message_vi=(
                f"Không thể {ACTION_VI[step]} {_WHAT_VI.get(what, what)} {STATE_VI[state]}."
            ),
        )
    return allowed
