"""PMS credentials at rest: AES-256-GCM with the integration id as associated data.

Behind a small key-provider interface (a key file or an environment variable now, a KMS later).
Nothing here logs or returns a key.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any, Protocol

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from propbridge.config import Settings, make_private_directory

log = structlog.get_logger(__name__)

FORMAT_VERSION = b"\x01"


class KeyProvider(Protocol):
    """Supplies the 32-byte data key."""

    def data_key(self) -> bytes:
        """The key that encrypts credentials."""
        ...


class ConfigurationError(RuntimeError):
    """propbridge cannot start with the settings it was given."""


class StaticKeyProvider:
    """A key held in memory (read from the environment or from a key file)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigurationError("the encryption key must be 32 bytes (base64-encoded)")
        self._key = key

    def data_key(self) -> bytes:
        return self._key


def decode_key(text: str) -> bytes:
    """A base64 (standard or URL-safe) 32-byte key."""
    try:
        return base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError) as error:
        raise ConfigurationError("PROPBRIDGE_ENCRYPTION_KEY is not valid base64") from error


def generate_key_text() -> str:
    """A new random key, base64 text."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def key_provider_from_settings(settings: Settings) -> KeyProvider:
    """The environment's key; in embedded mode a key file made once beside the database."""
    if settings.encryption_key:
        return StaticKeyProvider(decode_key(settings.encryption_key))
    if settings.environment == "production" or not settings.is_embedded:
        raise ConfigurationError(
            "PROPBRIDGE_ENCRYPTION_KEY must be set (generate one with `propbridge keygen`)"
        )
    key_file = Path(settings.data_dir) / "encryption.key"
    if not key_file.exists():
        database = embedded_database_file(settings)
        if database is not None and database.exists() and database.stat().st_size > 0:
            # A new key would open nothing the database holds, and a key file made now would
            # be mistaken for the lost one.
            raise ConfigurationError(
                f"the key file {key_file} is missing but the database {database} exists: "
                f"restore {key_file} from a backup, or set PROPBRIDGE_ENCRYPTION_KEY to the key "
                f"it was stored with (to start afresh instead, delete {settings.data_dir})"
            )
        make_private_directory(key_file.parent)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key_text())
        log.warning(
            "encryption_key_generated",
            path=str(key_file),
            hint="back this file up; without it stored credentials cannot be read",
        )
    return StaticKeyProvider(decode_key(key_file.read_text()))


def embedded_database_file(settings: Settings) -> Path | None:
    """The SQLite file of an embedded deployment."""
    url = settings.effective_database_url
    return Path(url.split(":///", 1)[1]) if url.startswith("sqlite") and ":///" in url else None


class CredentialCipher:
    """Encrypts and decrypts one integration's credentials."""

    def __init__(self, keys: KeyProvider) -> None:
        self._keys = keys

    def encrypt(self, integration_id: str, credentials: dict[str, Any]) -> bytes:
        """Ciphertext = version byte, 12-byte nonce, AES-GCM output."""
        nonce = os.urandom(12)
        plaintext = json.dumps(credentials, sort_keys=True).encode()
        sealed = AESGCM(self._keys.data_key()).encrypt(nonce, plaintext, integration_id.encode())
        return FORMAT_VERSION + nonce + sealed

    def decrypt(self, integration_id: str, ciphertext: bytes) -> dict[str, Any]:
        """The credentials, or ConfigurationError when the key is wrong."""
        if ciphertext[:1] != FORMAT_VERSION:
            raise ConfigurationError("unknown credential format")
        try:
            plaintext = AESGCM(self._keys.data_key()).decrypt(
                ciphertext[1:13], ciphertext[13:], integration_id.encode()
            )
        except InvalidTag as error:
            raise ConfigurationError("credentials cannot be decrypted with this key") from error
        value: dict[str, Any] = json.loads(plaintext)
        return value
