"""OperatorRow accounts: create (also the first national administrator), disable, reset, re-role.

Access tokens are stateless signatures, so every request also checks the account itself
(:func:`check_current`): it must exist, be active and still be at the ``token_version`` the
token was issued under. Disabling an account, resetting its password or changing its role,
province or programmes bumps the version, so its tokens stop working at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from asxh_card._core.timeutil import utc_now
from asxh_card.errors import InvalidInputError
from asxh_card.programmes import ProgrammeRegistry
from asxh_card.provinces import current_province
from asxh_card.service import audit
from asxh_card.service.audit import Actor
from asxh_card.service.errors import ConflictError, NotFoundError
from asxh_card.service.models import OperatorRow
from asxh_card.service.security import ROLES, PasswordHasher, Principal

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "OperatorChange",
    "account_state",
    "change_operator",
    "check_current",
    "create_operator",
    "principal_of",
    "reset_password",
]

MIN_PASSWORD_LENGTH: Final = 12
_USERNAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


def principal_of(row: OperatorRow) -> Principal:
    """The principal an access token for ``row`` states."""
    return Principal(
        username=row.username,
        role=row.role,
        province=row.province,
        programmes=tuple(row.programmes),
        version=row.token_version,
    )


def account_state(connection: Connection | Session, username: str) -> tuple[bool, int] | None:
    """The account's ``active`` flag and ``token_version`` (None: no such account)."""
    row = connection.execute(
        select(OperatorRow.active, OperatorRow.token_version).where(
            OperatorRow.username == username
        )
    ).first()
    return None if row is None else (bool(row.active), int(row.token_version))


def check_current(connection: Connection | Session, principal: Principal) -> bool:
    """Whether the token's account exists, is active and has not changed since the token."""
    state = account_state(connection, principal.username)
    return state is not None and state[0] and state[1] == principal.version


def _check_shape(
    registry: ProgrammeRegistry, role: str, province: str | None, programmes: Sequence[str]
) -> None:
    """The role rules: officers need a province and programmes; national roles no province."""
    if role not in ROLES:
        raise InvalidInputError(
            f"role must be one of {', '.join(ROLES)}",
            message_vi=f"Vai trò phải là một trong: {', '.join(ROLES)}.",
        )
    if role == "issuer_officer" and (province is None or not programmes):
        raise InvalidInputError(
            "an issuer officer needs a province and programmes",
            message_vi="Cán bộ cấp thẻ cần có tỉnh và các chế độ được quản lý.",
        )
    if role in ("national_admin", "service_point") and province is not None:
        raise InvalidInputError(
            f"a {role} has no province", message_vi=f"Vai trò {role} không gắn với tỉnh nào."
        )
    if province is not None:
        current_province(province)
    for code in programmes:
        registry.get(code)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
            message_vi=f"Mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
        )
    if len(password) > 200 or "\x00" in password:
        raise InvalidInputError(
            "the password is longer than 200 characters or holds a NUL",
            message_vi="Mật khẩu dài quá 200 ký tự hoặc chứa ký tự NUL.",
        )


def check_username(username: str) -> str:
    """3-64 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit."""
    name = username.strip()
    if not 3 <= len(name) <= 64 or not set(name) <= _USERNAME_CHARS or name[0] in "._-":
        raise InvalidInputError(
            "the user name must be 3-64 characters a-z, 0-9, '.', '_', '-' starting with a "
            "letter or digit",
            message_vi=(
                "Tên đăng nhập phải dài 3-64 ký tự gồm a-z, 0-9, '.', '_', '-' và bắt đầu bằng "
                "chữ cái hoặc chữ số."
            ),
        )
    return name


def create_operator(
    session: Session,
    passwords: PasswordHasher,
    registry: ProgrammeRegistry,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: str,
    province: str | None = None,
    programmes: Sequence[str] = (),
) -> OperatorRow:
    """Create an account; 409 ``conflict`` when the user name is taken (the unique key decides)."""
    username = check_username(username)
    _check_shape(registry, role, province, programmes)
    _check_password(password)
    row = OperatorRow(
        username=username,
        password_hash=passwords.hash(password),
        role=role,
        province=province,
        programmes=sorted(set(programmes)),
        active=True,
        token_version=0,
        created_at=utc_now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise ConflictError(
            "this user name is taken", message_vi="Tên đăng nhập này đã có người dùng."
        ) from None
    audit.record(
        session,
        actor,
        "operator.create",
        "operator",
        row.username,
        province=row.province,
        detail={"role": row.role},
    )
    return row


@dataclass(frozen=True, slots=True)
class OperatorChange:
    """Fields to change on an account (None: unchanged; ``province`` uses ``set_province``)."""

    active: bool | None = None
    role: str | None = None
    province: str | None = None
    set_province: bool = False
    programmes: Sequence[str] | None = None


def _active_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OperatorRow)
            .where(OperatorRow.role == "national_admin", OperatorRow.active.is_(True))
        )
        or 0
    )


def _find(session: Session, username: str) -> OperatorRow:
    row = session.scalars(
        select(OperatorRow).where(OperatorRow.username == username).with_for_update()
    ).first()
    if row is None:
        raise NotFoundError("operator")
    return row


def change_operator(
    session: Session,
    registry: ProgrammeRegistry,
    actor: Actor,
    username: str,
    change: OperatorChange,
) -> OperatorRow:
    """Disable/enable an account or change its role, province or programmes.

    Any change bumps the account's token version (its tokens stop working). The last active
    national administrator cannot be disabled or demoted, and nobody disables themselves.
    """
    row = _find(session, username)
    role = change.role if change.role is not None else row.role
    province = change.province if change.set_province else row.province
    if role in ("national_admin", "service_point") and not change.set_province:
        province = None
    if change.programmes is not None:
        programmes = list(change.programmes)
    else:
        keep = role in (row.role, "issuer_officer")
        programmes = list(row.programmes) if keep else []
    active = change.active if change.active is not None else row.active
    _check_shape(registry, role, province, programmes)
    if row.username == actor.username and (not active or role != row.role):
        raise ConflictError(
            "you cannot disable your own account or change your own role",
            message_vi="Bạn không thể tự khóa tài khoản hoặc tự đổi vai trò của mình.",
        )
    losing_admin = (
        row.role == "national_admin" and row.active and (not active or role != "national_admin")
    )
    if losing_admin and _active_admins(session) <= 1:
        raise ConflictError(
            "this is the last active national administrator",
            message_vi="Đây là quản trị viên cấp quốc gia cuối cùng đang hoạt động.",
        )
    before = {
        "active": row.active,
        "role": row.role,
        "province": row.province,
        "programmes": list(row.programmes),
    }
    row.active = active
    row.role = role
    row.province = province
    row.programmes = sorted(set(programmes))
    after = {
        "active": row.active,
        "role": row.role,
        "province": row.province,
        "programmes": list(row.programmes),
    }
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        row.token_version += 1
        session.flush()
        audit.record(
            session,
            actor,
            "operator.change",
            "operator",
            row.username,
            province=row.province or before["province"],  # type: ignore[arg-type]
            detail={"fields": changed, "active": row.active, "role": row.role},
        )
    return row


def reset_password(
    session: Session,
    passwords: PasswordHasher,
    actor: Actor,
    username: str,
    password: str,
) -> OperatorRow:
    """Set a new password; the account's existing tokens stop working."""
    _check_password(password)
    row = _find(session, username)
    row.password_hash = passwords.hash(password)
    row.token_version += 1
    session.flush()
    audit.record(
        session,
        actor,
        "operator.password_reset",
        "operator",
        row.username,
        province=row.province,
    )
    return row
