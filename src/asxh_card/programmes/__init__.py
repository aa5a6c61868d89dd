"""Programmes and entitlements: the programme registry and what an entitlement puts on a card.

A card bundles entitlements (DESIGN.md §2). Each names a programme (TGXH, GN, NCC, BHXH, BHYT,
BHTN, ...), a validity window, a few attributes and its own status-list entry. Which programmes
exist and which attributes each may carry is *data*: ``asxh_card/data/programmes.json``, loaded
by :class:`ProgrammeRegistry`. Adding a programme (children, vocational training) is a data
change; no code here names a programme except :func:`bhyt_coverage_for_level`.

The registry also lists fields that may **never** go on a card. A card is read by whoever it is
shown to, so it says *what* someone is entitled to, never *why*: the reason for social assistance,
a disability, HIV status, drug rehabilitation, an NCC category or a BHYT group code reveal health
or poverty, which Law 91/2025/QH15 and Decree 356/2025/ND-CP (in force 1 Jan 2026) treat as
sensitive personal data; identity numbers and the address stay off the card too.
:func:`check_card_fields` enforces that over a whole claim set.

The wire form of an entitlement (:meth:`Entitlement.to_claim`, docs/wire-format.md) is
positional, in the order the registry lists the programme's attributes::

    ["BHYT", "2026-01-01", "2026-12-31", 2, 100, "01-001"]

Its status entry is not written: it follows from the card's (``asxh_card.card.status_block``).

The package is split by topic: :mod:`.schema` (attribute specs, programmes),
:mod:`.registry` (reading the registry file), :mod:`.fields` (status references, never-on-card
fields) and :mod:`.entitlement`; every public name is importable from here.

Everything raised on purpose here is an :class:`~asxh_card.errors.EntitlementError`.
"""

from __future__ import annotations

from asxh_card.programmes._common import AttributeValue
from asxh_card.programmes.entitlement import Entitlement, EntitlementState
from asxh_card.programmes.fields import (
    check_card_fields,
    check_status_fields,
    check_status_uri,
    status_ref_from_claim,
)
from asxh_card.programmes.registry import (
    REGISTRY_VERSION,
    ProgrammeRegistry,
    bhyt_coverage_for_level,
)
from asxh_card.programmes.schema import (
    AmountRule,
    AttributeSpec,
    AttributeType,
    LookupConstraint,
    Programme,
    normalise_facility_code,
)

__all__ = [
    "REGISTRY_VERSION",
    "AmountRule",
    "AttributeSpec",
    "AttributeType",
    "AttributeValue",
    "Entitlement",
    "EntitlementState",
    "LookupConstraint",
    "Programme",
    "ProgrammeRegistry",
    "bhyt_coverage_for_level",
    "check_card_fields",
    "check_status_fields",
    "check_status_uri",
    "normalise_facility_code",
    "status_ref_from_claim",
]
