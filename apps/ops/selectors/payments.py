"""The payments fraud dashboard over the enriched_transactions view: rate and loss by hour, by
merchant category (with counts and the Wilson interval, ranked by the rate shrunk toward the
overall one), by merchant state, by channel and by error, loss over time, the payment-fraud
model against the rule baseline, and the payments behind a bar. Each chart is one query."""

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from apps.customers.models import PaymentCard
from apps.intelligence.payment_fraud import payment_fraud_model_latest
from apps.transactions.models import EnrichedTransaction, MerchantCategory
from apps.transactions.selectors import PRIOR_FRAUDS, wilson_interval

PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}
METHODS = {"chip": "Chip", "swipe": "Swipe", "online": "Online"}
AGGREGATES = {
    "payments": Count("id"),
    "labelled": Count("id", filter=Q(is_fraud__isnull=False)),
    "frauds": Count("id", filter=Q(is_fraud=True)),
    "loss": Sum("amount", filter=Q(is_fraud=True, amount__gt=0)),
}


def filtered(*, period: str = "365", method: str = "", mcc: str = "") -> QuerySet[EnrichedTransaction]:
    """The view's rows of the period (ending with the newest payment), channel and category."""
    rows = EnrichedTransaction.objects.all()
    days = PERIODS.get(period)
    if days:
        rows = rows.filter(paid_at__gte=timezone.now() - dt.timedelta(days=days))
    if method:
        rows = rows.filter(method=method)
    if mcc:
        rows = rows.filter(mcc=mcc)
    return rows


def _stats(rows: list[dict], key: str, label) -> list[dict]:
    labelled = sum(r["labelled"] for r in rows)
    frauds = sum(r["frauds"] for r in rows)
    alpha = beta = 0.0
    if labelled and frauds:
        rate = frauds / labelled
        strength = PRIOR_FRAUDS / rate
        alpha, beta = rate * strength, (1 - rate) * strength
    out = []
    for r in rows:
        low, high = wilson_interval(r["frauds"], r["labelled"])
        out.append(
            {
                "key": r[key],
                "label": label(r),
                "payments": r["payments"],
                "labelled": r["labelled"],
                "frauds": r["frauds"],
                "rate": r["frauds"] / r["labelled"] if r["labelled"] else None,
                "low": low,
                "high": high,
                "shrunk": (r["frauds"] + alpha) / (r["labelled"] + alpha + beta) if r["labelled"] else None,
                "loss": r["loss"] or Decimal("0"),
            }
        )
    return out


def totals(rows: QuerySet) -> dict:
    row = rows.aggregate(**AGGREGATES)
    stat = _stats([{**row, "k": "all"}], "k", lambda r: "all")[0]
    return stat


def by_hour(rows: QuerySet) -> list[dict]:
    found = {r["hour_of_day"]: r for r in rows.order_by().values("hour_of_day").annotate(**AGGREGATES)}
    empty = {"payments": 0, "labelled": 0, "frauds": 0, "loss": None}
    return _stats(
        [{"hour_of_day": h, **found.get(h, empty)} for h in range(24)],
        "hour_of_day",
        lambda r: f"{r['hour_of_day']:02d}:00",
    )


def _ranked(stats: list[dict], limit: int | None) -> list[dict]:
    stats.sort(key=lambda s: (-(s["shrunk"] or 0), -s["frauds"], str(s["key"])))
    return stats[:limit] if limit else stats


def by_category(rows: QuerySet, *, limit: int | None = 15) -> list[dict]:
    grouped = list(rows.order_by().values("mcc", "mcc_description").annotate(**AGGREGATES))
    return _ranked(_stats(grouped, "mcc", lambda r: f"{r['mcc']} {r['mcc_description'][:40]}"), limit)


def by_state(rows: QuerySet, *, limit: int | None = 15) -> list[dict]:
    grouped = list(rows.order_by().values("merchant_state").annotate(**AGGREGATES))
    return _ranked(_stats(grouped, "merchant_state", lambda r: r["merchant_state"] or "online"), limit)


def by_method(rows: QuerySet) -> list[dict]:
    found = {r["method"]: r for r in rows.order_by().values("method").annotate(**AGGREGATES)}
    empty = {"payments": 0, "labelled": 0, "frauds": 0, "loss": None}
    return _stats([{"method": m, **found.get(m, empty)} for m in METHODS], "method", lambda r: METHODS[r["method"]])


def by_error(*, period: str, method: str, mcc: str) -> list[dict]:
    """By error reported with the payment ("none" without one); a payment with two errors counts
    under both (one query over the view's error arrays)."""
    where, params = ["true"], []
    days = PERIODS.get(period)
    if days:
        where.append("e.paid_at >= %s")
        params.append(timezone.now() - dt.timedelta(days=days))
    if method:
        where.append("e.method = %s")
        params.append(method)
    if mcc:
        where.append("e.mcc = %s")
        params.append(mcc)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(t.error, 'none') AS error, count(*) AS payments,"
            " count(*) FILTER (WHERE e.is_fraud IS NOT NULL) AS labelled, count(*) FILTER (WHERE e.is_fraud) AS frauds,"
            " sum(e.amount) FILTER (WHERE e.is_fraud AND e.amount > 0) AS loss"
            " FROM enriched_transactions e LEFT JOIN LATERAL unnest(e.errors) AS t(error) ON true"
            f" WHERE {' AND '.join(where)} GROUP BY 1 ORDER BY 1",
            params,
        )
        names = [c[0] for c in cursor.description]
        grouped = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return _ranked(_stats(grouped, "error", lambda r: r["error"]), None)


def loss_by_month(rows: QuerySet) -> list[dict]:
    return list(
        rows.order_by().annotate(month=TruncMonth("paid_at")).values("month").annotate(**AGGREGATES).order_by("month")
    )


def model_summary() -> dict | None:
    """The newest payment-fraud model's held-out figures against the rule baseline."""
    model = payment_fraud_model_latest()
    if not model:
        return None
    metrics = model.get("metrics", {})
    return {
        "trained_at": model.get("trained_at"),
        "model": metrics.get("model", {}),
        "rules": metrics.get("rules", {}),
        "base_rate": metrics.get("base_rate"),
        "test_months": model.get("split", {}).get("test_months", []),
        "top_features": model.get("top_features", []),
    }


def categories() -> list[tuple[str, str]]:
    """The categories that have payments, for the filter (cached like the dashboard)."""
    from django.core.cache import cache

    key = f"ops:payments-categories:{view_version()}"
    found = cache.get(key)
    if found is None:
        used = EnrichedTransaction.objects.order_by().values_list("mcc", flat=True).distinct()
        found = list(MerchantCategory.objects.filter(code__in=used).order_by("code").values_list("code", "description"))
        cache.set(key, found, 3600)
    return found


def payment_list(
    *,
    period: str = "365",
    method: str = "",
    mcc: str = "",
    hour: int | None = None,
    state: str = "",
    error: str = "",
    fraud_only: bool = False,
) -> QuerySet[EnrichedTransaction]:
    rows = filtered(period=period, method=method, mcc=mcc)
    if hour is not None:
        rows = rows.filter(hour_of_day=hour)
    if state:
        rows = rows.filter(merchant_state="" if state == "online" else state)
    if error == "none":
        rows = rows.filter(errors=[])
    elif error:
        rows = rows.filter(errors__contains=[error])
    if fraud_only:
        rows = rows.filter(is_fraud=True)
    return rows.order_by("-paid_at")


def masked_cards(card_ids: list[int]) -> dict[int, str]:
    """Brand and last four digits only (nothing else of a card is stored)."""
    return {card.pk: str(card) for card in PaymentCard.objects.filter(pk__in=card_ids)}


def view_version() -> str:
    """Changes whenever enriched_transactions can have changed: the newest finished ingest run or
    view refresh (two indexed lookups)."""
    from apps.jobs.models import JobRun
    from apps.transactions.models import IngestRun

    ingest = (
        IngestRun.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    refresh = (
        JobRun.objects.filter(kind="transactions.refresh_views", status="succeeded")
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return f"{ingest and ingest.timestamp()}:{refresh and refresh.timestamp()}"


def dashboard(*, period: str, method: str, mcc: str) -> dict:
    """Every breakdown of the dashboard for one filter. The view changes only when it is refreshed,
    so the figures are cached until then (an hour at most): the first visit after a refresh pays
    the seven scans of the view, the others read Redis."""
    from django.core.cache import cache

    key = f"ops:payments-dashboard:{view_version()}:{period}:{method}:{mcc}"
    found = cache.get(key)
    if found is not None:
        return found
    rows = filtered(period=period, method=method, mcc=mcc)
    result = {
        "totals": totals(rows),
        "hours": by_hour(rows),
        "categories": by_category(rows),
        "states": by_state(rows, limit=10),
        "methods": by_method(rows),
        "errors": by_error(period=period, method=method, mcc=mcc),
        "months": loss_by_month(rows),
    }
    cache.set(key, result, 3600)
    return result
