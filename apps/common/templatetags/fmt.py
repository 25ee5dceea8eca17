"""Numbers and dates for people: `{% load fmt %}` then `{{ value|money }}`, `{{ value|thousands }}`.

Every filter shows an em dash for a missing value (never "None") and never prints a raw float."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone

register = template.Library()
MISSING = "—"
CURRENCY = "€"
MINUS = "\u2212"  # a real minus sign: the same width as the digits


def _number(value) -> Decimal | None:
    # `value == ""` on a Decimal makes it ask whether "" is a numbers.Rational, which the first
    # time in a process walks every type registered under it (numpy's, pandas'): 150 ms at load 6
    # on an ops page's first request.
    if value is None or (isinstance(value, str) and not value):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _grouped(number: Decimal, places: int) -> str:
    return f"{number:,.{places}f}".replace("-", MINUS)


@register.filter
def thousands(value, places: int = 0) -> str:
    """12345.6 → "12,346"; with an argument that many decimals."""
    number = _number(value)
    return MISSING if number is None else _grouped(number, int(places))


def _amount(value, symbol: str, places) -> str:
    number = _number(value)
    if number is None:
        return MISSING
    sign = MINUS if number < 0 else ""
    return f"{sign}{symbol}{_grouped(abs(number), int(places))}"


@register.filter
def money(value, places: int = 0) -> str:
    """Euros: 1234.5 → "€1,235" (|money:2 → "€1,234.50")."""
    return _amount(value, CURRENCY, places)


@register.filter
def usd(value, places: int = 0) -> str:
    """Card payments are in dollars (the payments delivery's currency)."""
    return _amount(value, "$", places)


@register.filter
def pct(value, places: int = 1) -> str:
    """A share 0..1 as a percentage: 0.1234 → "12.3 %"."""
    number = _number(value)
    return MISSING if number is None else f"{_grouped(number * 100, int(places))} %"


@register.filter
def pct_change(value, places: int = 1) -> str:
    """A relative change as a signed percentage: 0.05 → "+5.0 %"."""
    number = _number(value)
    if number is None:
        return MISSING
    sign = "+" if number > 0 else ""
    return f"{sign}{_grouped(number * 100, int(places))} %"


@register.filter
def km(value, places: int = 0) -> str:
    """Kilometres: 12345 → "12,345 km"."""
    number = _number(value)
    return MISSING if number is None else f"{_grouped(number, int(places))} km"


@register.filter
def m_as_km(value, places: int = 1) -> str:
    """Metres shown as kilometres: 12345 → "12.3 km"."""
    number = _number(value)
    return MISSING if number is None else f"{_grouped(number / 1000, int(places))} km"


@register.filter
def kmh(value, places: int = 0) -> str:
    """A speed in m/s shown in km/h: 27.78 → "100 km/h"."""
    number = _number(value)
    return MISSING if number is None else f"{_grouped(number * Decimal('3.6'), int(places))} km/h"


@register.filter
def decimal(value, places: int = 2) -> str:
    """A plain number with a fixed number of decimals and separators."""
    number = _number(value)
    return MISSING if number is None else _grouped(number, int(places))


@register.filter
def when(value, fmt: str = "%d %b %Y %H:%M") -> str:
    """A date or time in the local zone ("05 Dec 2026 14:03")."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                return value[:32]
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime(fmt)
    if isinstance(value, dt.date):
        return value.strftime("%d %b %Y" if fmt == "%d %b %Y %H:%M" else fmt)
    return str(value)


@register.filter
def day(value) -> str:
    return when(value, "%d %b %Y")


@register.filter
def ago(value) -> str:
    """How long ago, in the largest whole unit: "3 h ago"."""
    if value is None:
        return MISSING
    seconds = int((timezone.now() - value).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


@register.filter
def duration(seconds) -> str:
    """Seconds as "1 h 05 min", "4 min 10 s" or "12 s"."""
    number = _number(seconds)
    if number is None:
        return MISSING
    total = int(number)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@register.filter
def label(value) -> str:
    """A code as words: "due_soon" → "Due soon"."""
    if value is None or value == "":
        return MISSING
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]
