import datetime as dt

from apps.jobs.registry import JobContext, register
from apps.regions import services


@register(
    "intelligence.kpis",
    title="Store daily KPIs (revenue, rentals, utilisation, average rate)",
    params={"days": int, "last_day": str},
    schedule="15 2 * * *",
)
def kpis(ctx: JobContext, *, days: int = 7, last_day: str = "") -> dict:
    ctx.set_total(1, note="store daily metrics upsert")
    result = services.store_daily_metrics_refresh(
        last_day=dt.date.fromisoformat(last_day) if last_day else None, days=days
    )
    ctx.advance(1)
    return result


@register(
    "intelligence.demand_forecast",
    title="7-day demand forecast per store, backtested against seasonal-naive",
    params={"as_of": str},
    schedule="30 5 * * *",
)
def demand_forecast(ctx: JobContext, *, as_of: str = "") -> dict:
    ctx.set_total(2, note="backtest")

    def progress(note: str) -> None:
        ctx.check_cancelled()
        ctx.advance(1, note=note)

    result = services.demand_forecast_run(as_of=dt.date.fromisoformat(as_of) if as_of else None, progress=progress)
    ctx.advance(1, note="forecast stored")
    return result
