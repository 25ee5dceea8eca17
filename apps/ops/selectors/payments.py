"""The payments fraud dashboard over the enriched_transactions view: rate and loss by hour, by
merchant category (with counts and the Wilson interval, ranked by the rate shrunk toward the
overall one), by merchant state, by channel and by error, loss over time, the payment-fraud
model against the rule baseline, and the payments behind a bar. The periods end with the newest
payment. Every chart of every period, channel and category comes from two scans of the view
(selectors/sql/payments_dashboard.sql), made when an ingest loads payments
(payments_dashboards_precompute)."""

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max, QuerySet

from apps.common.sql import fetch_dicts, statement
from apps.customers.models import PaymentCard
from apps.intelligence.payment_fraud import payment_fraud_model_latest
from apps.transactions.models import EnrichedTransaction, MerchantCategory, Payment
from apps.transactions.selectors import PRIOR_FRAUDS, wilson_interval

PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}
METHODS = {"chip": "Chip", "swipe": "Swipe", "online": "Online"}
# Precomputed figures stay until the next ingest replaces them (or the cache lets them go).
PRECOMPUTED_SECONDS = 3 * 24 * 3600
logger = logging.getLogger(__name__)


def filtered(*, period: str = "365", method: str = "", mcc: str = "") -> QuerySet[EnrichedTransaction]:
    """The view's rows of the period (ending with the newest payment), channel and category."""
    rows = EnrichedTransaction.objects.all()
    days = PERIODS.get(period)
    newest = newest_payment() if days else None
    if newest:
        rows = rows.filter(paid_at__gte=newest - dt.timedelta(days=days))
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


def _ranked(stats: list[dict], limit: int | None) -> list[dict]:
    stats.sort(key=lambda s: (-(s["shrunk"] or 0), -s["frauds"], str(s["key"])))
    return stats[:limit] if limit else stats


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
    key = f"ops:payments-categories:{view_version()}"
    found = cache.get(key)
    if found is None:
        used = EnrichedTransaction.objects.order_by().values_list("mcc", flat=True).distinct()
        found = list(MerchantCategory.objects.filter(code__in=used).order_by("code").values_list("code", "description"))
        cache.set(key, found, 3600)
    return found


LIST_FIELDS = ("id", "paid_at", "amount", "method", "mcc", "mcc_description", "merchant_city", "merchant_state",
               "card_id", "customer_id", "is_fraud", "fraud_score")  # fmt: skip


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
    # Only what the list shows: the view then joins no customer and no card (a sort by amount of
    # every payment read three times less).
    return rows.order_by("-paid_at").only(*LIST_FIELDS)


def payment_count(
    *, period: str, method: str, mcc: str, hour: int | None, state: str, error: str, fraud_only: bool
) -> int | None:
    """How many payments payment_list returns, read from the dashboard's cached figures when the
    list is a drill-down on at most one of hour, state and error (as the dashboard's links are);
    None when those figures are not cached or do not answer it (the list then counts its rows)."""
    if sum(x is not None and x != "" for x in (hour, state, error)) > 1:
        return None
    found = cache.get(_dashboard_key(mcc))
    if found is None:
        return None
    figures = found.get(f"{period if period in PERIODS else '365'}:{method if method in METHODS else ''}")
    if figures is None:
        return None
    field = "frauds" if fraud_only else "payments"
    if hour is not None:
        wanted, stats = hour, figures["hours"]
    elif state:
        wanted, stats = ("" if state == "online" else state), figures["states"]  # the ten shown
    elif error:
        wanted, stats = error, figures["errors"]
    else:
        return figures["totals"][field]
    return next((s[field] for s in stats if s["key"] == wanted), None)


def masked_cards(card_ids: list[int]) -> dict[int, str]:
    """Brand and last four digits only (nothing else of a card is stored)."""
    return {card.pk: str(card) for card in PaymentCard.objects.filter(pk__in=card_ids)}


def view_version() -> str:
    """Changes whenever an ingest has loaded payments: the newest finished ingest run (an indexed
    lookup)."""
    from apps.transactions.models import IngestRun

    ingest = (
        IngestRun.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return f"{ingest and ingest.timestamp()}"


def _newest() -> dt.datetime | None:
    # Read from the payments themselves: the view has every payment (its joins are on foreign
    # keys), and on the table the maximum is one probe of an index per month (payment_newest_idx),
    # where through the view's joins PostgreSQL would scan every payment.
    return Payment.objects.aggregate(newest=Max("paid_at"))["newest"]


def newest_payment() -> dt.datetime | None:
    """When the newest payment in the view was made: the periods end there (cached with the view)."""
    key = f"ops:payments-newest:{view_version()}"
    found = cache.get(key)
    if found is None:
        found = _newest() or ""
        cache.set(key, found, 3600)
    return found or None


def _add(total: dict, row: dict) -> None:
    for name in ("payments", "labelled", "frauds"):
        total[name] = total.get(name, 0) + row[name]
    if row["loss"] is not None:
        total["loss"] = (total.get("loss") or Decimal("0")) + row["loss"]
    total.setdefault("loss", None)


def _summed(rows: list[dict], key) -> dict:
    """Sums the counts and loss of rows by key(row), in the order keys are first met."""
    found: dict = {}
    for row in rows:
        _add(found.setdefault(key(row), {}), row)
    return found


def _figures(parts: dict[str, list[dict]], errors: list[dict], ages: set[int], method: str) -> dict:
    """One dashboard (a period's ages, a channel or any) from the breakdown rows of every period
    and channel (by part): the charts the old one-query-per-chart selectors returned."""

    def keep(row):
        return row["age"] in ages and (not method or row["method"] == method)

    parts = {part: [r for r in parts.get(part, ()) if keep(r)] for part in ("hour", "category", "state", "month")}
    empty = {"payments": 0, "labelled": 0, "frauds": 0, "loss": None}
    hours = _summed(parts["hour"], lambda r: r["hour_of_day"])
    totals = {**empty, **_summed(parts["hour"], lambda r: "all").get("all", {})}
    methods = _summed(parts["hour"], lambda r: r["method"])
    categories = _summed(parts["category"], lambda r: (r["mcc"], r["mcc_description"]))
    states = _summed(parts["state"], lambda r: r["merchant_state"])
    months = _summed(parts["month"], lambda r: r["month"])
    by_error = _summed([r for r in errors if keep(r)], lambda r: r["error"])
    return {
        "totals": _stats([{**totals, "k": "all"}], "k", lambda r: "all")[0],
        "hours": _stats(
            [{"hour_of_day": h, **hours.get(h, empty)} for h in range(24)],
            "hour_of_day",
            lambda r: f"{r['hour_of_day']:02d}:00",
        ),
        "categories": _ranked(
            _stats(
                [{"mcc": m, "mcc_description": d, **v} for (m, d), v in categories.items()],
                "mcc",
                lambda r: f"{r['mcc']} {r['mcc_description'][:40]}",
            ),
            15,
        ),
        "states": _ranked(
            _stats(
                [{"merchant_state": k, **v} for k, v in states.items()],
                "merchant_state",
                lambda r: r["merchant_state"] or "online",
            ),
            10,
        ),
        "methods": _stats(
            [{"method": m, **methods.get(m, empty)} for m in METHODS], "method", lambda r: METHODS[r["method"]]
        ),
        "errors": _ranked(
            _stats([{"error": k, **v} for k, v in sorted(by_error.items())], "error", lambda r: r["error"]), None
        ),
        "months": [{"month": m, **v} for m, v in sorted(months.items())],
    }


# The ages (see sql/payments_dashboard.sql) whose rows make up each period.
PERIOD_AGES = {"30": {30}, "90": {30, 90}, "365": {30, 90, 365}, "all": {0, 30, 90, 365}}


def _breakdowns(*, mcc: str) -> tuple[list[dict], list[dict]]:
    """The rows of the two scans (sql/payments_dashboard.sql) of every payment or of one category's."""
    newest = _newest()
    if newest is None:
        return [], []
    params = {
        "mcc": mcc,
        "tz": settings.TIME_ZONE,
        **{f"since_{d}": newest - dt.timedelta(days=d) for d in (30, 90, 365)},
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner expects a group per row (11 M groups estimated for 5 M payments) and sorts
        # every payment three times for the grouping sets; there are some tens of thousands of
        # groups. With room to hash them all it reads the payments once: 13 s instead of 50 s for
        # the two scans of 5 M payments; the hash table, sized from the estimate, then takes about
        # 350 MB of that backend's memory for the statement.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL hash_mem_multiplier = 16")
        rows = fetch_dicts(statement(__name__, "payments_dashboard.sql", "breakdowns"), params)
        errors = fetch_dicts(statement(__name__, "payments_dashboard.sql", "errors"), params)
    return rows, errors


def _dashboards_of(rows: list[dict], errors: list[dict]) -> dict[str, dict]:
    parts: dict[str, list[dict]] = {}
    for row in rows:
        parts.setdefault(row["part"], []).append(row)
    return {
        f"{period}:{method}": _figures(parts, errors, ages, method)
        for period, ages in PERIOD_AGES.items()
        for method in ["", *METHODS]
    }


def dashboards(*, mcc: str = "") -> dict[str, dict]:
    """Every period's and channel's dashboard for one category ("" for all), keyed "period:method",
    from two scans of the view."""
    rows, errors = _breakdowns(mcc=mcc)
    return _dashboards_of([r for r in rows if not r["by_category"]], errors)


def dashboards_every_category() -> dict[str, dict[str, dict]]:
    """The dashboards of all payments ("") and of every category (by its code), each keyed as
    dashboards() keys them, from the same two scans of the view."""
    rows, errors = _breakdowns(mcc="")
    found = {"": _dashboards_of([r for r in rows if not r["by_category"]], errors)}
    per_category: dict[str, tuple[list, list]] = {}
    for row in rows:
        # a category's own charts, and its one bar of the category chart
        if row["by_category"] or row["part"] == "category":
            per_category.setdefault(row["mcc"], ([], []))[0].append(row)
    for row in errors:
        per_category.setdefault(row["mcc"], ([], []))[1].append(row)
    for mcc, (own_rows, own_errors) in per_category.items():
        found[mcc] = _dashboards_of(own_rows, own_errors)
    return found


def _dashboard_key(mcc: str, version: str | None = None) -> str:
    return f"ops:payments-dashboard:{version or view_version()}:{mcc}"


def dashboard(*, period: str, method: str, mcc: str) -> dict:
    """Every breakdown of the dashboard for one filter. Payments arrive by ingest runs: each
    computes the dashboards of every period and channel (payments_dashboards_precompute) and
    every category's, and they are read from the cache until the next one; figures lost from the
    cache are computed again by their first viewer (all periods and channels together)."""
    key = _dashboard_key(mcc)
    found = cache.get(key)
    if found is None:
        found = dashboards(mcc=mcc)
        cache.set(key, found, 3600)
    return found[f"{period if period in PERIODS else '365'}:{method if method in METHODS else ''}"]


def payments_dashboards_precompute(**kwargs) -> None:
    """Receiver of the transactions hook sent after an ingest loaded payments: computes the
    dashboards of every period, channel and category then, so that no viewer waits for the scans,
    and forgets the older figures. A failure here leaves the figures to the first viewer; it never
    fails the ingest."""
    try:
        cache.delete_pattern("*ops:payments-*")
        version = view_version()
        cache.set_many(
            {_dashboard_key(mcc, version): figures for mcc, figures in dashboards_every_category().items()},
            PRECOMPUTED_SECONDS,
        )
        categories()
        newest_payment()
    except Exception:
        logger.exception("could not precompute the payments dashboards")
