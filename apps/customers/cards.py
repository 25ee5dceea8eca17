"""How a payment card is recognised without keeping its number."""

import hmac


def card_number_hmac(number: str, key: str) -> str:
    """The keyed SHA-256 HMAC stored as PaymentCard.number_hmac (key: settings.CARD_HMAC_KEY)."""
    return hmac.new(key.encode(), number.encode(), "sha256").hexdigest()
