"""Service domain structure (issue 14 item 6): domain errors, the state table, row names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from asxh_card._core.statuslist import Status
from asxh_card.errors import AsxhError
from asxh_card.service import errors, models, states
from asxh_card.service.problems import DOMAIN_PROBLEMS, PROBLEM_TYPES, domain_problem

SERVICE = Path(states.__file__).parent
#: Modules of domain code: they raise domain errors, never HTTP problems.
DOMAIN_MODULES = ("cards.py", "registry.py", "statuslists.py", "keyring.py", "bundles.py")


def test_domain_modules_name_no_http_problem() -> None:
    """No domain module imports ProblemError or FastAPI: HTTP mapping lives in problems.py."""
    for name in DOMAIN_MODULES:
        tree = ast.parse((SERVICE / name).read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "ProblemError" not in imported, name
        assert not any(m.startswith(("fastapi", "starlette")) for m in imported), name


def test_every_domain_error_maps_to_a_problem() -> None:
    """Each domain error class is in the AsxhError tree and maps to a known problem type."""
    for cls in (getattr(errors, n) for n in errors.__all__):
        assert issubclass(cls, AsxhError)
    for slug in DOMAIN_PROBLEMS.values():
        assert slug in PROBLEM_TYPES
    assert domain_problem(errors.NotFoundError("card")) == ("not-found", {})
    assert domain_problem(errors.TransitionError("x"))[0] == "conflict"
    assert domain_problem(errors.IdempotencyKeyReusedError())[0] == "idempotency-key-reused"
    assert domain_problem(errors.BusyError("busy", retry_after=2)) == (
        "not-ready",
        {"Retry-After": "2"},
    )


def test_transition_table() -> None:
    """One table decides every state change and the status value it writes."""
    assert states.transition("active", "suspend", "card") == (
        states.State.SUSPENDED,
        Status.SUSPENDED,
    )
    assert states.transition("suspended", "reinstate", "entitlement") == (
        states.State.ACTIVE,
        Status.VALID,
    )
    assert states.transition("suspended", "end", "entitlement")[0] is states.State.ENDED
    for current, action, what in (
        ("active", "reinstate", "card"),
        ("revoked", "reinstate", "card"),
        ("revoked", "suspend", "entitlement"),
        ("ended", "revoke", "entitlement"),
        ("active", "end", "card"),
    ):
        with pytest.raises(errors.TransitionError, match=f"cannot {action}"):
            states.transition(current, action, what)


def test_database_classes_do_not_shadow_library_names() -> None:
    """Every mapped class ends in Row: none is confused with asxh_card.Issuer or Entitlement."""
    mapped = [m.class_ for m in models.Base.registry.mappers]
    assert mapped
    assert all(cls.__name__.endswith("Row") for cls in mapped), [c.__name__ for c in mapped]
