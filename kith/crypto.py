"""Field encryption (AES-256-GCM with key ids) and HMAC blind indexes.

A value is stored as ``<key id>:<base64(nonce | ciphertext+tag)>`` so several keys
can be live at once: the newest (last configured) encrypts, any known key
decrypts, and ``kith keys rotate`` re-encrypts old values in the background.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class DecryptionError(ValueError):
    """A stored value cannot be decrypted with the configured keys."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    blind_key: bytes

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one encryption key is required")
        for key_id, key in self.keys.items():
            if ":" in key_id or len(key) != 32:
                raise ValueError(f"bad encryption key {key_id!r}")

    @property
    def current_key_id(self) -> str:
        return list(self.keys)[-1]

    def encrypt(self, plaintext: str, *, associated_data: bytes | None = None) -> str:
        key_id = self.current_key_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[key_id]).encrypt(nonce, plaintext.encode(), associated_data)
        return f"{key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, associated_data: bytes | None = None) -> str:
        key_id, sep, body = token.partition(":")
        if not sep or key_id not in self.keys:
            raise DecryptionError(f"unknown encryption key id {key_id!r}")
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error as exc:  # truncated or altered at rest
            raise DecryptionError("stored value is not valid base64") from exc
        if len(raw) <= _NONCE_BYTES:
            raise DecryptionError("stored value is too short")
        try:
            plain = AESGCM(self.keys[key_id]).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated_data
            )
        except Exception as exc:  # cryptography raises InvalidTag
            raise DecryptionError("stored value failed authentication") from exc
        return plain.decode()

    @staticmethod
    def key_id_of(token: str) -> str:
        return token.partition(":")[0]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self.current_key_id

    def blind_index(self, value: str, *, purpose: str) -> str:
        """Deterministic keyed digest for equality lookups on encrypted values.

        ``purpose`` separates indexes (a phone digest never equals an email digest).
        """
        mac = hmac.new(self.blind_key, f"{purpose}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:40]


_keyring: Keyring | None = None


def configure(keyring: Keyring) -> None:
    """Install the process-wide keyring (done by create_app and the CLI)."""
    global _keyring
    _keyring = keyring


def keyring() -> Keyring:
    if _keyring is None:
        raise RuntimeError("encryption keyring not configured")
    return _keyring


def generate_key() -> str:
    """A new base64 AES-256 key for KITH_ENCRYPTION_KEYS."""
    return base64.b64encode(os.urandom(32)).decode()
