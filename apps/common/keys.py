"""Secret keys handed out once and stored only as a hash: partner API tokens and device tokens."""

import hashlib
import re
import secrets

TOKEN_PREFIX_LEN = 8
# A key as new_secret_key makes it, anywhere in a text: the label and prefix (shown in the admin)
# and the secret part, which no log line may carry (apps.common.logging.RedactKeysFilter).
KEY_IN_TEXT = re.compile(rf"\b([a-z]{{2,8}}_[0-9a-f]{{{TOKEN_PREFIX_LEN}}})\.[A-Za-z0-9_-]{{20,}}")


def redact_keys(text: str) -> str:
    """The text with the secret part of every key in it replaced (`dev_1a2b3c4d.…`)."""
    return KEY_IN_TEXT.sub(r"\1.…", text)


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
