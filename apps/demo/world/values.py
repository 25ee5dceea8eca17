"""Plausible values for the demo world: money in cents, ASCII slugs of names, structurally valid
VINs and card numbers, month ends."""

import datetime as dt
import random
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9), strict=True))}
VIN_VALUES.update(dict(zip("JKLMN", range(1, 6), strict=True)) | {"P": 7, "R": 9})
VIN_VALUES.update(dict(zip("STUVWXYZ", range(2, 10), strict=True)))
VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
VIN_YEAR = {2019: "K", 2020: "L", 2021: "M", 2022: "N", 2023: "P", 2024: "R", 2025: "S", 2026: "T", 2027: "V"}


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def ascii_slug(text: str) -> str:
    folded = text.replace("ß", "ss").replace("\u0131", "i")  # dotless i has no ASCII decomposition
    return unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode().lower()


def vin_for(wmi: str, year: int, serial: int, rng: random.Random) -> str:
    """A structurally valid VIN: manufacturer, descriptor, check digit, model year, plant, serial."""
    descriptor = "".join(rng.choice(VIN_CHARS) for _ in range(4)) + "Z"
    body = f"{wmi}{descriptor}0{VIN_YEAR.get(year, 'T')}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{serial:06d}"
    check = sum(VIN_VALUES[c] * w for c, w in zip(body, VIN_WEIGHTS, strict=True)) % 11
    return body[:8] + ("X" if check == 10 else str(check)) + body[9:]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def end_of_month(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)
