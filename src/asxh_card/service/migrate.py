"""Alembic migrations shipped inside the package (``asxh db upgrade``).

The Alembic configuration is built in code: ``script_location`` points at
``asxh_card/service/migrations``, so no ``alembic.ini`` is needed on the server.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from asxh_card.service.db import normalise_url

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]

_LOCATION = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    """An Alembic config for ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(_LOCATION))
    url = normalise_url(database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision``."""
    from asxh_card.service.db import make_engine  # noqa: PLC0415

    engine = make_engine(database_url, timeout=300)
    try:
        with engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with the package."""
    return ScriptDirectory(str(_LOCATION)).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()
