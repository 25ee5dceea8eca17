"""Job kinds of the intelligence app (found by apps.jobs.registry.discover): KPIs, rental and
payment fraud, revenue opportunities, maintenance, demand forecast, customer segments."""

import datetime as dt

from apps.intelligence import demand_forecast, kpis, maintenance, rental_fraud, revenue, segments
from apps.jobs.registry import JobContext, register


def _as_of(value: str) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _day(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _one_step(ctx: JobContext, note: str, run) -> dict:
    """A job that is one set-based statement: progress 0 of 1, then 1 of 1."""
    ctx.set_total(1, note=note)
    result = run()
    ctx.advance(1)
    return result


@register(
    "intelligence.customer_segments",
    title="Customer segments by recency, frequency and spend (RFM) over the last 12 months",
    params={"as_of": str},
    schedule="20 2 * * *",
)
def customer_segments_job(ctx: JobContext, *, as_of: str = "") -> dict:
    return _one_step(ctx, "rank customers", lambda: segments.customer_segments_refresh(as_of=_as_of(as_of)))


@register(
    "intelligence.rental_fraud",
    title="Rental fraud rules and anomaly scores per customer",
    params={"as_of": str},
    schedule="30 2 * * *",
)
def rental_fraud_job(ctx: JobContext, *, as_of: str = "") -> dict:
    return _one_step(ctx, "scan customers", lambda: rental_fraud.rental_fraud_run(as_of=_as_of(as_of)))


@register(
    "intelligence.payment_fraud",
    title="Payment fraud: train/evaluate the XGBoost model, score new payments, client events",
    params={"retrain": bool, "as_of": str},
    schedule="45 2 * * *",
)
def payment_fraud_job(ctx: JobContext, *, retrain: bool = False, as_of: str = "") -> dict:
    from apps.intelligence import payment_fraud

    def progress(scored: int) -> None:
        ctx.check_cancelled()
        ctx.set_progress(scored, note=f"{scored:,} payments scored")

    return payment_fraud.payment_fraud_run(retrain=retrain, as_of=_as_of(as_of), progress=progress)


@register(
    "intelligence.kpis",
    title="Store daily KPIs (revenue, rentals, utilisation, average rate)",
    params={"days": int, "last_day": str},
    schedule="15 2 * * *",
)
def kpis_job(ctx: JobContext, *, days: int = 7, last_day: str = "") -> dict:
    return _one_step(
        ctx,
        "store daily metrics upsert",
        lambda: kpis.store_daily_metrics_refresh(last_day=_day(last_day), days=days),
    )


@register(
    "intelligence.demand_forecast",
    title="7-day demand forecast per store, backtested against seasonal-naive",
    params={"as_of": str},
    schedule="30 5 * * *",
)
def demand_forecast_job(ctx: JobContext, *, as_of: str = "") -> dict:
    ctx.set_total(2, note="backtest")

    def progress(note: str) -> None:
        ctx.check_cancelled()
        ctx.advance(1, note=note)

    result = demand_forecast.demand_forecast_run(as_of=_day(as_of), progress=progress)
    ctx.advance(1, note="forecast stored")
    return result


@register(
    "intelligence.revenue",
    title="Revenue opportunities: under- and over-priced vehicles",
    params={"as_of": str},
    schedule="0 5 * * *",
)
def revenue_job(ctx: JobContext, *, as_of: str = "") -> dict:
    return _one_step(ctx, "rank vehicles", lambda: revenue.revenue_opportunities_sync(as_of=_as_of(as_of)))


@register(
    "intelligence.maintenance",
    title="Predictive maintenance: next service per vehicle, queue and events",
    params={"as_of": str},
    schedule="15 5 * * *",
)
def maintenance_job(ctx: JobContext, *, as_of: str = "") -> dict:
    return _one_step(ctx, "forecast services", lambda: maintenance.maintenance_forecast_refresh(as_of=_day(as_of)))
