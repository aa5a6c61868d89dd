"""Alembic environment: runs on the connection handed in by :mod:`asxh_card.service.migrate`."""

from __future__ import annotations

from alembic import context

from asxh_card.service.db import make_engine
from asxh_card.service.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Migrate over the given connection, or a new engine for ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None  # noqa: S101 - set by alembic_config
    engine = make_engine(url, timeout=300)
    try:
        with engine.begin() as conn:
            context.configure(
                connection=conn, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():  # pragma: no cover - SQL scripts are not offered
    raise SystemExit("offline migrations are not supported; run `asxh db upgrade`")
run_migrations_online()
