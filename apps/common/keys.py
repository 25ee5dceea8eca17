"""Secret keys handed out once and stored only as a hash: partner API tokens and device tokens."""

import hashlib
import secrets

TOKEN_PREFIX_LEN = 8


def hash_key(raw_key: str) -> str:
    # Keys are 256-bit random values, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_secret_key(label: str) -> tuple[str, str]:
    """A fresh key `<label>_<prefix>.<secret>` and its lookup prefix."""
    prefix = secrets.token_hex(TOKEN_PREFIX_LEN // 2)
    return f"{label}_{prefix}.{secrets.token_urlsafe(32)}", prefix


def split_key(raw_key: str) -> str | None:
    """The lookup prefix of a presented key, or None when it is not of our shape."""
    try:
        head, _secret = raw_key.split(".", 1)
        prefix = head.rsplit("_", 1)[1]
    except (ValueError, IndexError):
        return None
    return prefix if len(prefix) == TOKEN_PREFIX_LEN else None
