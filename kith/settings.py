"""All KITH_* settings in one place (pydantic-settings).

In development a missing secret or encryption key is generated once and kept in
the data folder (so sessions and encrypted fields survive a restart); in
production a missing one is a startup error.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "production", "test"]


class SettingsError(RuntimeError):
    """The configuration cannot be used (raised at startup)."""


def _json_or_csv_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KITH_", env_file=".env", extra="ignore", frozen=False
    )

    env: Environment = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    # JSON object {"key id": "base64 32-byte key", ...}; the last entry encrypts.
    encryption_keys: SecretStr | None = None
    blind_index_key: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = True

    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 7 * 24 * 3600
    invite_token_ttl_seconds: int = 72 * 3600
    jwt_issuer: str = "kith"
    # What a token or API key resolves to (role, teams) is cached this long per process;
    # a change made through another API process shows after at most this delay. 0: off.
    auth_cache_seconds: float = 5.0
    # argon2id cost; tests lower it, production keeps the library defaults.
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rate_limit: str = "600/minute"
    login_failure_limit: str = "5/minute"
    max_body_bytes: int = 2 * 1024 * 1024
    idempotency_ttl_seconds: int = 48 * 3600
    idempotency_lock_seconds: int = 60
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    db_pool_size: int = 10
    db_max_overflow: int = 20
    sqlite_busy_timeout_ms: int = 5000

    # Jobs, outbox and webhooks
    embedded_worker: bool = True  # `kith serve` runs worker threads unless --no-worker
    worker_threads: int = 2
    queue_name: str = "kith"  # Huey queue (Redis key prefix / SQLite queue) of this install
    outbox_poll_seconds: float = 0.25
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 8
    webhook_disable_after_failures: int = 20
    nats_url: str | None = None
    nats_stream: str = "KITH"

    _validators = field_validator(
        "cors_origins", "trusted_proxies", "webhook_allowed_hosts", mode="before"
    )(_json_or_csv_list)

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'kith.db').as_posix()}"
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    # -- secrets -----------------------------------------------------------------
    def _local_secrets(self) -> dict[str, Any]:
        """Dev-only secrets kept in <data_dir>/secrets.json, created on first use."""
        path = self.data_dir / "secrets.json"
        if path.exists():
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
        self.data_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "secret_key": secrets.token_urlsafe(48),
            "encryption_keys": {"k1": base64.b64encode(os.urandom(32)).decode()},
            "blind_index_key": secrets.token_urlsafe(32),
        }
        # Written to a private temporary file and linked into place, so a second
        # process starting at the same moment either wins or reads the complete
        # winner's file (never a half-written one, never a second set of keys).
        tmp = path.with_name(f".secrets-{os.getpid()}-{secrets.token_hex(4)}.json")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle)
            try:
                os.link(tmp, path)
            except FileExistsError:
                existing: dict[str, Any] = json.loads(path.read_text())
                return existing
        finally:
            tmp.unlink(missing_ok=True)
        return data

    def _secret(self, name: str) -> Any:
        value = getattr(self, name)
        if value is not None and value.get_secret_value():
            raw = value.get_secret_value()
            if name != "encryption_keys":
                return raw
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingsError(
                    'KITH_ENCRYPTION_KEYS must be a JSON object {"id": "base64"}'
                ) from exc
        if self.is_production:
            raise SettingsError(f"KITH_{name.upper()} must be set in production")
        return self._local_secrets()[name]

    @cached_property
    def resolved_secret_key(self) -> str:
        key = str(self._secret("secret_key"))
        if self.is_production and len(key) < 32:
            raise SettingsError("KITH_SECRET_KEY must be at least 32 characters")
        return key

    @cached_property
    def resolved_encryption_keys(self) -> dict[str, bytes]:
        raw = self._secret("encryption_keys")
        if not isinstance(raw, dict) or not raw:
            raise SettingsError('KITH_ENCRYPTION_KEYS must be a JSON object {"id": "base64"}')
        keys: dict[str, bytes] = {}
        for key_id, encoded in raw.items():
            # The id is stored in front of every value as "<id>:<ciphertext>".
            if not key_id or ":" in key_id:
                raise SettingsError(f"encryption key id {key_id!r} must be non-empty, without ':'")
            try:
                key = base64.b64decode(str(encoded), validate=True)
            except binascii.Error as exc:
                raise SettingsError(f"encryption key {key_id!r} is not valid base64") from exc
            if len(key) != 32:
                raise SettingsError(f"encryption key {key_id!r} must be 32 bytes (base64)")
            keys[str(key_id)] = key
        return keys

    @cached_property
    def resolved_blind_index_key(self) -> bytes:
        key = str(self._secret("blind_index_key"))
        # A weak HMAC key would let anyone holding a database copy test guesses
        # (emails, phone numbers) against the blind indexes offline.
        if self.is_production and len(key) < 32:
            raise SettingsError("KITH_BLIND_INDEX_KEY must be at least 32 characters")
        return key.encode()

    def validate_for_startup(self) -> None:
        """Fail fast on configuration that cannot work (called by create_app)."""
        _ = self.resolved_secret_key
        _ = self.resolved_encryption_keys
        _ = self.resolved_blind_index_key


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
