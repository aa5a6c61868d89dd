"""Service settings, read from ``ASXH_*`` environment variables in :meth:`Settings.from_env` only.

============================== ==================================== ==============================
Variable                       Default                              Meaning
============================== ==================================== ==============================
``ASXH_DATABASE_URL``          ``sqlite:///<var>/asxh.db``          SQLAlchemy URL (SQLite or
                                                                    ``postgresql+psycopg://``)
``ASXH_VAR_DIR``               ``./var``                            keys, demo secrets, SQLite
``ASXH_SECRET_KEY``            (required; demo: generated)          signs access tokens
``ASXH_DATA_KEY``              (required; demo: generated)          base64 of 32 bytes: PIN
                                                                    look-up hash and encryption
``ASXH_KEY_PASSPHRASE``        (required; demo: generated)          decrypts issuer/root key files
``ASXH_PUBLIC_URL``            ``http://127.0.0.1:8000``            base of status-list URIs
``ASXH_ACCESS_TOKEN_MINUTES``  ``15``                               access-token lifetime
``ASXH_WEB_SESSION_MINUTES``   ``480``                              web-page log-in lifetime
``ASXH_ROOT_PUBLIC_KEY_FILE``  (none)                               pinned national root public
                                                                    JWK: uploaded bundles must be
                                                                    signed by it
``ASXH_ROOT_KEY_FILE``         demo only: ``<var>/keys/root.pem``   the demo's own root key (a
                                                                    production service holds no
                                                                    root key: refused outside
                                                                    demo mode)
``ASXH_STATUS_LIST_SIZE``      ``131072``                           entries per status list
                                                                    (at least 131,072)
``ASXH_CARD_VALIDITY_DAYS``    ``1825``                             longest card lifetime
``ASXH_LOG_LEVEL``             ``INFO``                             log level (JSON logs)
``ASXH_AUTO_MIGRATE``          ``0`` (demo: ``1``)                  run ``db upgrade`` at start
``ASXH_PASSWORD_CONCURRENCY``  ``2``                                password checks at once per
                                                                    worker (more wait, then 503)
``ASXH_IMAGE_CONCURRENCY``     ``2``                                photos decoded at once per
                                                                    worker by POST /v1/verify
``ASXH_DB_TIMEOUT_SECONDS``    ``5``                                bound on a database connect,
                                                                    lock wait or statement (503)
``ASXH_CACHE_MS``              ``1000``                             how long a worker trusts its
                                                                    cached verifier and account
                                                                    states without a look at the
                                                                    database (other workers'
                                                                    changes; its own: at once)
============================== ==================================== ==============================

Outside demo mode a missing secret is a startup error (:class:`SettingsError`). In demo mode
the missing secrets are generated once into ``<var>/demo-secrets.json`` (mode 0600) with a loud
warning: they protect nothing but demo data.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from asxh_card._core.fileio import write_atomic
from asxh_card._core.statuslist import MIN_STATUS_LIST_SIZE
from asxh_card.errors import AsxhError

__all__ = [
    "MIN_STATUS_LIST_SIZE",
    "Settings",
    "SettingsError",
    "database_url_from_env",
    "load_or_create_secrets",
]

_MIN_SECRET_BYTES: Final = 16


class SettingsError(AsxhError, ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


def _decode_key(name: str, value: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip() + "=" * (-len(value.strip()) % 4), validate=False)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{name} must be base64 of 32 bytes") from None
    if len(raw) != 32:
        raise SettingsError(f"{name} must be base64 of exactly 32 bytes")
    return raw


def _var_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("ASXH_VAR_DIR", "").strip() or "var")


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``ASXH_DATABASE_URL``, else the SQLite file in ``ASXH_VAR_DIR`` (no secrets needed).

    The service and ``asxh db upgrade`` both take the URL from here, so the migration reaches
    the database the service will open.
    """
    env = os.environ if environ is None else environ
    return env.get("ASXH_DATABASE_URL", "").strip() or f"sqlite:///{_var_dir(env) / 'asxh.db'}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service needs; immutable once built."""

    database_url: str = "sqlite:///./var/asxh.db"
    var_dir: Path = Path("var")
    secret_key: bytes = b""
    data_key: bytes = b""
    key_passphrase: bytes = b""
    public_url: str = "http://127.0.0.1:8000"
    access_token_minutes: int = 15
    # Web pages: an officer's session cookie lasts one working day (ASXH_WEB_SESSION_MINUTES).
    web_session_minutes: int = 480
    root_key_file: Path | None = None
    root_public_key_file: Path | None = None
    # Demo only: the service keeps a national root key and signs its own bundles. A production
    # service imports bundles signed offline (POST /v1/admin/trust-bundle) and holds no root key.
    self_signed_bundles: bool = False
    status_list_size: int = MIN_STATUS_LIST_SIZE
    status_list_ttl: int = 3600
    status_list_max_age: int = 5
    bundle_validity_days: int = 7
    card_validity_days: int = 1825
    demo: bool = False
    auto_migrate: bool = False
    log_level: str = "INFO"
    # Password hashing (argon2id). Tests lower the cost; production keeps the defaults.
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65_536
    argon2_parallelism: int = 2
    # Login rate limits (failures per window).
    login_window_seconds: int = 300
    login_max_failures_account: int = 5
    login_max_failures_address: int = 20
    # Password checks at once per worker (argon2 is CPU- and memory-bound).
    password_concurrency: int = 2
    # Photos decoded at once per worker by POST /v1/verify (each up to 50 megapixels).
    image_concurrency: int = 2
    # Card issuances (POST /v1/cards) in worker threads at once per worker; the others wait
    # their turn in the event loop. Sixteen threads at once shared one interpreter lock and
    # each took longer (bench_service_load.py on PostgreSQL, alternated: 3 gave the most
    # cards/s, ahead of 2 and 4, and a quarter of the p99 of 16; docs/reliability.md "Speed").
    issuance_concurrency: int = 3
    # Seconds a database connect, lock wait or statement may take before the request is
    # answered 503 not-ready (SQLite busy timeout; PostgreSQL connect/statement/lock timeouts).
    db_timeout_seconds: float = 5.0
    # Milliseconds a worker answers from its cached verifier and account states before it
    # looks at the database again (caches.py): the bound on seeing another worker's revocation
    # or disabled account. Its own commits end the caches at once. 0: look on every request.
    cache_ms: int = 1000
    # Allow status lists smaller than 131,072 entries: tests of list roll-over only.
    allow_small_status_lists: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the values that would otherwise fail late."""
        if self.status_list_size < MIN_STATUS_LIST_SIZE and not self.allow_small_status_lists:
            raise SettingsError(
                f"ASXH_STATUS_LIST_SIZE must be at least {MIN_STATUS_LIST_SIZE} entries"
            )
        if self.status_list_size % 4:
            raise SettingsError("ASXH_STATUS_LIST_SIZE must be a multiple of 4")
        if not 1 <= self.access_token_minutes <= 24 * 60:
            raise SettingsError("ASXH_ACCESS_TOKEN_MINUTES must be between 1 and 1440")
        if not 1 <= self.web_session_minutes <= 24 * 60:
            raise SettingsError("ASXH_WEB_SESSION_MINUTES must be between 1 and 1440")
        if not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("ASXH_PUBLIC_URL must start with http:// or https://")
        if len(self.public_url) > 120:
            raise SettingsError("ASXH_PUBLIC_URL is too long for status-list URIs on a card")
        if not 1 <= self.password_concurrency <= 64:
            raise SettingsError("ASXH_PASSWORD_CONCURRENCY must be between 1 and 64")
        if not 1 <= self.image_concurrency <= 64:
            raise SettingsError("ASXH_IMAGE_CONCURRENCY must be between 1 and 64")
        if not 1 <= self.issuance_concurrency <= 64:
            raise SettingsError("ASXH_ISSUANCE_CONCURRENCY must be between 1 and 64")
        if not 0 < self.db_timeout_seconds <= 300:
            raise SettingsError("ASXH_DB_TIMEOUT_SECONDS must be between 1 and 300")
        if not 0 <= self.cache_ms <= 5000:
            raise SettingsError("ASXH_CACHE_MS must be between 0 and 5000 (revocations in 5 s)")
        if not 0 < self.status_list_max_age <= 5:
            raise SettingsError("status_list_max_age must be 1-5 seconds (revocations in 5 s)")

    # -- derived -------------------------------------------------------------------------------

    @property
    def keys_dir(self) -> Path:
        """Where issuer and root key files live (encrypted PKCS#8)."""
        return self.var_dir / "keys"

    @property
    def effective_root_key_file(self) -> Path:
        """The root key file: the configured one, else ``<var>/keys/root.pem``."""
        return self.root_key_file or self.keys_dir / "root.pem"

    def check_secrets(self) -> None:
        """Raise :class:`SettingsError` unless every secret is set."""
        if len(self.secret_key) < _MIN_SECRET_BYTES:
            raise SettingsError("ASXH_SECRET_KEY must be set (at least 16 characters)")
        if len(self.data_key) != 32:
            raise SettingsError("ASXH_DATA_KEY must be set (base64 of 32 bytes)")
        if len(self.key_passphrase) < 12:
            raise SettingsError("ASXH_KEY_PASSPHRASE must be set (at least 12 characters)")

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (tests)."""
        return replace(self, **changes)

    # -- reading the environment ---------------------------------------------------------------

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        demo: bool = False,
        default_public_url: str = "http://127.0.0.1:8000",
    ) -> Settings:
        """Build settings from ``ASXH_*`` variables (``os.environ`` by default).

        ``default_public_url`` is the public URL when ``ASXH_PUBLIC_URL`` is unset (``asxh
        serve --port N`` passes ``http://127.0.0.1:N``, so status-list URIs follow the port).

        ``demo=True`` (``asxh serve --demo``) generates missing secrets into the var directory
        and turns on automatic migrations.
        """
        env = os.environ if environ is None else environ

        def get(name: str, default: str = "") -> str:
            return env.get(name, default).strip()

        def get_int(name: str, default: int) -> int:
            raw = get(name)
            if not raw:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{name} must be an integer") from None

        var_dir = _var_dir(env)
        secret = get("ASXH_SECRET_KEY").encode()
        data_raw = get("ASXH_DATA_KEY")
        data_key = _decode_key("ASXH_DATA_KEY", data_raw) if data_raw else b""
        passphrase = get("ASXH_KEY_PASSPHRASE").encode()
        if demo:
            generated = _demo_secrets(var_dir)
            secret = secret or generated["secret_key"].encode()
            data_key = data_key or _decode_key("ASXH_DATA_KEY", generated["data_key"])
            passphrase = passphrase or generated["key_passphrase"].encode()
        root = get("ASXH_ROOT_KEY_FILE")
        if root and not demo:
            raise SettingsError(
                "ASXH_ROOT_KEY_FILE is for demo mode only: a production service holds no root "
                "key (sign bundles offline with asxh bundle build, upload with asxh bundle "
                "publish, pin the root with ASXH_ROOT_PUBLIC_KEY_FILE)"
            )
        root_public = get("ASXH_ROOT_PUBLIC_KEY_FILE")
        auto = get("ASXH_AUTO_MIGRATE").lower()
        settings = cls(
            database_url=database_url_from_env(env),
            var_dir=var_dir,
            secret_key=secret,
            data_key=data_key,
            key_passphrase=passphrase,
            public_url=(get("ASXH_PUBLIC_URL") or default_public_url).rstrip("/"),
            access_token_minutes=get_int("ASXH_ACCESS_TOKEN_MINUTES", 15),
            web_session_minutes=get_int("ASXH_WEB_SESSION_MINUTES", 480),
            root_key_file=Path(root) if root else None,
            root_public_key_file=Path(root_public) if root_public else None,
            self_signed_bundles=demo,
            status_list_size=get_int("ASXH_STATUS_LIST_SIZE", MIN_STATUS_LIST_SIZE),
            card_validity_days=get_int("ASXH_CARD_VALIDITY_DAYS", 1825),
            demo=demo,
            auto_migrate=demo or auto in {"1", "true", "yes"},
            log_level=get("ASXH_LOG_LEVEL") or "INFO",
            password_concurrency=get_int("ASXH_PASSWORD_CONCURRENCY", 2),
            image_concurrency=get_int("ASXH_IMAGE_CONCURRENCY", 2),
            issuance_concurrency=get_int("ASXH_ISSUANCE_CONCURRENCY", 3),
            db_timeout_seconds=float(get_int("ASXH_DB_TIMEOUT_SECONDS", 5)),
            cache_ms=get_int("ASXH_CACHE_MS", 1000),
        )
        settings.check_secrets()
        return settings


def _read_secrets(path: Path) -> dict[str, str]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        loaded = None
    if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
        raise SettingsError(f"{path} is not a JSON object of strings; remove it to start afresh")
    return loaded


def load_or_create_secrets(
    path: Path, make: Callable[[], dict[str, str]]
) -> tuple[dict[str, str], bool]:
    """The values in ``path``, first written from ``make()`` (mode 0600) if it is missing.

    Returns the values and whether they were created now. The file is written under a temporary
    name and linked into place, so an interrupted start never leaves a half-written file, and
    of two processes starting at once both use the values of the one that linked first.
    """
    if path.exists():
        return _read_secrets(path), False
    values = make()
    try:
        write_atomic(path, json.dumps(values, indent=2).encode(), mode=0o600, exclusive=True)
    except FileExistsError:
        return _read_secrets(path), False
    return values, True


def _demo_secrets(var_dir: Path) -> dict[str, str]:
    """Load or create ``<var>/demo-secrets.json``; warn loudly when creating it."""
    path = var_dir / "demo-secrets.json"
    values, created = load_or_create_secrets(
        path,
        lambda: {
            "secret_key": secrets.token_urlsafe(32),
            "data_key": base64.b64encode(secrets.token_bytes(32)).decode(),
            "key_passphrase": secrets.token_urlsafe(24),
        },
    )
    if created:
        print(
            "!" * 78 + f"\n!! DEMO MODE: generated throw-away secrets in {path}.\n"
            "!! They protect demo data only. Never use demo mode with real personal data.\n"
            + "!"
            * 78,
            file=sys.stderr,
        )
    return values
