"""Every rule of what a payments delivery's text may keep, in one place: card numbers reduced to
their last four digits, a CVV replaced, the street address of a user withheld. The readers and
the staging apply these to the text of rejected lines (`RejectedRow.raw_line`) and of staged
lines; the SQL transforms apply the same card-number rule through `transactions_mask_pan` (created by
migration transactions 0003)."""

from __future__ import annotations

import csv
import io
import re

from apps.transactions.ingest.layout import COLUMNS

# A card number is any run of 13-19 digits; a CVV is a 3-4 digit field right after one.
_PAN_WITH_CVV = re.compile(rb"(?<![0-9])[0-9]{9,15}([0-9]{4})(?![0-9])(\s*[,;|]\s*)[0-9]{3,4}(?![0-9])")
_PAN = re.compile(rb"(?<![0-9])[0-9]{9,15}([0-9]{4})(?![0-9])")


def mask_line(raw: bytes) -> str:
    """The text kept for a rejected line: card numbers reduced to their last four digits, a CVV
    after a card number replaced, bytes that are not UTF-8 shown escaped."""
    masked = _PAN_WITH_CVV.sub(rb"************\1\2***", raw)
    masked = _PAN.sub(rb"************\1", masked)
    return masked.decode("utf-8", "backslashreplace")[:2000]


def mask_text(text: str) -> str:
    return mask_line(text.encode("utf-8", "surrogateescape"))


def csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def cards_line(fields: list[str], number: str, *, valid: bool) -> str:
    """The text kept of a cards line that could be split: `number` (the card number, digits
    only) reduced to its last four digits, or to nothing when it is not a card number, and the
    CVV column replaced."""
    columns = COLUMNS["cards"]
    masked = list(fields)
    masked[columns.index("card_number")] = ("*" * 12 + number[-4:]) if valid else "****"
    masked[columns.index("cvv")] = "***"
    return mask_line(csv_line(masked).encode())


def cards_raw_mask(raw: bytes) -> str:
    """Rejected cards lines: the number keeps its last four digits and the CVV column is replaced;
    in a line that cannot be split, every short number field after a card number goes too."""
    columns = COLUMNS["cards"]
    try:
        fields = next(csv.reader([raw.decode("utf-8", "replace")]))
    except csv.Error:
        fields = []
    if len(fields) > columns.index("cvv"):
        number = re.sub(r"[^0-9]", "", fields[columns.index("card_number")])
        fields[columns.index("card_number")] = "*" * 12 + number[-4:] if len(number) >= 4 else "****"
        fields[columns.index("cvv")] = "***"
        return mask_line(csv_line(fields).encode())
    masked = mask_line(raw)
    head, star, tail = masked.partition("************")
    return head + star + re.sub(r"(?<![0-9])[0-9]{3,4}(?![0-9])", "***", tail)


def users_line(fields: list[str]) -> str:
    """The text kept of a users line that could be split: everything but the street address."""
    masked = list(fields)
    masked[COLUMNS["users"].index("address")] = "[address removed]"
    return mask_line(csv_line(masked).encode())


def users_raw_mask(raw: bytes) -> str:
    """Rejected users lines: the address column is removed when the line can be split; a line that
    cannot keep its first field only, since it may hold an address anywhere."""
    try:
        fields = next(csv.reader([raw.decode("utf-8", "replace")]))
    except csv.Error:
        fields = []
    address = COLUMNS["users"].index("address")
    if len(fields) > address:
        return users_line(fields)
    first = raw.split(b",", 1)[0][:40]
    return mask_line(first + b",[rest of the line withheld: it may hold an address]")
