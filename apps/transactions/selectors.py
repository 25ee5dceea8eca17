"""Fraud analytics over the enriched_transactions view (a plain view over the payments).

Rates are over labelled payments (is_fraud not NULL); loss is the amount of fraudulent payments
(refunds, negative amounts, are not a loss). Every breakdown takes an optional period
[start, end) on the payment time. Hours and days of week are UTC (see the view).

Each group carries its raw fraud rate with a 95 % Wilson interval, and a rate shrunk toward the
overall one (empirical Bayes: a Beta prior centred on the overall rate and worth PRIOR_FRAUDS
expected frauds). Rankings use the shrunk rate, so a category with three payments and one fraud
does not top a list where a category of ten thousand payments runs at 1 %. The breakdowns read
every payment of their period: they run with JIT off (apps.common.sql.jit_off)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from psycopg import sql

from apps.common.sql import fetch_dicts, jit_off, statement_sql
from apps.transactions.models import EnrichedTransaction

Z_95 = 1.959963984540054
PRIOR_FRAUDS = 2.0


@dataclass(frozen=True)
class FraudStat:
    key: str | int
    label: str
    payments: int
    labelled: int
    frauds: int
    fraud_rate: float | None
    rate_low: float | None
    rate_high: float | None
    shrunk_rate: float | None
    fraud_loss: Decimal


def wilson_interval(frauds: int, labelled: int, z: float = Z_95) -> tuple[float | None, float | None]:
    """Wilson score interval of a proportion: honest for small counts, where 3 frauds in 3
    payments is an interval from 0.44 to 1, not a rate of 100 %."""
    if labelled <= 0:
        return None, None
    p = frauds / labelled
    z2 = z * z
    centre = (p + z2 / (2 * labelled)) / (1 + z2 / labelled)
    half = z * math.sqrt(p * (1 - p) / labelled + z2 / (4 * labelled * labelled)) / (1 + z2 / labelled)
    return max(0.0, centre - half), min(1.0, centre + half)


def enriched_transaction_list(*, start: dt.datetime | None = None, end: dt.datetime | None = None) -> QuerySet:
    qs = EnrichedTransaction.objects.all()
    if start is not None:
        qs = qs.filter(paid_at__gte=start)
    if end is not None:
        qs = qs.filter(paid_at__lt=end)
    return qs


_AGGREGATES = {
    "payments": Count("id"),
    "labelled": Count("id", filter=Q(is_fraud__isnull=False)),
    "frauds": Count("id", filter=Q(is_fraud=True)),
    "fraud_loss": Sum("amount", filter=Q(is_fraud=True, amount__gt=0)),
}


def _prior(rows) -> tuple[float, float]:
    """Beta prior (alpha, beta) centred on the overall fraud rate of the rows."""
    labelled = sum(r["labelled"] for r in rows)
    frauds = sum(r["frauds"] for r in rows)
    if not labelled or not frauds:
        return 0.0, 0.0
    rate = frauds / labelled
    strength = PRIOR_FRAUDS / rate  # prior payments: PRIOR_FRAUDS expected frauds
    return rate * strength, (1 - rate) * strength


def _stat(key, label, row: dict, prior: tuple[float, float] = (0.0, 0.0)) -> FraudStat:
    labelled, frauds = row["labelled"], row["frauds"]
    low, high = wilson_interval(frauds, labelled)
    alpha, beta = prior
    shrunk = (frauds + alpha) / (labelled + alpha + beta) if labelled else None
    return FraudStat(
        key=key,
        label=label,
        payments=row["payments"],
        labelled=labelled,
        frauds=frauds,
        fraud_rate=frauds / labelled if labelled else None,
        rate_low=low,
        rate_high=high,
        shrunk_rate=shrunk,
        fraud_loss=row["fraud_loss"] or Decimal("0.00"),
    )


def _grouped(field: str, *, start, end) -> list[dict]:
    with jit_off():
        return list(
            enriched_transaction_list(start=start, end=end)
            .order_by()
            .values(field)
            .annotate(**_AGGREGATES)
            .order_by(field)
        )


def fraud_by_hour(*, start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[FraudStat]:
    """All 24 hours of the day (UTC), empty hours included."""
    rows = {r["hour_of_day"]: r for r in _grouped("hour_of_day", start=start, end=end)}
    empty = {"payments": 0, "labelled": 0, "frauds": 0, "fraud_loss": None}
    return [_stat(h, f"{h:02d}:00", rows.get(h, empty)) for h in range(24)]


def fraud_by_merchant_category(
    *, start: dt.datetime | None = None, end: dt.datetime | None = None, limit: int | None = None
) -> list[FraudStat]:
    """Merchant categories ranked by their shrunk fraud rate (see the module docstring), with
    counts, raw rate and Wilson interval: a category with a handful of payments cannot top the
    list on luck."""
    with jit_off():
        rows = list(
            enriched_transaction_list(start=start, end=end)
            .order_by()
            .values("mcc", "mcc_description")
            .annotate(**_AGGREGATES)
        )
    prior = _prior(rows)
    return _ranked([_stat(r["mcc"], r["mcc_description"], r, prior) for r in rows], limit)


def _ranked(stats: list[FraudStat], limit: int | None) -> list[FraudStat]:
    stats.sort(key=lambda s: (-(s.shrunk_rate or 0.0), -s.frauds, str(s.key)))
    return stats[:limit] if limit else stats


def fraud_by_merchant_state(
    *, start: dt.datetime | None = None, end: dt.datetime | None = None, limit: int | None = None
) -> list[FraudStat]:
    """By merchant state (country for foreign merchants, "online" for online ones), ranked like
    the categories."""
    rows = _grouped("merchant_state", start=start, end=end)
    prior = _prior(rows)
    return _ranked(
        [_stat(r["merchant_state"] or "online", r["merchant_state"] or "online", r, prior) for r in rows], limit
    )


METHOD_LABELS = {"chip": "Chip", "swipe": "Swipe", "online": "Online"}


def fraud_by_method(*, start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[FraudStat]:
    """Chip, swipe and online payments (all three, even when empty)."""
    rows = {r["method"]: r for r in _grouped("method", start=start, end=end)}
    empty = {"payments": 0, "labelled": 0, "frauds": 0, "fraud_loss": None}
    return [_stat(m, label, rows.get(m, empty)) for m, label in METHOD_LABELS.items()]


def fraud_by_error_type(*, start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[FraudStat]:
    """By error reported with the payment ("none" for payments without one); a payment with two
    errors counts under both."""
    conditions, params = [], []
    if start is not None:
        conditions.append("e.paid_at >= %s")
        params.append(start)
    if end is not None:
        conditions.append("e.paid_at < %s")
        params.append(end)
    where = sql.SQL(("WHERE " + " AND ".join(conditions)) if conditions else "")
    rows = fetch_dicts(statement_sql(__name__, "fraud_by_error_type.sql", where=where), params)
    return [_stat(r["error"], r["error"], r) for r in rows]


def fraud_loss_total(*, start: dt.datetime | None = None, end: dt.datetime | None = None) -> dict:
    """Totals of a period: payments, labelled, frauds, the fraud rate with its interval, fraud
    loss and refunded amount."""
    with jit_off():
        row = enriched_transaction_list(start=start, end=end).aggregate(
            **_AGGREGATES, refunds=Sum("amount", filter=Q(amount__lt=0))
        )
    stat = _stat("total", "total", row)
    return {
        "payments": stat.payments,
        "labelled": stat.labelled,
        "frauds": stat.frauds,
        "fraud_rate": stat.fraud_rate,
        "rate_low": stat.rate_low,
        "rate_high": stat.rate_high,
        "fraud_loss": stat.fraud_loss,
        "refunds": -(row["refunds"] or Decimal("0.00")),
    }
