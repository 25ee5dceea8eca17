"""Secrets the application must read back (a webhook's signing secret: it signs every delivery)
are stored encrypted under a server key from the environment, never in clear.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under FLEETOPS_ENCRYPTION_KEY; the
keys in FLEETOPS_ENCRYPTION_KEY_FALLBACKS still decrypt, so a key can be rotated: set the new key,
move the old one to the fallbacks, re-encrypt (`manage.py reencrypt_webhook_secrets`), then drop
the fallback. A key is any random string (say 50 characters); the Fernet key is derived from it
with HKDF-SHA256, so the database alone, or a backup of it, holds nothing that signs."""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUndecryptable(Exception):
    """A stored secret that none of the configured keys decrypts (a key was lost or dropped)."""


@functools.lru_cache(maxsize=32)
def _fernet(material: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"fleetops encrypted secrets").derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _keys() -> MultiFernet:
    current = settings.ENCRYPTION_KEY
    if not current:
        raise SecretUndecryptable("FLEETOPS_ENCRYPTION_KEY is not set")
    return MultiFernet([_fernet(current), *(_fernet(old) for old in settings.ENCRYPTION_KEY_FALLBACKS if old)])


def encrypt(plaintext: str) -> str:
    """A token (ASCII) of `plaintext` under the current key; a fresh one at every call."""
    return _keys().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _keys().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError, AttributeError):
        raise SecretUndecryptable("no configured key decrypts this secret") from None


def reencrypt(token: str) -> str:
    """The same secret under the current key (a token already under it is re-encrypted too)."""
    try:
        return _keys().rotate(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError, AttributeError):
        raise SecretUndecryptable("no configured key decrypts this secret") from None


def is_under_current_key(token: str) -> bool:
    try:
        _fernet(settings.ENCRYPTION_KEY).decrypt(token.encode())
    except (InvalidToken, ValueError, TypeError, AttributeError):
        return False
    return True
