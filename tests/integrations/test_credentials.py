"""PMS credentials: AES-256-GCM bound to the integration id; keys from env or a key file."""

from __future__ import annotations

from pathlib import Path

import pytest

from propbridge.config import Settings
from propbridge.integrations.credentials import (
    ConfigurationError,
    CredentialCipher,
    StaticKeyProvider,
    generate_key_text,
    key_provider_from_settings,
)

SECRET = {"integrationPartnerId": "1000", "accountId": "400", "apiKey": "s3cr3t-key"}


def test_round_trip_and_no_plaintext() -> None:
    cipher = CredentialCipher(StaticKeyProvider(b"k" * 32))
    sealed = cipher.encrypt("integration-a", SECRET)
    assert b"s3cr3t" not in sealed
    assert cipher.decrypt("integration-a", sealed) == SECRET


def test_ciphertext_is_bound_to_its_integration() -> None:
    cipher = CredentialCipher(StaticKeyProvider(b"k" * 32))
    with pytest.raises(ConfigurationError):
        cipher.decrypt("integration-b", cipher.encrypt("integration-a", SECRET))


def test_wrong_key_cannot_decrypt() -> None:
    sealed = CredentialCipher(StaticKeyProvider(b"k" * 32)).encrypt("a", SECRET)
    with pytest.raises(ConfigurationError):
        CredentialCipher(StaticKeyProvider(b"x" * 32)).decrypt("a", sealed)


def test_embedded_mode_generates_a_key_file_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, encryption_key=None, database_url=None)
    first = key_provider_from_settings(settings).data_key()
    assert (tmp_path / "encryption.key").stat().st_mode & 0o077 == 0
    assert key_provider_from_settings(settings).data_key() == first


def test_no_key_file_is_made_for_a_database_that_exists(tmp_path: Path) -> None:
    """Its key was lost: a new one would open nothing it holds, and would pass for the old."""
    settings = Settings(data_dir=tmp_path, encryption_key=None, database_url=None)
    (tmp_path / "propbridge.db").write_bytes(b"SQLite format 3\x00")
    with pytest.raises(ConfigurationError) as refused:
        key_provider_from_settings(settings)
    assert "restore" in str(refused.value) and "encryption.key" in str(refused.value)
    assert not (tmp_path / "encryption.key").exists()


def test_production_requires_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        key_provider_from_settings(Settings(data_dir=tmp_path, environment="production"))
    with pytest.raises(ConfigurationError):
        key_provider_from_settings(
            Settings(data_dir=tmp_path, database_url="postgresql://x@127.0.0.1/db")
        )


def test_env_key_is_used() -> None:
    key = generate_key_text()
    provider = key_provider_from_settings(Settings(encryption_key=key))
    assert len(provider.data_key()) == 32
    with pytest.raises(ConfigurationError):
        key_provider_from_settings(Settings(encryption_key="c2hvcnQ="))
